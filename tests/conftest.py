"""Fixtures shared by the unit tests: an isolated mirror, cache and build folder for each test."""

import gzip
import struct

import numpy as np
import pytest

from course import record


@pytest.fixture(autouse=True)
def fresh_run():
    """Every test starts with a run record of its own: no data sources, parameters or warnings from another."""
    with record.use(record.Run()) as run:
        yield run


@pytest.fixture
def course_env(tmp_path, monkeypatch):
    """Empty mirror and cache folders, offline + smoke mode, and a clean record of data sources."""
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    mirror.mkdir()
    cache.mkdir()
    monkeypatch.setenv("COURSE_DATA_DIR", str(mirror))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(cache))
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_SMOKE", "1")
    return {"mirror": mirror, "cache": cache, "tmp": tmp_path}


def write_idx(path, array):
    """Write `array` (uint8) as a gzipped IDX file, the format of the MNIST downloads."""
    array = np.asarray(array, np.uint8)
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + b"".join(struct.pack(">I", n) for n in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def write_idx_dataset(folder, n_train=6, n_test=4, value=7):
    """Four IDX files like MNIST's, with `value` in every pixel so tests can tell copies apart."""
    write_idx(folder / "train-images-idx3-ubyte.gz", np.full((n_train, 28, 28), value))
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(n_train) % 10)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.full((n_test, 28, 28), value))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(n_test) % 10)


def read_like_the_lessons(files, labels, size, batch_size=256):
    """Checked photo files through the pipeline the lessons write (04 and 06): file names as strings,
    `tf.io.read_file` and `tf.io.decode_image`, resized, batched. Returns the batches as NumPy arrays."""
    import tensorflow as tf

    def load(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return tf.image.resize(image, size), label

    dataset = tf.data.Dataset.from_tensor_slices((list(files), list(labels))).map(load).batch(batch_size)
    return [(x.numpy(), y.numpy()) for x, y in dataset]
