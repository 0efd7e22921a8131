"""Damaged mirrors and caches, as USB sticks and interrupted downloads leave them: each file is named with the fix.

MNIST / Fashion-MNIST IDX files cut short, empty, unzipped, replaced by an HTML error page, bit-rotted,
swapped; the grocery dataset's split files and class table, and the feature cache, as notebook 05 reads them.
"""

import gzip
import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_05_grocery import HEADER, notebook_functions, readers

from conftest import write_idx
from course import data, paths, record
from course.data import DamagedDataError

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
        assert "offline mirror holds a damaged copy" in message and "python -m course download mnist --to" in message
    else:
        assert f"Delete {folder} and run again" in message
    assert "mnist" not in record.current().sources or "train /" not in record.current().sources["mnist"], "nothing is recorded as loaded"


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
    assert record.current().sources["mnist"].endswith("(30 train / 12 test)")


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
    assert paths.mirror_dir() == kernel / "mirror", "a script: its own folder"
    monkeypatch.setitem(os.sys.modules, "ipykernel", object())
    assert paths.mirror_dir() == typed / "mirror", "a notebook kernel (started in notebooks/): where the shell was"
    assert paths.cache_dir() == tmp_path / "home" / "cache"
    paths.resolve_environment()
    assert os.environ["COURSE_DATA_DIR"] == str(typed / "mirror")


# --- the Grocery Store Dataset's files, as notebook 05 reads them ----------------------------------------------

CLASSES = [("Golden-Delicious", 0, "Apple", 0), ("Granny-Smith", 1, "Apple", 0), ("Oatly", 2, "Oatghurt", 1)]


def tiny_grocery(root):
    """Three products, three photos of each in every split, in the upstream layout."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.csv").write_text(HEADER + "\n" + "".join(
        f"{name},{fine},{coarse_name},{coarse},/iconic/{name}.jpg,\n" for name, fine, coarse_name, coarse in CLASSES))
    for split in ("train", "val", "test"):
        lines = []
        for name, fine, _, coarse in CLASSES:
            for i in range(3):
                rel = f"{split}/{name}/{name}_{i}.jpg"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (16, 12), (40 * fine, 20 * i, 90)).save(root / rel)
                lines.append(f"{rel}, {fine}, {coarse}")
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


def read_grocery(root):
    """What section 1 of notebook 05 does with the dataset's text files: read the class table and the three
    splits, and check each split against the table."""
    ns = readers(root)
    classes = ns["read_classes"]()
    splits = {split: ns["read_split"](split) for split in ("train", "val", "test")}
    for split, table in splits.items():
        ns["check_split"](split, table, classes)
    return classes, splits


GROCERY_REFUSED = [  # (case, damage to the dataset folder, words)
    ("val.txt missing", lambda r: (r / "val.txt").unlink(), ["val.txt cannot be read", "No such file"]),
    ("test.txt empty", lambda r: (r / "test.txt").write_text(""), ["test.txt lists nothing"]),
    ("train.txt of blank lines", lambda r: (r / "train.txt").write_text("\n \n\n"), ["train.txt lists nothing"]),
    ("train.txt not UTF-8", lambda r: (r / "train.txt").write_bytes(b"train/\xff\xfe.jpg, 0, 0\n"),
     ["train.txt cannot be read", "can't decode"]),
    ("classes.csv empty", lambda r: (r / "classes.csv").write_text(""), ["classes.csv cannot be read"]),
    ("classes.csv with a word for an id", lambda r: (r / "classes.csv").write_text(
        HEADER + "\nGolden,zero,Apple,0,/i.jpg,\n"), ["classes.csv: a class id is not a whole number"]),
    ("a coarse id with two names", lambda r: (r / "classes.csv").write_text(HEADER + "\n" + "".join(
        f"{n},{f},{'Pear' if f == 1 else c},{k},/i.jpg,\n" for n, f, c, k in CLASSES)),
     ["classes.csv: a coarse class id has several names"]),
    ("a line with an absolute path", lambda r: (r / "val.txt").write_text("/etc/passwd, 0, 0\n"),
     ["val.txt: 1 line(s) point outside", "/etc/passwd"]),
    ("a line climbing out", lambda r: (r / "val.txt").write_text("../../secret.jpg, 0, 0\n"), ["point outside"]),
    ("a fine id not in classes.csv", lambda r: (r / "test.txt").write_text(
        (r / "test.txt").read_text().splitlines()[0].split(",")[0] + ", 7, 0\n"),
     ["test.txt: 1 line(s) name a product that classes.csv does not have"]),
    ("a line without its coarse id", lambda r: (r / "test.txt").write_text("test/Oatly/Oatly_0.jpg, 2\n"),
     ["test.txt: 1 line(s) give a coarse class that contradicts classes.csv"]),
]


@pytest.mark.parametrize("case, damage, words", GROCERY_REFUSED, ids=[c for c, *_ in GROCERY_REFUSED])
def test_a_damaged_grocery_dataset_is_named_with_the_fix(tmp_path, case, damage, words):
    root = tiny_grocery(tmp_path / "GroceryStoreDataset" / "dataset")
    read_grocery(root)  # sound before the damage
    damage(root)
    with pytest.raises(ValueError) as err:
        read_grocery(root)
    for word in words + [f"The copy of the dataset in {root.parent} is damaged or incomplete: delete that folder"]:
        assert word in str(err.value), (word, str(err.value))


def test_a_grocery_table_with_a_byte_order_mark_and_windows_line_ends_reads(tmp_path):
    root = tiny_grocery(tmp_path / "dataset")
    for name in ("classes.csv", "train.txt"):
        text = (root / name).read_text()
        (root / name).write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    classes, splits = read_grocery(root)
    assert list(classes["name"]) == ["Golden-Delicious", "Granny-Smith", "Oatly"] and len(splits["train"]) == 9
    assert splits["train"]["path"].iloc[0] == str(root / "train/Golden-Delicious/Golden-Delicious_0.jpg")


# --- notebook 05's feature cache: a damaged file is computed again, never trusted -----------------------------

def _features():
    return np.arange(12, dtype=np.float32).reshape(4, 3)


CACHE_DAMAGE = {
    "empty": lambda p: p.write_bytes(b""),
    "cut short": lambda p: p.write_bytes(p.read_bytes()[:100]),
    "an HTML page": lambda p: p.write_text("<html><body>quota exceeded</body></html>"),
    "pickled objects": lambda p: np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True),
}


@pytest.fixture
def split_features(tmp_path):
    """Notebook 05's `split_features`, caching in tmp_path/cache, with a `compute_features` that counts calls."""
    calls = []

    def compute_features(table, mirrored):
        calls.append(1)
        return _features()

    (tmp_path / "cache").mkdir()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"a photo")
    ns = notebook_functions("def split_features", {
        "np": np, "os": os, "hashlib": hashlib, "json": json, "cache_dir": tmp_path / "cache", "settings": {"backbone": "tiny", "image_size": 8},
        "splits": {"train": pd.DataFrame({"path": [str(photo)] * 4})}, "compute_features": compute_features})
    ns["split_features"].calls = calls
    return ns["split_features"]


@pytest.mark.parametrize("damage", list(CACHE_DAMAGE))
def test_a_damaged_feature_cache_is_computed_again(split_features, tmp_path, capsys, damage):
    assert np.array_equal(split_features("train"), _features()) and len(split_features.calls) == 1
    [cached] = (tmp_path / "cache").iterdir()
    CACHE_DAMAGE[damage](cached)
    assert np.array_equal(split_features("train"), _features()) and len(split_features.calls) == 2
    assert f"The cached features {cached} cannot be read" in capsys.readouterr().out
    assert np.array_equal(split_features("train"), _features()) and len(split_features.calls) == 2, \
        "the rewritten cache is trusted on the next run"


def test_an_interrupted_cache_write_leaves_no_file_a_later_run_trusts(split_features, tmp_path, monkeypatch):
    save = np.save

    def killed(path, array):  # half the file written, then Ctrl-C
        save(path, array)
        Path(path).write_bytes(Path(path).read_bytes()[:90])
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        split_features("train")
    monkeypatch.setattr(np, "save", save)
    assert np.array_equal(split_features("train"), _features()) and len(split_features.calls) == 2
