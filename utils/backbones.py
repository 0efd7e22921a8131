"""Pretrained ImageNet backbones from `keras.applications`, found offline when they can be.

Weights are looked up in the same order as datasets: the mirror (`$COURSE_DATA_DIR/keras_home/models/`),
Keras' cache (`$KERAS_HOME/models/`), a Keras download (checksummed by Keras), and in smoke mode only
random weights, announced. Full mode without weights stops with a clear error.
"""

from __future__ import annotations

import difflib
import numbers
from dataclasses import dataclass

from . import data, env


@dataclass(frozen=True)
class Backbone:
    name: str
    constructor: str  # attribute of keras.applications
    module: str  # keras.applications sub-module holding preprocess_input
    image_size: int  # the size its ImageNet weights were trained at
    min_size: int
    weights_file: str  # file name in the Keras cache
    kwargs: tuple = ()
    notes: str = ""


BACKBONES: dict[str, Backbone] = {
    b.name: b
    for b in [
        Backbone("mobilenet_025", "MobileNet", "mobilenet", 224, 32, "mobilenet_2_5_224_tf_no_top.h5",
                 (("alpha", 0.25),), "218k parameters, about 50% ImageNet top-1: the course's smoke backbone"),
        Backbone("mobilenet_100", "MobileNet", "mobilenet", 224, 32, "mobilenet_1_0_224_tf_no_top.h5",
                 (("alpha", 1.0),), "3.2M parameters, about 71% ImageNet top-1: the course's offline backbone"),
        Backbone("mobilenet_v2", "MobileNetV2", "mobilenet_v2", 224, 32,
                 "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5", (), "2.3M parameters"),
        Backbone("resnet50", "ResNet50", "resnet50", 224, 32,
                 "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", (), "23.6M parameters"),
        Backbone("vgg19", "VGG19", "vgg19", 224, 32, "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", (),
                 "20M parameters, slow on a CPU"),
        Backbone("inception_v3", "InceptionV3", "inception_v3", 299, 75,
                 "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5", (), "21.8M parameters"),
        Backbone("efficientnet_v2_s", "EfficientNetV2S", "efficientnet_v2", 384, 32, "efficientnetv2-s_notop.h5",
                 (), "20M parameters; rescales inputs itself"),
    ]
}


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


def find_weights(name: str) -> tuple[str | None, str]:
    """(weights argument for keras.applications, description of where they come from)."""
    check_backbone(name)
    spec = BACKBONES[name]
    mirror = data.mirror_dir()
    in_mirror = f"keras_home/models/{spec.weights_file}"
    candidates = [("mirror", mirror / in_mirror, data.mirror_label(in_mirror))] if mirror else []
    cached = data.keras_home() / "models" / spec.weights_file
    candidates.append(("cache", cached, str(cached)))
    for where, path, description in candidates:
        if path.is_file():
            return str(path), f"ImageNet weights, {where} {description}"
    if not env.is_offline():
        return "imagenet", "ImageNet weights, Keras download"
    if env.is_smoke():
        return None, "RANDOM weights (stand-in: no ImageNet weights offline)"
    raise data.DataUnavailableError(
        f"No ImageNet weights for {name!r} offline: {spec.weights_file} is not in "
        f"{mirror / 'keras_home/models' if mirror else 'a mirror (COURSE_DATA_DIR not set)'} "
        f"nor in {data.keras_home() / 'models'}. Fix: run `python -m utils download imagenet:{name}` with "
        f"internet, or use BACKBONE='mobilenet_025' if only its weights are available. {data.HELP}"
    )


def load_backbone(name: str, image_size: int | None = None, *, pooling: str | None = "avg"):
    """A headless ImageNet backbone and its `preprocess_input`.

    Returns `(model, preprocess_input)`. The model takes RGB images in [0, 255] of `image_size`
    (default: the backbone's own) after `preprocess_input`, and returns pooled features.
    """
    import keras

    size = check_backbone(name, image_size)  # before Keras builds anything or weights are looked up
    spec = BACKBONES[name]
    weights, where = find_weights(name)
    data.note_source(f"imagenet:{name}", where)
    if weights is None:
        bar = "!" * 78
        print(f"{bar}\n! {name}: {where}. Smoke mode only; transfer learning will not work.\n{bar}")
    constructor = getattr(keras.applications, spec.constructor)
    model = constructor(include_top=False, weights=weights, input_shape=(size, size, 3), pooling=pooling,
                        **dict(spec.kwargs))
    module = getattr(keras.applications, spec.module)
    return model, module.preprocess_input
