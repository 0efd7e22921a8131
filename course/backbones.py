"""Pretrained ImageNet backbones from `keras.applications`, chosen by what can be had.

Weights are looked up in the same order as datasets: the mirror (`$COURSE_DATA_DIR/keras_home/models/`),
Keras' cache (`$KERAS_HOME/models/`), then a download into Keras' cache (atomic, md5-checked where Keras
publishes a hash, and read back with HDF5 in every case), never when `COURSE_OFFLINE=1`. A file that is
cut short or damaged is named with its fix; a damaged copy in Keras' cache is set aside and downloaded
again. The file found is always loaded by path, so MobileNet's 224-pixel file serves every image size
(Keras itself would ask for other files at 128, 160 and 192 rows).

`choose_backbone` turns that into a decision: the network asked for when its weights can be had, else
`mobilenet_100`, else `mobilenet_025`, said in one line and recorded in `build/results.json`. Smoke mode
with nothing at all uses random weights, announced; full mode stops with `DataUnavailableError`.
"""

from __future__ import annotations

import difflib
import json
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

from . import data, paths

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
    top_size: int | None = None  # the only image size its top accepts (VGG's Flatten); None: any


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
                 "253f8cb515780f3b799900260a226db6", "cbe5617147190e668d6c5d5026f83318", 224),
        Backbone("inception_v3", "InceptionV3", "inception_v3", 299, 75,
                 "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5", (), "21.8M parameters",
                 "inception_v3_weights_tf_dim_ordering_tf_kernels.h5", "inception_v3",
                 "bcbd6486424b2319ff4ef7d526e38f63", "9a0d58056eeedaa3f26cb7ebd46da564"),
        Backbone("efficientnet_v2_s", "EfficientNetV2S", "efficientnet_v2", 384, 32, "efficientnetv2-s_notop.h5",
                 (), "20M parameters; rescales inputs itself", "efficientnetv2-s.h5", "efficientnet_v2",
                 "af0682fb74e8c54910f2d4393339c070", "e1d88a8495beba45748fedd0cecbe016"),
    ]
}


@dataclass(frozen=True)
class WeightsFile:
    """One file Keras keeps in `models/`: its name, where Keras downloads it, Keras' md5 if it has one."""

    file: str
    url: str
    md5: str | None = None


#: ImageNet's 1,000 class names for `decode_predictions`, as Keras downloads and md5-checks them.
CLASS_INDEX = WeightsFile("imagenet_class_index.json",
                          "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
                          "c2c37ea517e94d9795004a39431a14cb")


def weights_file(name: str, include_top: bool = False) -> WeightsFile:
    """The ImageNet weights file of backbone `name` (with its classifier when `include_top`)."""
    spec = BACKBONES[name]
    file = spec.top_file if include_top else spec.weights_file
    return WeightsFile(file, f"{KERAS_WEIGHTS_URL}{spec.folder}/{file}", spec.top_md5 if include_top else spec.md5)


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


# --- finding weights: mirror, Keras' cache, a download ------------------------------------------

_CHECKED: dict[tuple, str | None] = {}  # (path, size, mtime) -> problem or None, so a file is read once


def check_weights_file(path: Path, md5: str | None = None) -> str | None:
    """What is wrong with a weights (or class index) file, or None when it is sound.

    With Keras' md5 the file must match it. Without one (MobileNet, MobileNetV2, and copies made for a
    mirror), HDF5 must open it and read every array: a file cut short fails there.
    """
    path = Path(path)
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, md5)
    if key not in _CHECKED:
        _CHECKED[key] = _problem(path, md5)
    return _CHECKED[key]


def _problem(path: Path, md5: str | None) -> str | None:
    if path.stat().st_size == 0:
        return "it is empty"
    if md5 is not None:
        actual = data.file_checksum(path, "md5")
        return None if actual == md5 else f"md5 {actual}, expected Keras' {md5}"
    if path.suffix == ".json":
        try:
            json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as err:
            return f"not valid JSON ({err})"
        return None
    import h5py

    def read(_, obj):
        if isinstance(obj, h5py.Dataset):
            obj[()]  # reading every array finds a file cut short

    try:
        with h5py.File(path, "r") as f:
            if "layer_names" not in f.attrs and "model_weights" not in f:
                return "not a Keras weights file (no layer_names)"
            f.visititems(read)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        return f"HDF5 cannot read it: {str(err).splitlines()[0]}"
    return None


def _raise_if_damaged(md5: str | None):
    def check(path: Path) -> None:
        problem = _problem(Path(path), md5)
        if problem:
            raise data.ChecksumError(f"the downloaded file is damaged ({problem}); it was deleted")

    return check


_WARNED: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        print(f"! {message}")


def search(wanted: WeightsFile, *, download: bool = True) -> tuple[Path | None, str]:
    """Find `wanted`: (path, where it was found) or (None, why it cannot be had here).

    Order: the mirror, Keras' cache, a download into Keras' cache (not when `COURSE_OFFLINE=1`, nor
    with `download=False`). A damaged mirror file is reported with its fix and skipped (the mirror is
    the instructor's); a damaged cached file is set aside as `<name>.damaged` and downloaded again.
    """
    problems = []
    mirror = paths.mirror_dir()
    if mirror is not None:
        rel = f"keras_home/models/{wanted.file}"
        path = mirror / rel
        if path.is_file():
            problem = check_weights_file(path, wanted.md5)
            if problem is None:
                return path, f"mirror {paths.mirror_label(rel)}"
            problems.append(f"the mirror's copy is damaged: {problem}")
            _warn_once(str(path), f"{paths.mirror_label(rel)} is damaged ({problem}) and is not used. Fix: copy "
                                  f"it again from where the mirror came from, or run `python -m course download "
                                  f"{_download_name(wanted)} --to $COURSE_DATA_DIR` with internet.")
    cached = paths.keras_home() / "models" / wanted.file
    if cached.is_file():
        problem = check_weights_file(cached, wanted.md5)
        if problem is None:
            return cached, f"cache {cached}"
        aside = cached.with_name(cached.name + ".damaged")
        os.replace(cached, aside)
        problems.append(f"Keras' cached copy was damaged ({problem}) and was set aside")
        again = "downloading it again" if download and not paths.is_offline() else "not downloaded again here"
        print(f"! {cached} was damaged ({problem}): moved to {aside.name} (delete it when you like); {again}.")
    if not problems:
        problems.append("not in the mirror or Keras' cache" if mirror else "not in Keras' cache, and no mirror is set")
    if paths.is_offline() or not download:
        problems.append("COURSE_OFFLINE=1: no download tried" if paths.is_offline() else "no download tried")
        return None, "; ".join(problems)
    try:
        path = _fetch(wanted, cached)
    except data.DOWNLOAD_ERRORS as err:
        problems.append(f"the download failed ({err})")
        return None, "; ".join(problems)
    return path, f"downloaded to {path}"


def _fetch(wanted: WeightsFile, dest: Path) -> Path:
    remote = data.Remote(wanted.url, f"md5:{wanted.md5}" if wanted.md5 else None)
    return data.fetch(remote, dest, check=_raise_if_damaged(wanted.md5))


def download_weights(wanted: WeightsFile, models_dir: Path | None = None) -> Path:
    """Download `wanted` into `models_dir` (default: Keras' cache) unless a sound copy is there already."""
    dest = Path(models_dir or paths.keras_home() / "models") / wanted.file
    if dest.is_file() and check_weights_file(dest, wanted.md5) is None:
        return dest
    return _fetch(wanted, dest)


def downloadable() -> dict[str, WeightsFile]:
    """What `python -m course download` knows besides datasets: `imagenet:<backbone>` (no top),
    `imagenet_top:<backbone>` (with its ImageNet classifier) and `imagenet:class_index`."""
    files = {f"imagenet:{n}": weights_file(n) for n in BACKBONES}
    files.update({f"imagenet_top:{n}": weights_file(n, include_top=True) for n in BACKBONES})
    files["imagenet:class_index"] = CLASS_INDEX
    return files


def _download_name(wanted: WeightsFile) -> str:
    for spec in BACKBONES.values():
        if wanted.file == spec.weights_file:
            return f"imagenet:{spec.name}"
        if wanted.file == spec.top_file:
            return f"imagenet_top:{spec.name}"
    return "imagenet:class_index"


def find_weights(name: str, include_top: bool = False) -> tuple[str | None, str]:
    """(weights argument for keras.applications, description of where they come from).

    The argument is the path of a sound weights file, or None (random weights) in smoke mode when none
    can be had. Full mode without weights raises `DataUnavailableError` naming the fix.
    """
    check_backbone(name)
    wanted = weights_file(name, include_top)
    path, where = search(wanted)
    top = " with its ImageNet top" if include_top else ""
    if path is not None:
        return str(path), f"ImageNet weights{top}, {where}"
    if paths.is_smoke():
        return None, f"RANDOM weights (stand-in: no ImageNet weights{top} here: {where})"
    raise data.DataUnavailableError(
        f"No ImageNet weights{top} for {name!r}: {wanted.file} cannot be had here ({where}).\n"
        f"Fix: run `python -m course download {_download_name(wanted)}` on a machine with internet (add "
        f"`--to <mirror>` to fill a workshop mirror), or use a backbone whose weights are here (the offline "
        f"mirror has {' and '.join(FALLBACKS)}; `utils.choose_backbone({name!r})` picks the best one that can "
        f"be had). {data.HELP}"
    )


def _announce_random(name: str, where: str) -> None:
    data.announce(f"{name}: {where}. Smoke mode only; transfer learning will not work.")


def choose_backbone(preferred: str, *, include_top: bool = False) -> str:
    """`preferred` when its ImageNet weights can be had, else the first of `fallback_order()` whose can.

    "Can be had" is decided by trying: a sound file in the mirror or Keras' cache, or a download that
    works (never by a flag: without network the download fails fast and the next network is tried).
    A substitution is printed in one line and recorded (`build/results.json`). Smoke mode tries the
    smallest fallback first, and with nothing at all uses `mobilenet_025` with random weights,
    announced; full mode then raises `DataUnavailableError` naming the fix. `include_top=True` asks
    for the network with its ImageNet classifier (`load_classifier`).
    """
    check_backbone(preferred)
    top = " with its ImageNet top" if include_top else ""
    label = f"choice:{preferred}" + (":top" if include_top else "")
    why = {}
    for name in (preferred, *[f for f in fallback_order() if f != preferred]):
        path, where = search(weights_file(name, include_top))
        if path is None:
            why[name] = where
            continue
        if name != preferred:
            print(f"! {preferred}'s ImageNet weights{top} cannot be had here ({why[preferred]}); using {name} "
                  f"instead ({where}).")
            data.note_source(label, f"{name} instead: {preferred}'s weights cannot be had ({why[preferred]})")
        return name
    others = ", ".join(n for n in why if n != preferred)
    if paths.is_smoke():
        stand_in = SMOKE_STAND_IN
        print(f"! No ImageNet weights{top} can be had here for {preferred} ({why[preferred]}), nor for {others}: "
              f"smoke mode uses {stand_in} with RANDOM weights (a stand-in: its numbers mean nothing).")
        data.note_source(label, f"{stand_in} with RANDOM weights instead: no ImageNet weights can be had "
                                f"({why[preferred]})")
        return stand_in
    raise data.DataUnavailableError(
        f"No ImageNet weights{top} can be had here for {preferred} ({why[preferred]}), nor for {others}.\n"
        f"Fix: connect to the internet (Keras downloads them), or run `python -m course download "
        f"{_download_name(weights_file(FALLBACKS[0], include_top))}` on a machine with internet (add `--to "
        f"<mirror>` for a workshop mirror) and set COURSE_DATA_DIR to that mirror. {data.HELP}"
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
        _announce_random(name, where)
    constructor = getattr(keras.applications, spec.constructor)
    model = constructor(include_top=False, weights=weights, input_shape=(size, size, 3), pooling=pooling,
                        **dict(spec.kwargs))
    module = getattr(keras.applications, spec.module)
    return model, module.preprocess_input


def load_classifier(name: str, image_size: int | None = None):
    """The complete ImageNet classifier (`include_top=True`) and its `preprocess_input`.

    Its 1,000 outputs are ImageNet probabilities; `decode_predictions` names them. Weights are found by
    the same rule as `load_backbone` (random in smoke mode when none can be had, announced).
    """
    import keras

    size = check_backbone(name, image_size)
    spec = BACKBONES[name]
    if spec.top_size and size != spec.top_size:
        raise ValueError(f"{name}'s ImageNet classifier takes {spec.top_size}x{spec.top_size} images only (its "
                         f"top flattens the feature map); got IMAGE_SIZE={size}. Set IMAGE_SIZE to {spec.top_size}.")
    weights, where = find_weights(name, include_top=True)
    data.note_source(f"imagenet:{name}:top", where)
    if weights is None:
        _announce_random(f"{name} classifier", where)
    constructor = getattr(keras.applications, spec.constructor)
    model = constructor(include_top=True, weights=weights, input_shape=(size, size, 3), **dict(spec.kwargs))
    return model, getattr(keras.applications, spec.module).preprocess_input


_CLASS_NAMES: dict[str, list[str]] = {}


def imagenet_class_index() -> dict[str, list[str]]:
    """ImageNet's class index (`{"0": ["n01440764", "tench"], ...}`), found like weights (offline too)."""
    if not _CLASS_NAMES:
        path, where = search(CLASS_INDEX)
        if path is not None:
            _CLASS_NAMES.update(json.loads(Path(path).read_text()))
            data.note_source("imagenet:class_index", f"real, {where}")
        elif paths.is_smoke():
            _CLASS_NAMES.update({str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)})
            print(f"! STAND-IN ImageNet class names (class_0 ... class_999): {where}.")
            data.note_source("imagenet:class_index", f"STAND-IN (numbered names: {where})")
        else:
            raise data.DataUnavailableError(
                f"ImageNet's class index cannot be had here ({where}). Fix: run `python -m course download "
                f"imagenet:class_index` on a machine with internet (add `--to <mirror>` for a workshop "
                f"mirror). {data.HELP}")
    return dict(_CLASS_NAMES)


def decode_predictions(predictions, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """Like `keras.applications.imagenet_utils.decode_predictions`, but finds the class index offline.

    `predictions`: (batch, 1000) ImageNet probabilities. Returns, per image, the `top` classes as
    `(wordnet id, name, probability)`, most probable first.
    """
    import numpy as np

    predictions = np.asarray(predictions)
    if predictions.ndim != 2 or predictions.shape[1] != 1000:
        raise ValueError(f"decode_predictions expects ImageNet predictions of shape (batch, 1000); got "
                         f"{predictions.shape}")
    index = imagenet_class_index()
    return [[(*index[str(i)], float(row[i])) for i in np.argsort(row)[::-1][:top]] for row in predictions]


def weights_sha256(path: str | Path) -> str:
    """The sha256 of a weights file (what keys the hub exports made from it)."""
    return data.file_checksum(Path(path), "sha256")
