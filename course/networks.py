"""The pretrained networks the course knows: keras.applications backbones and the TF Hub catalogue, as data.

`BACKBONES` says, for each `keras.applications` network the lessons may use, its constructor, the module
holding its `preprocess_input`, the image size its ImageNet weights were trained at, the smallest it
accepts, and the names and hashes of its weights files in Keras' cache. `MODELS` is lesson 06's TF Hub
catalogue. Nothing here imports TensorFlow or another course module but `paths`, so parameter checks can
offer these names as choices.
"""

from __future__ import annotations

import difflib
import numbers
from dataclasses import dataclass

from . import paths

#: Where Keras downloads its application weights from (`keras.applications`, any Keras 3 version).
KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"

#: What `choose_backbone` falls back to, best first: the two MobileNets the offline mirror holds.
FALLBACKS = ("mobilenet_100", "mobilenet_025")

#: The network that stands in, with random weights, when smoke mode finds no weights at all.
SMOKE_STAND_IN = "mobilenet_025"


def fallback_order() -> tuple[str, ...]:
    """`FALLBACKS`, best first; in smoke mode the smallest first (it only checks that the code runs, fast)."""
    return FALLBACKS[::-1] if paths.is_smoke() else FALLBACKS


@dataclass(frozen=True)
class Backbone:
    name: str
    constructor: str  # attribute of keras.applications
    module: str  # keras.applications sub-module holding preprocess_input
    image_size: int  # the size its ImageNet weights were trained at
    min_size: int
    weights_file: str  # file name in the Keras cache (no top)
    kwargs: tuple = ()
    notes: str = ""
    top_file: str = ""  # the same network with its ImageNet classifier
    folder: str = ""  # its folder under KERAS_WEIGHTS_URL
    md5: str | None = None  # Keras' published md5 of weights_file; None: Keras checks none
    top_md5: str | None = None

    @property
    def shapes(self) -> dict[bool, tuple]:
        """What its weights files hold, by `include_top`: (layers with weights, first array's shape, last's)."""
        return SHAPES[self.name]


BACKBONES: dict[str, Backbone] = {
    b.name: b
    for b in [
        Backbone("mobilenet_025", "MobileNet", "mobilenet", 224, 32, "mobilenet_2_5_224_tf_no_top.h5",
                 (("alpha", 0.25),), "218k parameters, about 50% ImageNet top-1: the course's smoke backbone",
                 "mobilenet_2_5_224_tf.h5", "mobilenet"),
        Backbone("mobilenet_100", "MobileNet", "mobilenet", 224, 32, "mobilenet_1_0_224_tf_no_top.h5",
                 (("alpha", 1.0),), "3.2M parameters, about 71% ImageNet top-1: the course's offline backbone",
                 "mobilenet_1_0_224_tf.h5", "mobilenet"),
        Backbone("mobilenet_v2", "MobileNetV2", "mobilenet_v2", 224, 32,
                 "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5", (), "2.3M parameters",
                 "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5", "mobilenet_v2"),
        Backbone("resnet50", "ResNet50", "resnet50", 224, 32,
                 "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", (), "23.6M parameters",
                 "resnet50_weights_tf_dim_ordering_tf_kernels.h5", "resnet",
                 "4d473c1dd8becc155b73f8504c6f6626", "2cb95161c43110f7111970584f804107"),
        Backbone("vgg19", "VGG19", "vgg19", 224, 32, "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", (),
                 "20M parameters, slow on a CPU", "vgg19_weights_tf_dim_ordering_tf_kernels.h5", "vgg19",
                 "253f8cb515780f3b799900260a226db6", "cbe5617147190e668d6c5d5026f83318"),
        Backbone("inception_v3", "InceptionV3", "inception_v3", 299, 75,
                 "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5", (), "21.8M parameters",
                 "inception_v3_weights_tf_dim_ordering_tf_kernels.h5", "inception_v3",
                 "bcbd6486424b2319ff4ef7d526e38f63", "9a0d58056eeedaa3f26cb7ebd46da564"),
        Backbone("efficientnet_v2_s", "EfficientNetV2S", "efficientnet_v2", 384, 32, "efficientnetv2-s_notop.h5",
                 (), "20M parameters; rescales inputs itself", "efficientnetv2-s.h5", "efficientnet_v2",
                 "af0682fb74e8c54910f2d4393339c070", "e1d88a8495beba45748fedd0cecbe016"),
    ]
}


#: What each network's ImageNet weights files hold, without and with the classifier (`include_top`): how many
#: layers carry weights, the shape of the first array and of the last. Read off the networks Keras builds
#: (`tests/test_networks.py` checks them), they tell a file of another network saved under this one's name.
SHAPES: dict[str, dict[bool, tuple]] = {
    "mobilenet_025": {False: (54, (3, 3, 3, 8), (256,)), True: (55, (3, 3, 3, 8), (1000,))},
    "mobilenet_100": {False: (54, (3, 3, 3, 32), (1024,)), True: (55, (3, 3, 3, 32), (1000,))},
    "mobilenet_v2": {False: (104, (3, 3, 3, 32), (1280,)), True: (105, (3, 3, 3, 32), (1000,))},
    "resnet50": {False: (106, (7, 7, 3, 64), (2048,)), True: (107, (7, 7, 3, 64), (1000,))},
    "vgg19": {False: (16, (3, 3, 3, 64), (512,)), True: (19, (3, 3, 3, 64), (1000,))},
    "inception_v3": {False: (188, (3, 3, 3, 32), (192,)), True: (189, (3, 3, 3, 32), (1000,))},
    "efficientnet_v2_s": {False: (280, (3, 3, 3, 24), (1280,)), True: (281, (3, 3, 3, 24), (1000,))},
}


@dataclass(frozen=True)
class WeightsFile:
    """One file Keras keeps in `models/`: its name, where Keras downloads it, Keras' md5 if it has one."""

    file: str
    url: str
    md5: str | None = None
    shapes: tuple | None = None  # (layers with weights, first array's shape, last's): see SHAPES
    network: str = ""  # "MobileNet 0.25 without its classifier", for messages


#: ImageNet's 1,000 class names for `decode_predictions`, as Keras downloads and md5-checks them.
CLASS_INDEX = WeightsFile("imagenet_class_index.json",
                          "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
                          "c2c37ea517e94d9795004a39431a14cb")


def weights_file(name: str, include_top: bool = False) -> WeightsFile:
    """The ImageNet weights file of backbone `name` (with its classifier when `include_top`)."""
    spec = BACKBONES[name]
    file = spec.top_file if include_top else spec.weights_file
    return WeightsFile(file, f"{KERAS_WEIGHTS_URL}{spec.folder}/{file}", spec.top_md5 if include_top else spec.md5,
                       spec.shapes[include_top], f"{name} {'with' if include_top else 'without'} its classifier")


def check_backbone(name: str, image_size: int | None = None) -> int:
    """Check BACKBONE and IMAGE_SIZE before any work; return the image size to use.

    Cheap (no Keras, no weights): call it right after the parameters cell so that a typo stops the
    notebook in its first seconds. Raises `ValueError` naming the parameter and what to set it to.
    """
    if not isinstance(name, str) or name not in BACKBONES:
        close = difflib.get_close_matches(str(name), BACKBONES, n=2, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"Unknown backbone BACKBONE={name!r}.{hint} Set BACKBONE to one of: {', '.join(BACKBONES)}.")
    spec = BACKBONES[name]
    return check_image_size(name, image_size, spec.image_size, spec.min_size)


def check_image_size(name: str, image_size, own_size: int, min_size: int) -> int:
    """IMAGE_SIZE for the model `name`: None -> its own size; refuses non-integers and sizes below `min_size`."""
    if image_size is None:
        return own_size
    if isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral):
        raise ValueError(f"IMAGE_SIZE must be a whole number of pixels, or None for {name}'s own size "
                         f"({own_size}); got {image_size!r} ({type(image_size).__name__}).")
    if image_size < min_size:
        raise ValueError(f"{name} needs images of at least {min_size}x{min_size} pixels; got "
                         f"IMAGE_SIZE={image_size}. Set IMAGE_SIZE to {min_size} or more, or None for its "
                         f"own size ({own_size}).")
    return int(image_size)



# --- the TF Hub catalogue (lesson 06) ------------------------------------------------------------

#: Handles that start with this prefix are exported locally from the keras.applications backbone <rest>.
EXPORT_PREFIX = "export:"


@dataclass(frozen=True)
class HubModel:
    """One model of the picker: its handle, the image size it was trained at, and what to know about it."""

    name: str
    handle: str
    image_size: int
    licence: str = "Apache-2.0"
    notes: str = ""
    min_size: int = 32

    @property
    def is_remote(self) -> bool:
        return not self.handle.startswith(EXPORT_PREFIX)


_TFHUB = "https://tfhub.dev/google/imagenet/"


def _catalogue() -> list[HubModel]:
    """The original tutorial's model list (tfhub.dev feature vectors, inputs in [0, 1]) plus the offline one."""
    models = [
        HubModel("mobilenet_025", EXPORT_PREFIX + "mobilenet_025", 224, "Apache-2.0 (Keras Applications weights)",
                 "MobileNet alpha 0.25, 218k parameters, exported here from keras.applications: works offline"),
        # Trained at 224 px but fed 288: a network reads images a little larger than its training crops better
        # (Touvron et al. 2019, "Fixing the train-test resolution discrepancy"); measured in notebook 06 on
        # the flowers and on four folders of grocery photos: +0 to +2.7 points, never worse.
        HubModel("mobilenet_100", EXPORT_PREFIX + "mobilenet_100", 288, "Apache-2.0 (Keras Applications weights)",
                 "MobileNet alpha 1.0, 3.2M parameters, trained at 224 px, fed 288; exported here from "
                 "keras.applications: works offline"),
    ]
    v2_sizes = {"s": 384, "m": 480, "l": 480, "xl": 512, "b0": 224, "b1": 240, "b2": 260, "b3": 300}
    for variant, size in v2_sizes.items():
        if variant != "xl":
            models.append(HubModel(f"efficientnetv2-{variant}", f"{_TFHUB}efficientnet_v2_imagenet1k_{variant}/feature_vector/2",
                                   size, notes="EfficientNetV2, ImageNet-1k"))
        models.append(HubModel(f"efficientnetv2-{variant}-21k", f"{_TFHUB}efficientnet_v2_imagenet21k_{variant}/feature_vector/2",
                               size, notes="EfficientNetV2, ImageNet-21k"))
        models.append(HubModel(f"efficientnetv2-{variant}-21k-ft1k",
                               f"{_TFHUB}efficientnet_v2_imagenet21k_ft1k_{variant}/feature_vector/2",
                               size, notes="EfficientNetV2, ImageNet-21k fine-tuned on ImageNet-1k"))
    for i, size in enumerate([224, 240, 260, 300, 380, 456, 528, 600]):
        models.append(HubModel(f"efficientnet_b{i}", f"https://tfhub.dev/tensorflow/efficientnet/b{i}/feature-vector/1",
                               size, notes="EfficientNet (v1)"))
    models += [
        HubModel("bit_s-r50x1", "https://tfhub.dev/google/bit/s-r50x1/1", 224, notes="Big Transfer ResNet-50x1"),
        HubModel("inception_v3", f"{_TFHUB}inception_v3/feature-vector/4", 299, min_size=75),
        HubModel("inception_resnet_v2", f"{_TFHUB}inception_resnet_v2/feature-vector/4", 299, min_size=75),
    ]
    for version in ("v1", "v2"):
        for depth in (50, 101, 152):
            models.append(HubModel(f"resnet_{version}_{depth}", f"{_TFHUB}resnet_{version}_{depth}/feature-vector/4", 224))
    models += [
        HubModel("nasnet_large", f"{_TFHUB}nasnet_large/feature_vector/4", 331),
        HubModel("nasnet_mobile", f"{_TFHUB}nasnet_mobile/feature_vector/4", 224),
        HubModel("pnasnet_large", f"{_TFHUB}pnasnet_large/feature_vector/4", 331),
    ]
    for width in ("100", "130", "140"):
        models.append(HubModel(f"mobilenet_v2_{width}_224", f"{_TFHUB}mobilenet_v2_{width}_224/feature_vector/4", 224,
                               notes="MobileNetV2: small and fast, a good first choice on a CPU"))
    for kind in ("small", "large"):
        for width in ("100", "075"):
            models.append(HubModel(f"mobilenet_v3_{kind}_{width}_224",
                                   f"{_TFHUB}mobilenet_v3_{kind}_{width}_224/feature_vector/5", 224, notes="MobileNetV3"))
    return models


#: The model picker's choices, by name. tfhub.dev handles now redirect to Kaggle Models, which
#: `tensorflow_hub` follows; each model's licence is on its page there.
MODELS: dict[str, HubModel] = {m.name: m for m in _catalogue()}


