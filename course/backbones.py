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

import functools
import json
from pathlib import Path

from . import data, downloads, paths, record, storage
from .networks import (
    BACKBONES,
    CLASS_INDEX,
    FALLBACKS,
    SMOKE_STAND_IN,
    WeightsFile,
    check_backbone,
    fallback_order,
    weights_file,
)

# --- finding weights: mirror, Keras' cache, a download ------------------------------------------


def check_weights_file(path: Path, md5: str | None = None, shapes: tuple | None = None) -> str | None:
    """What is wrong with a weights (or class index) file, or None when it is sound.

    With Keras' md5 the file must match it. Without one (MobileNet, MobileNetV2, and copies made for a
    mirror), HDF5 must open it and read every array (a file cut short fails there), and what it holds must
    be the network it is named for (`shapes`: see `course.networks.SHAPES`), not another network's weights
    saved under this name. A file is read once per process while its size and modification time stay the same.
    """
    path = Path(path)
    stat = path.stat()
    return _checked(str(path), stat.st_size, stat.st_mtime_ns, md5, shapes)


@functools.lru_cache(maxsize=64)
def _checked(path: str, _size: int, _mtime: int, md5: str | None, shapes: tuple | None) -> str | None:
    return _problem(Path(path), md5, shapes)


def held_shapes(f) -> tuple:
    """(layers with weights, first array's shape, last array's shape) of an open Keras weights file."""
    group = f["model_weights"] if "model_weights" in f else f
    weighted = []
    for name in group.attrs["layer_names"]:
        layer = group[name.decode() if isinstance(name, bytes) else name]
        arrays = [w.decode() if isinstance(w, bytes) else w for w in layer.attrs.get("weight_names", [])]
        if arrays:
            weighted.append((layer[arrays[0]].shape, layer[arrays[-1]].shape))
    return (len(weighted), tuple(weighted[0][0]), tuple(weighted[-1][1])) if weighted else (0, (), ())


def _architecture(expected: tuple | None):
    def problem(f) -> str | None:
        if "layer_names" not in f.attrs and "model_weights" not in f:
            return "not a Keras weights file (no layer_names)"
        found = held_shapes(f)
        if expected is not None and found != tuple(expected):
            return (f"it holds another network's weights: {found[0]} layers with weights, the first array "
                    f"{found[1]} and the last {found[2]}, where this file's network has {expected[0]}, "
                    f"{tuple(expected[1])} and {tuple(expected[2])}")
        return None

    return problem


def _problem(path: Path, md5: str | None, shapes: tuple | None = None) -> str | None:
    if path.stat().st_size == 0:
        return "it is empty"
    if md5 is not None:
        actual = downloads.file_checksum(path, "md5")
        return None if actual == md5 else f"md5 {actual}, expected Keras' {md5}"
    if path.suffix == ".json":
        try:
            json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as err:
            return f"not valid JSON ({err})"
        return None
    return storage.hdf5_problem(path, _architecture(shapes))


def _raise_if_damaged(md5: str | None, shapes: tuple | None = None):
    def check(path: Path) -> None:
        problem = _problem(Path(path), md5, shapes)
        if problem:
            raise downloads.ChecksumError(f"the downloaded file is damaged ({problem}); it was deleted")

    return check


def search(wanted: WeightsFile, *, download: bool = True) -> tuple[Path | None, str]:
    """Find `wanted`: (path, where it was found) or (None, why it cannot be had here).

    Order: the mirror, Keras' cache, a download into Keras' cache (not when `COURSE_OFFLINE=1`, nor
    with `download=False`). A damaged mirror file is reported with its fix and skipped (the mirror is
    the instructor's); a damaged cached file is set aside as `<name>.damaged-<time>` and downloaded again.
    """
    problems = []
    mirror = paths.mirror_dir()
    if mirror is not None:
        rel = f"keras_home/models/{wanted.file}"
        path = mirror / rel
        if path.is_file():
            problem = check_weights_file(path, wanted.md5, wanted.shapes)
            if problem is None:
                return path, f"mirror {paths.mirror_label(rel)}"
            problems.append(f"the mirror's copy is damaged: {problem}")
            record.current().warn_once(str(path), f"{paths.mirror_label(rel)} is damaged ({problem}) and is not used. Fix: copy "
                                  f"it again from where the mirror came from, or run `python -m course download "
                                  f"{_download_name(wanted)} --to $COURSE_DATA_DIR` with internet.")
    cached = paths.keras_home() / "models" / wanted.file
    if cached.is_file():
        problem = check_weights_file(cached, wanted.md5, wanted.shapes)
        if problem is None:
            return cached, f"cache {paths.label(cached)}"
        aside = storage.set_aside(cached)
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
    except downloads.DOWNLOAD_ERRORS as err:
        problems.append(f"the download failed ({err})")
        return None, "; ".join(problems)
    return path, f"downloaded to {paths.label(path)}"


def _fetch(wanted: WeightsFile, dest: Path) -> Path:
    remote = downloads.Remote(wanted.url, f"md5:{wanted.md5}" if wanted.md5 else None)
    return downloads.fetch(remote, dest, check=_raise_if_damaged(wanted.md5, wanted.shapes))


def download_weights(wanted: WeightsFile, models_dir: Path | None = None) -> Path:
    """Download `wanted` into `models_dir` (default: Keras' cache) unless a sound copy is there already."""
    dest = Path(models_dir or paths.keras_home() / "models") / wanted.file
    if dest.is_file() and check_weights_file(dest, wanted.md5, wanted.shapes) is None:
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
    for the network with its ImageNet classifier (lesson 04 builds it with `imagenet_weights`).
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
            record.current().note_source(label, f"{name} instead: {preferred}'s weights cannot be had ({why[preferred]})")
        return name
    others = ", ".join(n for n in why if n != preferred)
    if paths.is_smoke():
        stand_in = SMOKE_STAND_IN
        print(f"! No ImageNet weights{top} can be had here for {preferred} ({why[preferred]}), nor for {others}: "
              f"smoke mode uses {stand_in} with RANDOM weights (a stand-in: its numbers mean nothing).")
        record.current().note_source(label, f"{stand_in} with RANDOM weights instead: no ImageNet weights can be had "
                                f"({why[preferred]})")
        return stand_in
    raise data.DataUnavailableError(
        f"No ImageNet weights{top} can be had here for {preferred} ({why[preferred]}), nor for {others}.\n"
        f"Fix: connect to the internet (Keras downloads them), or run `python -m course download "
        f"{_download_name(weights_file(FALLBACKS[0], include_top))}` on a machine with internet (add `--to "
        f"<mirror>` for a workshop mirror) and set COURSE_DATA_DIR to that mirror. {data.HELP}"
    )


def imagenet_weights(name: str, include_top: bool = False) -> str | None:
    """The `weights=` argument for `keras.applications` network `name`: the path of its ImageNet weights file.

    Found in the mirror, Keras' cache or by a download, checked, and recorded with where it came from.
    In smoke mode with no weights anywhere it is None (random weights), announced; in full mode that stops
    with `DataUnavailableError` naming the fix. Loading by path also lets MobileNet's 224-pixel file serve
    every image size.
    """
    weights, where = find_weights(name, include_top)
    record.current().note_source(f"imagenet:{name}" + (":top" if include_top else ""), where)
    if weights is None:
        _announce_random(f"{name} classifier" if include_top else name, where)
    return weights


def load_backbone(name: str, image_size: int | None = None, *, pooling: str | None = "avg"):
    """A headless ImageNet backbone and its `preprocess_input`.

    Returns `(model, preprocess_input)`. The model takes RGB images in [0, 255] of `image_size`
    (default: the backbone's own) after `preprocess_input`, and returns pooled features.
    """
    import keras

    size = check_backbone(name, image_size)  # before Keras builds anything or weights are looked up
    spec = BACKBONES[name]
    weights, where = find_weights(name)
    record.current().note_source(f"imagenet:{name}", where)
    if weights is None:
        _announce_random(name, where)
    constructor = getattr(keras.applications, spec.constructor)
    model = constructor(include_top=False, weights=weights, input_shape=(size, size, 3), pooling=pooling,
                        **dict(spec.kwargs))
    module = getattr(keras.applications, spec.module)
    return model, module.preprocess_input


def imagenet_class_index() -> dict[str, list[str]]:
    """ImageNet's class index (`{"0": ["n01440764", "tench"], ...}`), found like weights (offline too)."""
    path, where = search(CLASS_INDEX)
    if path is not None:
        record.current().note_source("imagenet:class_index", f"real, {where}")
        return dict(_read_index(str(path)))
    if paths.is_smoke():
        record.current().warn_once("class_index", f"STAND-IN ImageNet class names (class_0 ... class_999): {where}.")
        record.current().note_source("imagenet:class_index", f"STAND-IN (numbered names: {where})")
        return {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    raise data.DataUnavailableError(
        f"ImageNet's class index cannot be had here ({where}). Fix: run `python -m course download "
        f"imagenet:class_index` on a machine with internet (add `--to <mirror>` for a workshop "
        f"mirror). {data.HELP}")


@functools.lru_cache(maxsize=4)
def _read_index(path: str) -> dict[str, list[str]]:
    return json.loads(Path(path).read_text())


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
