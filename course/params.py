"""Every notebook parameter the course has, its valid values, and one check for all of them.

    utils.check_parameters(globals())   # the cell right after a notebook's `parameters` cell

A parameter has the same meaning in every notebook that uses it (`EPOCHS` is always a whole number of
epochs, at least 1), so `SPECS` lists each name once; `NOTEBOOK_SPECS` overrides a name where one notebook
accepts other values (notebook 02 knows how to fine-tune only some backbones; 05 and 06 accept
`IMAGE_SIZE = None` for the network's own size). `python -m course run -p NAME=VALUE` checks the same specs
before any kernel starts.

Checks that need the data (one photo per class, a subset larger than the dataset) happen where the data
is seen: `course.subsets` and the data layer raise the same `ParameterError`, naming the parameter.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import paths, runs


class ParameterError(ValueError):
    """A parameter's value is outside what the course accepts; the message names it, the range and an example."""


@dataclass(frozen=True)
class Spec:
    """What one parameter accepts.

    `kind`: "int", "float", "bool", "str", "path", "list" (a list of `item`). Numbers have bounds `low`/`high`
    (inclusive unless `low_open`/`high_open`); `choices` is a tuple, or a function returning one (looked up
    only when needed: the hub catalogue imports TensorFlow). `none` says what None means, if allowed.
    """

    kind: str
    description: str
    example: object
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    none: str = ""
    choices: tuple | Callable[[], tuple] | None = None
    item: Spec | None = None
    unique: bool = False

    def allowed(self) -> str:
        """The valid values in words: "a whole number >= 1, or None (every image)"."""
        if self.kind == "bool":
            text = "True or False"
        elif self.kind == "list":
            text = f"a non-empty list of {self.item.allowed()}" + (", each at most once" if self.unique else "")
        elif self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.options())
        elif self.kind in ("int", "float"):
            text = "a whole number" if self.kind == "int" else "a number"
            low = f"{'>' if self.low_open else '>='} {self.low:g}" if self.low is not None else ""
            high = f"{'<' if self.high_open else '<='} {self.high:g}" if self.high is not None else ""
            if low and high:
                text += f" in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
            elif low or high:
                text += f" {low or high}"
        elif self.kind == "path":
            text = "a folder path (a string)"
        else:
            text = "a string"
        if self.none:
            text += f", or None ({self.none})"
        return text

    def options(self) -> tuple:
        return tuple(self.choices()) if callable(self.choices) else tuple(self.choices or ())


def _hub_models() -> tuple:
    from .hub import MODELS

    return tuple(MODELS)


def _backbones() -> tuple:
    from .backbones import BACKBONES

    return tuple(BACKBONES)


def _int(description, example, low=None, high=None, none=""):
    return Spec("int", description, example, low=low, high=high, none=none)


def _fraction(description, example, *, low_open=True, high_open=True, low=0.0, high=1.0):
    return Spec("float", description, example, low=low, high=high, low_open=low_open, high_open=high_open)


def _rate(description, example):
    return Spec("float", description, example, low=0.0, high=1.0, low_open=True)


def _bool(description, example=True):
    return Spec("bool", description, example)


_EPOCHS = "training epochs (passes over the training data)"

#: Every parameter of every notebook, by name. A new parameter needs an entry (a test checks it).
SPECS: dict[str, Spec] = {
    # mode: computed from COURSE_SMOKE; `python -m course run` sets it with --full, never with -p
    "SMOKE": _bool("smoke mode: tiny subsets, 1-2 epochs (set by COURSE_SMOKE / `python -m course run --full`)", False),
    # training length and batches
    "EPOCHS": _int(_EPOCHS, 5, low=1),
    "HEAD_EPOCHS": _int(f"{_EPOCHS} of the new classifier head", 5, low=1),
    "FINE_TUNE_EPOCHS": _int(f"{_EPOCHS} while fine-tuning the backbone", 3, low=1),
    "HEAD_L2": Spec("list", "L2 penalty strengths of the new layer, one chosen on the validation split",
                    [1e-3, 1e-2], item=Spec("float", "L2 strength", 1e-3, low=0.0, high=1.0, low_open=True), unique=True),
    "SCRATCH_EPOCHS": _int(f"{_EPOCHS} of the same network trained from random weights", 3, low=1),
    "ORIGINAL_EPOCHS": _int(f"{_EPOCHS} of the original tutorial's model", 3, low=1),
    "ORIGINAL_STEPS": _int("training steps per epoch of the original tutorial's model", 10, low=1),
    "EXPERIMENT_EPOCHS": _int(f"{_EPOCHS} of each learning-rate experiment", 4, low=1),
    "DECAY_EPOCHS": _int("epochs between two learning-rate decays", 2, low=1),
    "PATIENCE": _int("epochs without a better validation loss before early stopping (0: stop at the first)", 5,
                     low=0),
    "BATCH_SIZE": _int("images per training step", 32, low=1, high=65536),
    # learning rates
    "INITIAL_LR": _rate("learning rate at the start of training", 0.01),
    "LEARNING_RATE": _rate("the optimizer's learning rate", 1e-3),
    "HEAD_LR": _rate("learning rate of the head (fine-tuning uses a tenth of it)", 3e-3),
    "FINE_TUNE_LR": _rate("learning rate while fine-tuning the backbone", 1e-4),
    "SCRATCH_LR": _rate("learning rate of the network trained from random weights", 1e-3),
    "HEAD_LEARNING_RATE": _rate("learning rate of the classifier head", 1e-2),
    "FINE_TUNE_LEARNING_RATE": _rate("learning rate while fine-tuning the feature extractor", 1e-4),
    "DECAY_RATE": _fraction("factor applied to the learning rate at each decay (1: no decay)", 0.8,
                            high_open=False),
    # the network
    "LAYER_SIZES": Spec("list", "units of each hidden layer", [512, 512],
                        item=Spec("int", "units", 512, low=1, high=100_000)),
    "DROPOUT": _fraction("share of units dropped while training (0: no dropout)", 0.3, low_open=False),
    "SHIFT": _fraction("largest random shift, as a share of the image side (0: none)", 0.08, low_open=False),
    "BACKBONE": Spec("str", "pretrained ImageNet network (see utils.BACKBONES)", "mobilenet_025",
                     choices=_backbones),
    "MODEL_NAME": Spec("str", "TF Hub model from the catalogue (course.hub.MODELS)", "mobilenet_025",
                       choices=_hub_models),
    "IMAGE_SIZE": _int("side in pixels of the square images the network sees", 224, low=32, high=1024),
    "FINE_TUNE": _bool("fine-tune the backbone after training the head"),
    "FINE_TUNE_FRACTION": _fraction("share of the backbone's layers (from the top) that fine-tuning changes", 0.25,
                                    high_open=False),
    "AUGMENT": _bool("augment the training images (random flips, crops, ...)"),
    "AUGMENTED": Spec("list", "models trained a second time with augmentation", ["1 conv", "transfer: frozen"],
                      item=Spec("str", "model", "1 conv", choices=("1 conv", "3 conv", "4 conv", "transfer: frozen",
                                                                   "transfer: fine-tuned")), unique=True),
    "AUGMENTED_COPIES": _int("augmented copies of the training images", 2, low=1, high=100),
    "MIN_CROP_AREA": _fraction("smallest share of the photo a random crop keeps", 0.5, high_open=False),
    "ZOOM": _fraction("largest random zoom-in, as a share of each side (0: none)", 0.2, low_open=False),
    "BRIGHTNESS": _fraction("largest random brightness change, as a share of full scale (0: none)", 0.2,
                            low_open=False, high_open=False),
    "TTA": _bool("average the predictions over each image and its mirror image"),
    # data: how much, and how it is split
    "TRAIN_LIMIT": _int("training images used (the first ones)", 1000, low=1, none="every training image"),
    "TEST_LIMIT": _int("test images used (the first ones)", 1000, low=1, none="every test image"),
    "EXPERIMENT_IMAGES": _int("training images used by the learning-rate experiment", 3000, low=1),
    "IMAGES_PER_CLASS": _int("photos used per class (the first ones); at least 2, one to train on and one to "
                             "validate", 20, low=2, none="every photo"),
    "PER_CLASS": _int("images used per class and split", 10, low=1, none="every image"),
    "VALIDATION_SPLIT": _fraction("share of the photos held out for validation", 0.2),
    "VAL_FRACTION": _fraction("share of the training photos held out for validation", 0.2),
    "DATA_DIR": Spec("path", "your photos: a folder with one sub-folder per class ('': the course's flower photos)",
                     "/path/to/photos"),
    "SKIP_BAD_IMAGES": _bool("leave out (and list) photos that cannot be read, instead of stopping"),
    # plots, benchmarks, embeddings
    "N_DRAWS": _int("random draws shown next to each original", 6, low=1, high=50),
    "BENCH_IMAGES": _int("images per timed pass", 64, low=1, none="every image in the folder"),
    "BENCH_REPEATS": _int("timed passes per pipeline", 3, low=1),
    "BENCH_WARMUP": _int("untimed passes before timing", 1, low=0),
    "TSNE_POINTS": _int("points t-SNE places (at most; the projector shows them all)", 500, low=10),
    "TSNE_ITERATIONS": _int("t-SNE optimisation steps (scikit-learn's minimum is 250)", 500, low=250),
    "RUN_EAGERLY": _bool("run Keras step by step instead of as a graph (faster for a few steps)", False),
}

#: Where one notebook accepts other values for a name (keyed by the notebook's number).
NOTEBOOK_SPECS: dict[str, dict[str, Spec]] = {
    "02": {
        "BACKBONE": Spec("str", "the transfer model's network (one whose last block the notebook knows)", "vgg19",
                         choices=("vgg19", "mobilenet_100", "mobilenet_025")),
    },
    "05": {"IMAGE_SIZE": _int(SPECS["IMAGE_SIZE"].description, 224, low=32, high=1024, none="the backbone's own size")},
    "06": {"IMAGE_SIZE": _int(SPECS["IMAGE_SIZE"].description, 224, low=32, high=1024, none="the model's own size")},
}


def _number(notebook: str | None) -> str | None:
    match = re.match(r"(\d\d)", Path(str(notebook)).name) if notebook else None
    return match.group(1) if match else None


def spec_for(name: str, notebook: str | None = None) -> Spec | None:
    """The spec of `name` in `notebook` ("04", "04_hotdog_fine_tuning" or None for the course-wide one)."""
    return NOTEBOOK_SPECS.get(_number(notebook) or "", {}).get(name) or SPECS.get(name)


def _example(name: str, spec: Spec) -> str:
    return f"{name} = {spec.example!r} (or `-p {name}={spec.example}` with python -m course run)"


def _type_name(value) -> str:
    return type(value).__name__


def _is_bool(value) -> bool:
    return isinstance(value, bool) or (type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"))


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not _is_bool(value)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not _is_bool(value)


def _value_problem(spec: Spec, value) -> str | None:
    """Why `value` does not fit `spec` (without the parameter's name); None if it fits."""
    if value is None:
        return None if spec.none else "None is not allowed here"
    if spec.kind == "bool":
        return None if _is_bool(value) else "not True or False"
    if spec.kind == "int":
        if not _is_int(value):
            whole = _is_real(value) and math.isfinite(value) and float(value).is_integer()
            return "not a whole number" + (f" (write {int(value)}, without the decimal point)" if whole else "")
    elif spec.kind == "float":
        if not _is_real(value):
            return "not a number"
        if not math.isfinite(value):
            return "not a finite number"
    elif spec.kind in ("str", "path"):
        if not isinstance(value, str):
            return "not a string"
    elif spec.kind == "list":
        if not isinstance(value, (list, tuple)):
            return "not a list"
        if not value:
            return "an empty list"
        for i, item in enumerate(value):
            problem = _value_problem(spec.item, item)
            if problem:
                return f"item {i} ({item!r}) is {problem}"
        if spec.unique and len(set(value)) != len(value):
            return "a list with repeated items"
        return None
    if spec.choices is not None:
        options = spec.options()
        if value not in options:
            import difflib

            close = difflib.get_close_matches(str(value), [str(o) for o in options], n=2, cutoff=0.6)
            return "not one of the choices" + (f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else "")
        return None
    if spec.kind in ("int", "float"):
        if spec.low is not None and (value < spec.low or (spec.low_open and value == spec.low)):
            return "too small"
        if spec.high is not None and (value > spec.high or (spec.high_open and value == spec.high)):
            return "too large"
    return None


def problem(name: str, value, notebook: str | None = None) -> str | None:
    """The full message for a bad value of `name` (range, description, example); None if it is valid or unknown."""
    spec = spec_for(name, notebook)
    if spec is None:
        return None
    why = _value_problem(spec, value)
    if why is None:
        return None
    shown = repr(value) if len(repr(value)) < 80 else repr(value)[:77] + "..."
    return (f"{name}={shown} ({_type_name(value)}) is {why}. {name} ({spec.description}) must be "
            f"{spec.allowed()}. Example: {_example(name, spec)}")


def check_value(name: str, value, notebook: str | None = None):
    """Return `value` if it is valid for `name`, else raise `ParameterError` with the full message."""
    message = problem(name, value, notebook)
    if message:
        raise ParameterError(message)
    return value


@lru_cache(maxsize=1)
def declared_parameters() -> dict[str, tuple[str, ...]]:
    """Each course notebook's parameter names, in order, read from its `parameters`-tagged cell."""
    found = {}
    for path in sorted((paths.REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError):
            continue
        for cell in cells:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                source = "".join(cell["source"])
                found[path.stem] = tuple(re.findall(r"^([A-Za-z_]\w*)\s*=", source, flags=re.M))
                break
    return found


def _guess_notebook(namespace: Mapping) -> str | None:
    """The notebook whose parameters are all in `namespace` (the one with the most, if several)."""
    fits = [(len(names), stem) for stem, names in declared_parameters().items() if set(names) <= set(namespace)]
    return max(fits)[1] if fits else None


def check_parameters(namespace: Mapping, notebook: str | None = None) -> dict:
    """Check every parameter in `namespace` (a notebook's `globals()`); record and return the checked values.

    Call it in the cell right after the `parameters` cell, where papermill's `-p` values have arrived.
    Raises `ParameterError` naming the first parameter out of range, with its valid values and an example.
    `notebook` ("04" or a file stem) selects a notebook's own specs; by default it is recognised from
    the parameter names. The checked values are recorded with `course.runs.set_run_parameters`. A `SMOKE`
    edited in the parameters cell sets the mode the run is recorded in (`COURSE_SMOKE`), announced.
    """
    notebook = notebook or _guess_notebook(namespace)
    declared = declared_parameters().get(notebook or "", ())
    names = [n for n in declared if n in namespace] or [n for n in SPECS if n in namespace]
    checked = {}
    problems = []
    for name in names:
        message = problem(name, namespace[name], notebook)
        if message:
            problems.append(message)
        checked[name] = namespace[name]
    if problems:
        raise ParameterError("\n".join(problems))
    if "SMOKE" in checked and bool(checked["SMOKE"]) != paths.is_smoke():
        # Edited in the parameters cell (Jupyter, Colab): the defaults below it were computed from it, so the
        # run is what SMOKE says; record it so. (`python -m course run` refuses `-p SMOKE`: use --full.)
        os.environ["COURSE_SMOKE"] = "1" if checked["SMOKE"] else "0"
        print(f"SMOKE = {checked['SMOKE']!r} in the parameters cell: this run is {paths.mode()} mode "
              f"(COURSE_SMOKE={os.environ['COURSE_SMOKE']}), and its results are recorded as such.")
    runs.set_run_parameters(checked)
    return checked


def check_count(name: str, value, available: int, what: str) -> int:
    """A subset size `value` against the `available` items it is taken from; returns the number used.

    None means all of them. Larger than what is there is refused (the run would record a size it never
    used), naming the parameter and the largest value that works.
    """
    check_value(name, value)
    if value is None:
        return available
    if not _is_int(value) or value < 1:
        raise ParameterError(f"{name}={value!r} must be a whole number >= 1, or None for all {available:,} {what}.")
    if value > available:
        raise ParameterError(
            f"{name}={value} is more than the {available:,} {what}. Set {name} to at most {available:,}, "
            f"or None for all of them.")
    return int(value)
