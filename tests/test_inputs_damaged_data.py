"""Damaged mirrors and caches, as USB sticks and interrupted downloads leave them: each file is named with the fix.

MNIST / Fashion-MNIST IDX files cut short, empty, unzipped, replaced by an HTML error page, bit-rotted,
swapped; the grocery dataset's split files, class table and photos; the feature cache of notebook 05.
"""

import gzip
import json
import os
import struct

import numpy as np
import pandas as pd
import pytest

from conftest import write_idx
from utils import data, grocery
from utils.data import DamagedDataError

RNG = np.random.default_rng(0)
GOOD = {  # random content: gzip cannot shrink it to a few bytes, so damage lands in real data
    "train-images-idx3-ubyte.gz": RNG.integers(0, 256, (30, 28, 28)),
    "train-labels-idx1-ubyte.gz": RNG.integers(0, 10, 30),
    "t10k-images-idx3-ubyte.gz": RNG.integers(0, 256, (12, 28, 28)),
    "t10k-labels-idx1-ubyte.gz": RNG.integers(0, 10, 12),
}


def _idx(array, type_byte=0x08):
    array = np.asarray(array, np.uint8)
    return struct.pack(">BBBB", 0, 0, type_byte, array.ndim) + b"".join(struct.pack(">I", n) for n in array.shape) \
        + array.tobytes()


def write_good(folder):
    for name, array in GOOD.items():
        write_idx(folder / name, array)


def _flip_in_the_data(raw):
    """One flipped byte inside the compressed data (before gzip's 8-byte CRC/size trailer, after its header)."""
    raw = bytearray(raw)
    raw[-12] ^= 0xFF
    return bytes(raw)


DAMAGE = {  # how: (rewrite the file's bytes, words the message must contain; None = it loads)
    "cut short": (lambda gz, name: gz[: len(gz) * 2 // 3], "cut short"),
    "empty": (lambda gz, name: b"", "empty (0 bytes)"),
    "an HTML error page": (lambda gz, name: b"<!DOCTYPE html><html><body>404 Not Found</body></html>", "an HTML page"),
    "bit rot": (lambda gz, name: _flip_in_the_data(gz), ("gzip data does not check out", "or corrupted")),
    "random bytes": (lambda gz, name: bytes(range(256)) * 4, "neither gzip nor IDX"),
    "a header cut short": (lambda gz, name: b"\0\0\x08\x03\0\0", "cut short inside its header"),
    "floats, not bytes": (lambda gz, name: gzip.compress(_idx(GOOD[name], 0x0D)), "not unsigned bytes"),
    "values missing": (lambda gz, name: gzip.compress(_idx(GOOD[name])[:-7]), "cut short"),
    "values added": (lambda gz, name: gzip.compress(_idx(GOOD[name]) + b"\0" * 9), "longer than it should be"),
    "already unzipped": (lambda gz, name: gzip.decompress(gz), None),
}


@pytest.mark.parametrize("where", ["mirror", "cache"])
@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("file", list(GOOD))
def test_a_damaged_mnist_file_is_named_with_the_fix(course_env, file, damage, where):
    folder = course_env[where] / "mnist"
    write_good(folder)
    rewrite, words = DAMAGE[damage]
    path = folder / file
    path.write_bytes(rewrite(path.read_bytes(), file))
    if words is None:
        (x_train, y_train), (x_test, y_test) = data.load_mnist()
        assert (x_train == GOOD["train-images-idx3-ubyte.gz"]).all() and (y_test == GOOD[_IDX_LABELS]).all()
        return
    with pytest.raises(DamagedDataError) as err:
        data.load_mnist()
    message = str(err.value)
    assert f"{path} is damaged: " in message, message
    assert any(w in message for w in ((words,) if isinstance(words, str) else words)), message
    if where == "mirror":
        assert "offline mirror holds a damaged copy" in message and "python -m utils download mnist --to" in message
    else:
        assert f"Delete {folder} and run again" in message
    assert "mnist" not in data.sources() or "train /" not in data.sources()["mnist"], "nothing is recorded as loaded"


_IDX_LABELS = "t10k-labels-idx1-ubyte.gz"

WRONG_CONTENT = [  # (file, content, words)
    ("train-images-idx3-ubyte.gz", GOOD["train-labels-idx1-ubyte.gz"], "holds labels, not 28x28 images: the image "
                                                                      "and label files are swapped"),
    ("train-labels-idx1-ubyte.gz", GOOD["train-images-idx3-ubyte.gz"], "holds images, not labels"),
    ("t10k-images-idx3-ubyte.gz", RNG.integers(0, 256, (12, 32, 32)), "shape [12, 32, 32], not 28x28 images"),
    ("t10k-labels-idx1-ubyte.gz", np.full(12, 200), "labels up to 200, outside 0-9"),
    ("t10k-labels-idx1-ubyte.gz", np.zeros(11), "12 test images but 11 labels; the files do not belong together"),
]


@pytest.mark.parametrize("file, content, words", WRONG_CONTENT, ids=[w.split(":")[0] for *_, w in WRONG_CONTENT])
def test_swapped_or_foreign_files_are_refused(course_env, file, content, words):
    write_good(course_env["mirror"] / "mnist")
    write_idx(course_env["mirror"] / "mnist" / file, content)
    with pytest.raises(DamagedDataError, match="mnist: ") as err:
        data.load_mnist()
    assert words in str(err.value), str(err.value)


def test_fashion_mnist_in_a_copied_keras_home_gets_the_same_checks(course_env):
    folder = course_env["mirror"] / "keras_home" / "datasets" / "fashion-mnist"
    write_good(folder)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(DamagedDataError, match=r"fashion_mnist: .*t10k-images-idx3-ubyte.gz is damaged: it is empty"):
        data.load_fashion_mnist()


def test_a_folder_where_a_file_should_be(course_env):
    write_good(course_env["cache"] / "mnist")
    path = course_env["cache"] / "mnist" / "train-labels-idx1-ubyte.gz"
    path.unlink()
    path.mkdir()
    with pytest.raises(DamagedDataError, match="it cannot be read"):
        data.load_mnist()


def test_a_good_mirror_still_loads_exactly(course_env):
    write_good(course_env["mirror"] / "mnist")
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert (x_train == GOOD["train-images-idx3-ubyte.gz"]).all() and (y_train == GOOD["train-labels-idx1-ubyte.gz"]).all()
    assert data.sources()["mnist"].endswith("(30 train / 12 test)")


# --- relative folders ---------------------------------------------------------------------------------------

def test_a_relative_mirror_means_the_folder_it_was_typed_in(tmp_path, monkeypatch):
    typed, kernel = tmp_path / "repo", tmp_path / "repo" / "notebooks"
    kernel.mkdir(parents=True)
    monkeypatch.chdir(kernel)
    monkeypatch.setenv("PWD", str(typed))
    monkeypatch.setenv("COURSE_DATA_DIR", "mirror")
    monkeypatch.setenv("COURSE_CACHE_DIR", "~/cache")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delitem(os.sys.modules, "ipykernel", raising=False)
    assert data.mirror_dir() == kernel / "mirror", "a script: its own folder"
    monkeypatch.setitem(os.sys.modules, "ipykernel", object())
    assert data.mirror_dir() == typed / "mirror", "a notebook kernel (started in notebooks/): where the shell was"
    assert data.cache_dir() == tmp_path / "home" / "cache"
    data.resolve_environment()
    assert os.environ["COURSE_DATA_DIR"] == str(typed / "mirror")
