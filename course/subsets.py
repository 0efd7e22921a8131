"""Subsets and validation splits that check the parameter behind them against the data they are taken from.

    x, y = utils.take(x_train, y_train, TRAIN_LIMIT, parameter="TRAIN_LIMIT", holdout=0.1)
    files, labels = utils.take_per_class(folder.files, folder.labels, IMAGES_PER_CLASS)
    train_files, val_files, y_train, y_val = utils.split_validation(files, labels, VALIDATION_SPLIT, seed=utils.SEED)

Each refuses, before any training, what would otherwise fail inside scikit-learn or Keras (a class with
one photo, a validation split that leaves a class out) or run and record a size it never used (a subset
larger than the data): `ParameterError` names the parameter, the class and the value that works.
"""

from __future__ import annotations

import math

import numpy as np

from .params import ParameterError, check_count, check_value


def _name(label, class_names) -> str:
    label = int(label)
    return repr(class_names[label]) if class_names is not None and label < len(class_names) else f"{label}"


def _pick(items, index: np.ndarray):
    """`items[index]` for arrays, pandas objects and plain lists alike (a list stays a list)."""
    if isinstance(items, np.ndarray):
        return items[index]
    if hasattr(items, "iloc"):
        return items.iloc[index]
    return [items[i] for i in index]


def take(x, y, limit, *, parameter: str, what: str = "training images", holdout: float | None = None,
         class_names=None):
    """The first `limit` items of `x` and `y` (all when `limit` is None).

    Refuses a limit larger than the data. With `holdout` (the fraction a later stratified validation
    split takes), also refuses a limit that leaves too few of some class for that split.
    """
    if len(x) != len(y):
        raise ValueError(f"{len(x):,} items but {len(y):,} labels: they do not belong together")
    n = check_count(parameter, limit, len(x), what)
    x, y = x[:n], y[:n]
    if holdout is not None:
        message = _split_problem(np.asarray(y), holdout, class_names)
        if message:
            raise ParameterError(f"{parameter}={limit} keeps {n:,} {what}, too few for the validation split: "
                                 f"{message} Raise {parameter} (or set it to None for all of them).")
    return x, y


def take_per_class(files, labels, per_class, *, parameter: str = "IMAGES_PER_CLASS", class_names=None):
    """The first `per_class` items of each class, in their original order (all when `per_class` is None).

    Refuses a value larger than every class (it would change nothing while the run records it).
    """
    labels_arr = np.asarray(labels)
    if len(files) != len(labels_arr):
        raise ValueError(f"{len(files):,} files but {len(labels_arr):,} labels: they do not belong together")
    check_value(parameter, per_class)
    if per_class is None:
        return files, labels
    classes, counts = np.unique(labels_arr, return_counts=True)
    check_count(parameter, per_class, int(counts.max()) if len(counts) else 0,
                "images in the largest class" + (f" ({_name(classes[counts.argmax()], class_names)})"
                                                 if len(counts) else ""))
    keep = np.sort(np.concatenate([np.flatnonzero(labels_arr == c)[:per_class] for c in classes]))
    return _pick(files, keep), _pick(labels, keep)


def _split_problem(labels: np.ndarray, fraction: float, class_names=None) -> str | None:
    """Why a stratified split of `labels` with `fraction` held out cannot give every class both sides."""
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        return f"it has {len(classes)} class(es); a classifier needs at least 2."
    lonely = [(c, n) for c, n in zip(classes, counts) if n < 2]
    if lonely:
        listed = ", ".join(f"{_name(c, class_names)} ({n})" for c, n in lonely[:5])
        return (f"class(es) {listed} have fewer than 2 images; a validation split needs at least 2 per class "
                f"(one to train on, one to validate).")
    n = len(labels)
    n_val = math.ceil(fraction * n)
    if n_val < len(classes):
        return (f"{fraction:g} of {n:,} images is {n_val} validation image(s) for {len(classes)} classes, and every "
                f"class needs one; a fraction of at least {math.ceil(len(classes) / n * 100) / 100:g} would do.")
    if n - n_val < len(classes):
        return (f"{fraction:g} of {n:,} images leaves {n - n_val} training image(s) for {len(classes)} classes, and "
                f"every class needs one; a fraction of at most {math.floor((n - len(classes)) / n * 100) / 100:g} "
                f"would do.")
    return None


def split_validation(files, labels, fraction, *, seed: int, parameter: str = "VALIDATION_SPLIT",
                     class_names=None):
    """A stratified split: `(train_files, val_files, train_labels, val_labels)`, every class on both sides.

    The same split as `sklearn.model_selection.train_test_split(..., stratify=labels)`; refused (naming
    `parameter` and the class) when a class would have no training or no validation image.
    """
    from sklearn.model_selection import train_test_split

    check_value(parameter, fraction)
    if not isinstance(fraction, float) or not 0 < fraction < 1:  # an int would be a count in scikit-learn
        raise ParameterError(f"{parameter}={fraction!r} must be a fraction strictly between 0 and 1, e.g. 0.2.")
    labels_arr = np.asarray(labels)
    message = _split_problem(labels_arr, fraction, class_names)
    if message:
        raise ParameterError(f"{parameter}={fraction:g} cannot split these {len(labels_arr):,} images: {message}")
    train_files, val_files, train_labels, val_labels = train_test_split(
        files, labels, test_size=fraction, stratify=labels_arr, random_state=seed)
    for side, part, fix in ((val_files, val_labels, "raise"), (train_files, train_labels, "lower")):
        missing = sorted(set(np.unique(labels_arr)) - set(np.unique(np.asarray(part))))
        if missing:
            listed = ", ".join(_name(c, class_names) for c in missing[:5])
            which = "validation" if side is val_files else "training"
            raise ParameterError(
                f"{parameter}={fraction:g} leaves class(es) {listed} with no {which} image (too few images in "
                f"them for this fraction). {fix.capitalize()} {parameter}, or add images to those classes.")
    return train_files, val_files, train_labels, val_labels
