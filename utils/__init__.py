"""The course's shared helpers: plumbing only, so that each notebook stays a lesson.

    import utils
    utils.setup()                                # versions, device, mode, seeds
    (x_train, y_train), (x_test, y_test) = utils.load_mnist()
    utils.plot_history(history)
    utils.record_results("01_mnist_dense", test_accuracy=acc)

Submodules: `env` (mode, seeds, devices), `data` (datasets), `images` (image folders),
`backbones` (pretrained networks), `plots`, `results`, `runner` (`python -m utils run`),
`augment` (augmentation grids, input-pipeline throughput), `projector` (checks an Embedding Projector folder),
`hub` (TF Hub models under Keras 3), `grocery` (the Grocery Store Dataset's splits and classes),
`params` (every notebook parameter's valid values: `utils.check_parameters(globals())`), `subsets`
(subsets and validation splits checked against the data), `runs` (training backups `backup_dir`, locks,
safe writes).
Importing `utils` does not import TensorFlow; the functions that need it do.
"""

from .data import (
    DATASETS,
    FASHION_CLASSES,
    ChecksumError,
    DamagedDataError,
    DataUnavailableError,
    UnsafeArchiveError,
    load_fashion_mnist,
    load_mnist,
    locate,
    resolve_environment,
)
from .env import SEED, get_strategy, in_colab, is_offline, is_smoke, mode, run_dir, set_seed, setup
from .images import ImageFolderError, make_dataset, scan_image_folder
from .params import ParameterError, check_count, check_parameters
from .results import record_results
from .runs import StorageError, backup_dir
from .subsets import split_validation, take, take_per_class

resolve_environment()  # relative COURSE_* folders and KERAS_HOME: resolved once, before Keras reads them


def __getattr__(name):  # plots and backbones import matplotlib/keras: load them on first use
    if name in {"plot_history", "show_images", "plot_confusion_matrix"}:
        from . import plots

        return getattr(plots, name)
    if name in {"load_backbone", "check_backbone", "BACKBONES", "choose_backbone", "load_classifier",
                "decode_predictions"}:
        from . import backbones

        return getattr(backbones, name)
    raise AttributeError(f"module 'utils' has no attribute {name!r}")


__all__ = [
    "BACKBONES", "DATASETS", "FASHION_CLASSES", "SEED", "ChecksumError", "DamagedDataError", "DataUnavailableError",
    "ImageFolderError", "ParameterError", "StorageError", "UnsafeArchiveError", "backup_dir", "check_backbone",
    "check_count", "check_parameters", "get_strategy", "in_colab", "is_offline", "is_smoke",
    "load_backbone", "load_fashion_mnist", "load_mnist", "locate", "make_dataset", "mode",
    "plot_confusion_matrix", "plot_history", "record_results", "run_dir", "scan_image_folder",
    "set_seed", "setup", "show_images", "split_validation", "take", "take_per_class",
    "choose_backbone", "decode_predictions", "load_classifier",  # networks by what can be had (backbones)
]  # fmt: skip
