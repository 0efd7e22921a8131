"""TensorFlow Hub models for lesson 06: a catalogue to pick from, and an offline export.

The lesson writes its own Keras 3 layer around `tensorflow_hub.load(handle)` (`hub.KerasLayer` is a tf_keras
layer and cannot be used in a Keras 3 model); this module only says which handle to load and at what size.

Without network (a laptop offline, a workshop mirror, the tests) tfhub.dev cannot be reached.
`pick_model` then falls back, by what can be had, to the catalogue entries `"mobilenet_100"` and
`"mobilenet_025"`: `export_backbone` writes the course's MobileNet (alpha 1.0 or 0.25) as a hub-format
SavedModel once, and the lesson loads it by path, through the same code as a tfhub.dev handle.
"""

from __future__ import annotations

import difflib
import http.client
import json
import logging
import os
import random
import shutil
import socket
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
import tensorflow_hub

from . import backbones, data, downloads, networks, paths, record, storage
from .networks import EXPORT_PREFIX, FALLBACKS, MODELS, HubModel


def availability(model: HubModel) -> tuple[bool, str]:
    """(True, where) when `model` can be loaded here, else (False, why not). Decided by trying.

    A local export needs its backbone's ImageNet weights (mirror, Keras' cache or a download); a
    tfhub.dev model must resolve (TF Hub's cache, or a download that works; never tried when
    `COURSE_OFFLINE=1`).
    """
    if not model.is_remote:
        path, where = backbones.search(networks.weights_file(model.handle.removeprefix(EXPORT_PREFIX)))
        return path is not None, where
    if paths.is_offline():
        return False, "COURSE_OFFLINE=1: no download tried"
    reason = downloads.unreachable(model.handle)
    if reason:
        return False, f"it cannot be downloaded ({reason})"
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(downloads.TIMEOUT)  # tensorflow_hub opens its connections without a timeout
    try:
        return True, f"TF Hub {tensorflow_hub.resolve(model.handle)}"
    except (OSError, ValueError, http.client.HTTPException, tf.errors.OpError) as err:
        downloads.note_unreachable(model.handle, err)
        return False, f"it cannot be downloaded ({err})"
    finally:
        socket.setdefaulttimeout(old)


def pick_model(name: str, image_size: int | None = None) -> tuple[HubModel, int]:
    """The catalogue entry to use for `name`, and the image size to use (default: the model's own).

    Raises `ValueError` naming the choices for an unknown name, or for an image size below what the
    model accepts. When `name` cannot be loaded here (no network for a tfhub.dev model, no weights for
    a local export) the first of `networks.fallback_order()` that can is used instead, said in one line and recorded
    in `build/results.json`. With none: smoke mode uses the `mobilenet_025` export with random weights
    (announced); full mode raises `DataUnavailableError` saying what to do.
    """
    if name not in MODELS:
        close = difflib.get_close_matches(name, MODELS, n=3)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"Unknown MODEL_NAME {name!r}.{hint} Choose one of: {', '.join(MODELS)}.")
    model = MODELS[name]
    size = networks.check_image_size(model.name, image_size, model.image_size, model.min_size)
    ok, why = availability(model)
    if ok:
        return model, size
    tried = [name]
    for fallback in (f for f in networks.fallback_order() if f != name):
        tried.append(fallback)
        other = MODELS[fallback]
        available, where = availability(other)
        if available:
            print(f"! {name} cannot be loaded here ({why}); using {fallback} instead ({where}).")
            record.current().note_source(f"choice:{name}", f"{fallback} instead: {name} cannot be loaded ({why})")
            return other, networks.check_image_size(other.name, image_size, other.image_size, other.min_size)
    if paths.is_smoke():
        stand_in = MODELS[networks.SMOKE_STAND_IN]
        print(f"! None of {', '.join(tried)} can be loaded here ({name}: {why}): smoke mode uses the "
              f"{stand_in.name} export with RANDOM weights (a stand-in: its numbers mean nothing).")
        record.current().note_source(f"choice:{name}", f"{stand_in.name} with RANDOM weights instead: {name} cannot be "
                                           f"loaded ({why})")
        return stand_in, networks.check_image_size(stand_in.name, image_size, stand_in.image_size,
                                                    stand_in.min_size)
    raise data.DataUnavailableError(
        f"MODEL_NAME={name!r} cannot be loaded here ({why}), and neither can the local exports "
        f"{' or '.join(FALLBACKS)} (no MobileNet ImageNet weights in the mirror or Keras' cache).\n"
        f"Fix: run with internet, or set COURSE_DATA_DIR to a mirror holding keras_home/models/"
        f"{networks.BACKBONES[FALLBACKS[0]].weights_file} (`python -m course download imagenet:{FALLBACKS[0]} "
        f"--to <mirror>` on a machine with internet). {data.HELP}"
    )


def hub_model(name: str, image_size: int | None = None) -> tuple[str, int]:
    """`(handle, image_size)` for catalogue model `name`: what `tensorflow_hub.load` gets, and the size to feed.

    The handle is the tfhub.dev address, or, offline, the folder of a local hub-format export of the
    mirror's MobileNet (`pick_model` says which, in one line, and records it).
    """
    model, size = pick_model(name, image_size)
    return resolve_handle(model), size


def resolve_handle(model: HubModel) -> str:
    """What `tensorflow_hub.load` gets: the tfhub.dev URL, or the path of the local export."""
    if model.is_remote:
        return model.handle
    return str(export_backbone(model.handle.removeprefix(EXPORT_PREFIX)))


# --- exporting a Keras model as a hub-format SavedModel -----------------------------------------------


def export_savedmodel(model: keras.Model, path: str | Path, *, image_size: int | None = None,
                      preprocess: Callable | None = None) -> Path:
    """Save a Keras image model the way TF Hub publishes feature vectors ("reusable SavedModel").

    The result takes float images in [0, 1] (`preprocess`, if given, receives them scaled to [0, 255]),
    and has what `tensorflow_hub.load` users expect: `__call__(images, training)` traced for both
    training values, `variables`, `trainable_variables`, `regularization_losses` and a `serving_default`
    signature. `image_size=None` accepts any height and width; an int fixes them, like many hub models.
    """
    path = Path(path)
    spec = tf.TensorSpec([None, image_size, image_size, 3], tf.float32, name="images")
    root = tf.train.Checkpoint()  # a tf.Module root cannot take a `variables` attribute
    root.variables = [v.value for v in model.variables]
    root.trainable_variables = [v.value for v in model.trainable_variables]
    root.regularization_losses = []

    @tf.function
    def call(images, training=False):
        x = preprocess(images * 255.0) if preprocess is not None else images
        return model(x, training=training)

    for training in (False, True):  # by keyword, as hub users call it (saving then re-traces less)
        call.get_concrete_function(spec, training=training)
    root.__call__ = call
    serving = tf.function(lambda images: {"feature_vector": call(images, training=False)}, input_signature=[spec])
    # no "INFO:tensorflow:Assets written to ..." in the lesson's output (a first run only: later ones find it cached)
    with paths.quiet_loggers(("tensorflow",), logging.WARNING):
        tf.saved_model.save(root, str(path), signatures={"serving_default": serving})
    return path


def hub_cache_dir() -> Path:
    """Where local exports are kept: `<course cache>/hub_models` (`COURSE_CACHE_DIR` or Keras' cache)."""
    return paths.cache_dir() / "hub_models"


#: Written last into every export: each file's size and sha256, so that a damaged export is recognised.
MANIFEST = "course_export.json"

#: Exports compute in float32 whatever the session's precision, like the models on tfhub.dev: an export
#: made under mixed precision would carry float16 maths into every later session (TFLite refuses it).
EXPORT_DTYPE = "float32"


def _inventory(folder: Path) -> dict[str, list]:
    return {p.relative_to(folder).as_posix(): [p.stat().st_size, downloads.file_checksum(p, "sha256")]
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


def export_problem(folder: str | Path) -> str | None:
    """What is wrong with a local export (a file missing, changed or cut short), or None when it is whole."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        expected = manifest["files"]
    except FileNotFoundError:
        return f"it has no {MANIFEST} (the export was interrupted, or made by an older version of the course)"
    except (ValueError, KeyError, TypeError, OSError) as err:
        return f"its {MANIFEST} is unreadable ({err})"
    if manifest.get("dtype") != EXPORT_DTYPE:
        return f"it computes in {manifest.get('dtype', 'an unknown precision')}, not {EXPORT_DTYPE}"
    actual = _inventory(folder)
    for rel, (size, digest) in expected.items():
        if rel not in actual:
            return f"{rel} is missing"
        if actual[rel][0] != size:
            return f"{rel} has {actual[rel][0]:,} bytes, {size:,} were written"
        if actual[rel][1] != digest:
            return f"{rel} changed since it was written"
    return None


#: The seed an export's network is built with (its random weights, when it has no ImageNet weights).
EXPORT_SEED = 1234


@contextmanager
def _random_state_of_its_own(seed: int = EXPORT_SEED):
    """Run the block with Python's and NumPy's global random state seeded with `seed`, then give the session
    its own state back.

    Building a network draws each layer's initializer seed from Python's `random`. Without this, a session
    that exports (the first run on a machine) would go on with another random state than a session that
    finds the export cached (every later run): its numbers would depend on the cache. With it, the session
    draws the same numbers either way, and an export's random weights are the same whoever made it.
    """
    python_state, numpy_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def export_backbone(name: str = "mobilenet_025") -> Path:
    """Export `backbones.load_backbone(name)` as a hub-format SavedModel once, and return its folder.

    The folder name records where the weights came from (a hash of the ImageNet weight file, or
    `random`), so an export made with stand-in random weights is never used once real weights exist.
    It always computes in float32 (`EXPORT_DTYPE`), whatever the session's precision policy. An export
    found damaged (checked against the manifest written with it) is set aside as `<name>.damaged-<time>`
    and made again.
    """
    weights, _ = backbones.find_weights(name)
    tag = f"imagenet-{downloads.file_checksum(Path(weights), 'sha256')[:12]}" if weights else "random"
    target = hub_cache_dir() / f"{name}-{tag}"
    downloads.clean_stale(hub_cache_dir())
    if target.exists():
        problem = export_problem(target)
        if problem is None:
            return target
        aside = storage.set_aside(target)
        print(f"! The TF Hub export {target} is damaged ({problem}): moved to {aside.name}; exporting it again.")
    print(f"Exporting {name} ({tag} weights) as a TF Hub SavedModel to {target} (once) ...")
    staging = target.with_name(f".{target.name}.exporting-{os.getpid()}")
    policy = keras.mixed_precision.global_policy()
    try:
        keras.mixed_precision.set_global_policy(EXPORT_DTYPE)  # built and traced in float32, also on a GPU
        with _random_state_of_its_own():  # the session draws the same numbers whether it exported or not
            model, preprocess = backbones.load_backbone(name)
            export_savedmodel(model, staging, preprocess=preprocess)
        (staging / MANIFEST).write_text(json.dumps({"backbone": name, "weights": tag, "dtype": EXPORT_DTYPE,
                                                    "files": _inventory(staging)}, indent=1))
        try:
            os.replace(staging, target)
        except OSError:  # another process finished the same export first: keep theirs
            pass
    finally:
        keras.mixed_precision.set_global_policy(policy)
        shutil.rmtree(staging, ignore_errors=True)
    return target
