"""Finding the lessons' data: the same arrays and folders Keras would download, offline too.

Each helper looks in the offline mirror (`COURSE_DATA_DIR`), then the download cache, then downloads once;
in the course's test runs without data it builds a small stand-in, announced. Where the data came from
is printed by the setup banner and kept with the results.
"""

from __future__ import annotations

from pathlib import Path

from course import data, images, paths, record


def load_mnist():
    """MNIST as `(x_train, y_train), (x_test, y_test)`: uint8 28x28 images and labels 0-9.

    The same arrays as `keras.datasets.mnist.load_data()`, which does not work offline.
    """
    return data.load_mnist()


def load_fashion_mnist():
    """Fashion-MNIST as `(x_train, y_train), (x_test, y_test)`, like `keras.datasets.fashion_mnist.load_data()`."""
    return data.load_fashion_mnist()


def locate(name: str) -> Path:
    """The folder of dataset `name` ("flower_photos", "hotdog", "grocery"), laid out as its download unpacks."""
    return data.locate(name)


def scan_image_folder(root, *, skip_bad: bool = False, min_classes: int = 2) -> images.ImageFolder:
    """Check a folder of photos (one sub-folder per class) before training on it.

    Returns the usable files, their labels and class names (`.files`, `.labels`, `.class_names`), with
    photos TensorFlow cannot read converted into copies it can (phone photos turned upright, TIFF, ...).
    A problem (an unreadable file, an empty class, a folder with `train/` and `test/` inside) raises
    `ImageFolderError`, naming each file and what to do; `skip_bad=True` leaves bad files out and lists
    them instead. The folder checked is recorded with this run's results.
    """
    folder = images.scan_image_folder(root, skip_bad=skip_bad, min_classes=min_classes)
    record.current().note_source("photos", f"{len(folder.files):,} photos in {len(folder.class_names)} classes, "
                                           f"{paths.label(folder.root)}")
    return folder


def check_image_files(files, *, where: str = "") -> images.ImageFolder:
    """Check a list of photos (a dataset's split file) the way `scan_image_folder` checks a folder.

    Every photo is decoded once. `.files` are the paths to read (a photo TensorFlow cannot read is converted
    into a copy it can), in the given order; an unreadable or damaged photo raises `ImageFolderError`,
    naming each one and what to do.
    """
    return images.check_image_files(files, where=where)


ImageFolderError = images.ImageFolderError
