"""Every lesson's parameters, their valid values, the sizes a test run uses, and one check for all of them.

    run = utils.start("01_mnist_dense", globals())   # the cell right after a lesson's `parameters` cell

`LESSONS` lists each lesson's parameters in the order of its parameters cell (a test keeps the two in
step). A parameter has the same meaning in every lesson that uses it (`EPOCHS` is always a whole number of
epochs, at least 1), so `SPECS` lists each name once; `LESSON_SPECS` overrides a name where one lesson
accepts other values (02 knows how to fine-tune only some backbones; 05 and 06 accept `IMAGE_SIZE = None`
for the network's own size). `SMOKE` holds the small sizes of test runs (`COURSE_SMOKE=1`: `pytest` and
`python -m course run` without `--full`), which `start` puts in place of the lesson's values and says so.
`python -m course run -p NAME=VALUE` checks the same specs before any kernel starts.

Checks that need the data (one photo per class, a subset larger than the dataset) happen where the data
is seen: the data layer raises the same `ParameterError`, naming the parameter.
"""

from __future__ import annotations

import ast
import difflib
import math
import numbers
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import networks, paths


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


def _int(description, example, low=None, high=None, none=""):
    return Spec("int", description, example, low=low, high=high, none=none)


def _fraction(description, example, *, low_open=True, high_open=True, low=0.0, high=1.0):
    return Spec("float", description, example, low=low, high=high, low_open=low_open, high_open=high_open)


def _rate(description, example):
    return Spec("float", description, example, low=0.0, high=1.0, low_open=True)


def _bool(description, example=True):
    return Spec("bool", description, example)


_EPOCHS = "training epochs (passes over the training data)"

#: Every parameter of every lesson, by name. A new parameter needs an entry (a test checks it).
SPECS: dict[str, Spec] = {
    # training length and batches
    "EPOCHS": _int(_EPOCHS, 5, low=1),
    "HEAD_EPOCHS": _int(f"{_EPOCHS} of the new classifier head", 5, low=1),
    "FINE_TUNE_EPOCHS": _int(f"{_EPOCHS} while fine-tuning the backbone", 3, low=1),
    "HEAD_L2": Spec("list", "L2 penalty strengths of the new layer, one chosen on the validation split",
                    [1e-3, 1e-2], item=Spec("float", "L2 strength", 1e-3, low=0.0, high=1.0, low_open=True), unique=True),
    "SCRATCH_EPOCHS": _int(f"{_EPOCHS} of the same network trained from random weights", 3, low=1),
    "ORIGINAL_EPOCHS": _int(f"{_EPOCHS} of the original tutorial's model", 3, low=1),
    "ORIGINAL_STEPS": _int("training steps per epoch of the original tutorial's model", 10, low=1),
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
    "BACKBONE": Spec("str", "pretrained ImageNet network (course/networks.py: BACKBONES)", "mobilenet_025",
                     choices=lambda: tuple(networks.BACKBONES)),
    "MODEL_NAME": Spec("str", "TF Hub model from the catalogue (course/networks.py: MODELS)", "mobilenet_025",
                       choices=lambda: tuple(networks.MODELS)),
    "IMAGE_SIZE": _int("side in pixels of the square images the network sees", 224, low=32, high=1024),
    "FINE_TUNE_FRACTION": _fraction("share of the backbone's layers (from the top) that fine-tuning changes", 0.25,
                                    high_open=False),
    "AUGMENT": _bool("augment the training images (random flips, crops, ...)"),
    "AUGMENTED_COPIES": _int("augmented copies of the training images", 2, low=1, high=100),
    "MIN_CROP_AREA": _fraction("smallest share of the photo a random crop keeps", 0.5, high_open=False),
    "ZOOM": _fraction("largest random zoom-in, as a share of each side (0: none)", 0.2, low_open=False),
    "BRIGHTNESS": _fraction("largest random brightness change, as a share of full scale (0: none)", 0.2,
                            low_open=False, high_open=False),
    # data: how much, and how it is split
    "TRAIN_LIMIT": _int("training images used (the first ones)", 1000, low=1, none="every training image"),
    "TEST_LIMIT": _int("test images used (the first ones)", 1000, low=1, none="every test image"),
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
}

#: Each lesson's parameters, in the order of its parameters cell.
LESSONS: dict[str, tuple[str, ...]] = {
    "01_mnist_dense": ("EPOCHS", "BATCH_SIZE", "LAYER_SIZES", "DROPOUT", "SHIFT", "INITIAL_LR", "DECAY_RATE",
                       "DECAY_EPOCHS", "ORIGINAL_EPOCHS", "TRAIN_LIMIT", "TEST_LIMIT"),
    "02_fashion_mnist_cnns": ("TRAIN_LIMIT", "TEST_LIMIT", "EPOCHS", "PATIENCE", "BATCH_SIZE", "LEARNING_RATE",
                              "BACKBONE", "IMAGE_SIZE", "FINE_TUNE_EPOCHS", "FINE_TUNE_LR", "AUGMENTED_COPIES",
                              "TSNE_POINTS", "TSNE_ITERATIONS"),
    "03_image_augmentation": ("N_DRAWS", "IMAGE_SIZE", "BATCH_SIZE", "ZOOM", "BRIGHTNESS", "TRAIN_LIMIT", "EPOCHS",
                              "TEST_LIMIT", "BENCH_IMAGES", "BENCH_REPEATS", "BENCH_WARMUP"),
    "04_hotdog_fine_tuning": ("BACKBONE", "IMAGE_SIZE", "IMAGES_PER_CLASS", "VAL_FRACTION", "BATCH_SIZE",
                              "ORIGINAL_EPOCHS", "ORIGINAL_STEPS", "MIN_CROP_AREA", "DROPOUT", "HEAD_LR",
                              "HEAD_EPOCHS", "FINE_TUNE_FRACTION", "FINE_TUNE_LR", "FINE_TUNE_EPOCHS", "SCRATCH_LR",
                              "SCRATCH_EPOCHS", "SKIP_BAD_IMAGES"),
    "05_grocery_retrain": ("BACKBONE", "IMAGE_SIZE", "PER_CLASS", "BATCH_SIZE", "HEAD_EPOCHS", "HEAD_L2",
                           "FINE_TUNE_FRACTION", "FINE_TUNE_LR", "FINE_TUNE_EPOCHS"),
    "06_hub_transfer_learning": ("MODEL_NAME", "DATA_DIR", "SKIP_BAD_IMAGES", "AUGMENT", "BATCH_SIZE",
                                 "VALIDATION_SPLIT", "IMAGE_SIZE", "IMAGES_PER_CLASS", "HEAD_EPOCHS",
                                 "FINE_TUNE_EPOCHS", "HEAD_LEARNING_RATE", "FINE_TUNE_LEARNING_RATE", "PATIENCE"),
}

#: What a test run (`COURSE_SMOKE=1`) uses instead of the lesson's own values: tiny subsets, one or two
#: epochs, the smallest network. It only shows that the code runs; its numbers mean nothing.
SMOKE: dict[str, dict[str, object]] = {
    "01_mnist_dense": {"EPOCHS": 2, "ORIGINAL_EPOCHS": 2, "TRAIN_LIMIT": 1000, "TEST_LIMIT": 1000},
    "02_fashion_mnist_cnns": {"TRAIN_LIMIT": 100, "TEST_LIMIT": 50, "EPOCHS": 1, "BACKBONE": "mobilenet_025",
                              "IMAGE_SIZE": 32, "FINE_TUNE_EPOCHS": 1, "AUGMENTED_COPIES": 1, "TSNE_POINTS": 100,
                              "TSNE_ITERATIONS": 250},
    "03_image_augmentation": {"IMAGE_SIZE": 96, "TRAIN_LIMIT": 200, "EPOCHS": 1, "TEST_LIMIT": 500,
                              "BENCH_IMAGES": 64, "BENCH_REPEATS": 2},
    "04_hotdog_fine_tuning": {"BACKBONE": "mobilenet_025", "IMAGE_SIZE": 96, "IMAGES_PER_CLASS": 6,
                              "ORIGINAL_EPOCHS": 1, "ORIGINAL_STEPS": 1, "HEAD_EPOCHS": 3, "FINE_TUNE_EPOCHS": 1,
                              "SCRATCH_EPOCHS": 1},
    "05_grocery_retrain": {"BACKBONE": "mobilenet_025", "IMAGE_SIZE": 96, "PER_CLASS": 2, "HEAD_EPOCHS": 3,
                           "FINE_TUNE_EPOCHS": 1},
    "06_hub_transfer_learning": {"IMAGE_SIZE": 96, "IMAGES_PER_CLASS": 8, "HEAD_EPOCHS": 2, "FINE_TUNE_EPOCHS": 1},
}

#: Where one lesson accepts other values for a name.
LESSON_SPECS: dict[str, dict[str, Spec]] = {
    "04_hotdog_fine_tuning": {  # the networks of the lesson's NETWORKS table (VGG19's top has no pooled features)
        "BACKBONE": Spec("str", "pretrained ImageNet network (the lesson's NETWORKS table)", "mobilenet_025",
                         choices=("resnet50", "mobilenet_v2", "efficientnet_v2_s", "mobilenet_100", "mobilenet_025")),
    },
    "02_fashion_mnist_cnns": {
        "BACKBONE": Spec("str", "the transfer model's network (one whose last block the notebook knows)", "vgg19",
                         choices=("vgg19", "mobilenet_100", "mobilenet_025")),
    },
    "05_grocery_retrain": {"IMAGE_SIZE": _int(SPECS["IMAGE_SIZE"].description, 224, low=32, high=1024,
                                              none="the backbone's own size"),
                           "BACKBONE": Spec("str", "pretrained ImageNet network (the lesson's NETWORKS table)",
                                            "mobilenet_025", choices=("inception_v3", "efficientnet_v2_s", "resnet50",
                                                                      "mobilenet_v2", "mobilenet_100", "mobilenet_025"))},
    "06_hub_transfer_learning": {"IMAGE_SIZE": _int(SPECS["IMAGE_SIZE"].description, 224, low=32, high=1024,
                                                    none="the model's own size")},
}

#: The variable the runner sets to the `-p` names it passes, so that a test run does not shrink those.
GIVEN = "COURSE_GIVEN_PARAMETERS"


def spec_for(name: str, lesson: str | None = None) -> Spec | None:
    """The spec of `name` in `lesson` (its file stem; None for the course-wide one)."""
    return LESSON_SPECS.get(lesson or "", {}).get(name) or SPECS.get(name)


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


def _typed_cell_names(lesson_names: tuple[str, ...]) -> list[str]:
    """The names assigned in the lesson's parameters cell as it ran in this kernel (Jupyter, Colab, nbval).

    Read from IPython's input history: the latest earlier cell made only of `NAME = value` lines, at least
    one of them a parameter of this lesson. Outside IPython (a plain script), nothing is known: [].
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return []
    shell = get_ipython()
    history = list(getattr(shell, "user_ns", {}).get("In", [])) if shell is not None else []
    for source in reversed(history[:-1]):  # the last one is the cell calling start() now
        try:
            body = ast.parse(shell.transform_cell(source) if hasattr(shell, "transform_cell") else source).body
        except SyntaxError:
            continue
        names = [t.id for node in body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)]
        only_assignments = body and all(isinstance(node, ast.Assign) for node in body)
        if only_assignments and set(names) & set(lesson_names):
            return names
    return []


def _unknown_problem(name: str, lesson: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, known, n=2, cutoff=0.6)
    hint = f"Did you mean {' or '.join(close)}? " if close else ""
    return (f"{name} is not a parameter of {lesson}, so its value would be ignored. {hint}Its parameters: "
            f"{', '.join(known)}. (For a variable of your own, assign it in a cell below this one.)")


def check_lesson(lesson: str, namespace: Mapping) -> dict:
    """Check lesson `lesson`'s parameters in `namespace` (its `globals()`); return the values to run with.

    Every parameter of the lesson must be set (`LESSONS`) and in range (`SPECS`, `LESSON_SPECS`); a name
    assigned in the parameters cell that the lesson does not have (a typo) is refused too. In a test run
    (`COURSE_SMOKE=1`) the sizes in `SMOKE` replace the lesson's values in `namespace`, except those the
    runner was given with `-p`, and one line says which. Raises `ParameterError` listing every problem.
    """
    if lesson not in LESSONS:
        close = difflib.get_close_matches(lesson, LESSONS, n=1, cutoff=0.5)
        raise ParameterError(f"{lesson!r} is not a lesson of this course{f' (did you mean {close[0]!r}?)' if close else ''}: "
                             f"lessons are {', '.join(LESSONS)}.")
    known = LESSONS[lesson]
    problems = [_unknown_problem(name, lesson, known) for name in _typed_cell_names(known) if name not in known]
    missing = [name for name in known if name not in namespace]
    if missing:
        problems.append(f"{lesson} needs the parameter(s) {', '.join(missing)}: run its parameters cell first "
                        f"(or put back the line(s) that set them).")
    checked = {}
    for name in known:
        if name in namespace:
            message = problem(name, namespace[name], lesson)
            if message:
                problems.append(message)
            checked[name] = namespace[name]
    if problems:
        raise ParameterError("\n".join(problems))
    if paths.is_smoke():
        given = set(filter(None, os.environ.get(GIVEN, "").split(",")))
        changes = {name: value for name, value in SMOKE.get(lesson, {}).items()
                   if name not in given and checked.get(name) != value}
        if changes:
            listed = ", ".join(f"{name} {checked[name]!r} -> {value!r}" for name, value in changes.items())
            print(f"Test run (COURSE_SMOKE=1): small sizes so that it only checks the code runs: {listed}.")
            namespace.update(changes)
            checked.update(changes)
    return checked
