"""The course's shared helpers for the lessons.

    import utils
    utils.setup()                                # versions, device, mode, seeds
    (x_train, y_train), (x_test, y_test) = utils.load_mnist()
    utils.plot_history(history)

The course's machinery (the runner, the site, downloads, checks, run records) is the `course` package
beside this one; the names below that come from it are what the lessons call.
Importing `utils` does not import TensorFlow; the functions that need it do.
"""

from course.data import FASHION_CLASSES, load_fashion_mnist, load_mnist, locate
from course.images import ImageFolderError, make_dataset, scan_image_folder
from course.params import ParameterError
from course.paths import in_colab, resolve_environment
from course.storage import StorageError
from course.subsets import split_validation, take, take_per_class

from .env import SEED, set_seed, setup, start

resolve_environment()  # relative COURSE_* folders and KERAS_HOME: resolved once, before Keras reads them


def __getattr__(name):  # plots and backbones import matplotlib/keras: load them on first use
    import importlib

    if name in {"plot_history", "show_images", "plot_confusion_matrix"}:
        from . import plots

        return getattr(plots, name)
    if name in {"load_backbone", "check_backbone", "BACKBONES", "choose_backbone", "load_classifier",
                "decode_predictions"}:
        from course import backbones

        return getattr(backbones, name)
    if name in {"backbones", "data", "grocery", "hub", "images"}:  # transitional: lessons still reach these
        return importlib.import_module(f"course.{name}")
    raise AttributeError(f"module 'utils' has no attribute {name!r}")


__all__ = [
    "FASHION_CLASSES", "SEED", "set_seed", "ImageFolderError", "ParameterError", "StorageError",
    "in_colab", "load_fashion_mnist", "load_mnist", "locate", "make_dataset",
    "plot_confusion_matrix", "plot_history", "scan_image_folder", "setup", "start",
    "show_images", "split_validation", "take", "take_per_class",
    "BACKBONES", "check_backbone", "choose_backbone", "decode_predictions", "load_backbone", "load_classifier",
]  # fmt: skip
