"""The lessons' helpers. What a lesson is about is written in the lesson; these only set up the session and
find what it needs (data, weights), and draw a few plots.

    import utils
    utils.setup()                                        # versions, device, seeds: the banner
    lesson = utils.start("01_mnist_dense", globals())    # checks the parameters cell; the run's folders and record
    (x_train, y_train), (x_test, y_test) = utils.load_mnist()
    utils.plot_history(history)

The course's machinery (the runner, the site, downloads, checks, run records) is the `course` package beside
this one; nothing there is needed to follow a lesson. Importing `utils` does not import TensorFlow.
"""

from course.paths import resolve_environment

from .data import ImageFolderError, check_image_files, load_fashion_mnist, load_mnist, locate, scan_image_folder
from .env import SEED, setup, start
from .networks import choose_backbone, decode_predictions, hub_model, imagenet_weights

resolve_environment()  # relative COURSE_* folders and KERAS_HOME: resolved once, before Keras reads them


def __getattr__(name):  # the plots import matplotlib: loaded on first use
    if name in {"plot_history", "show_images", "plot_confusion_matrix"}:
        from . import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'utils' has no attribute {name!r}")


__all__ = [
    "SEED", "ImageFolderError", "check_image_files", "choose_backbone", "decode_predictions", "hub_model", "imagenet_weights",
    "load_fashion_mnist", "load_mnist", "locate", "plot_confusion_matrix", "plot_history", "scan_image_folder",
    "setup", "show_images", "start",
]  # fmt: skip
