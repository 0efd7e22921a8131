"""Damaged mirrors and caches, as USB sticks and interrupted downloads leave them: each file is named with the fix.

MNIST / Fashion-MNIST IDX files cut short, empty, unzipped, replaced by an HTML error page, bit-rotted,
swapped; the grocery dataset's split files, class table and photos; the feature cache of notebook 05.
"""

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from conftest import write_idx
from course import data, grocery, paths, record
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


# --- the Grocery Store Dataset's files ------------------------------------------------------------------------

HEADER = ("Class Name (str),Class ID (int),Coarse Class Name (str),Coarse Class ID (int),"
          "Iconic Image Path (str),Product Description Path (str)")
CLASSES = [("Golden-Delicious", 0, "Apple", 0), ("Granny-Smith", 1, "Apple", 0), ("Oatly", 2, "Oatghurt", 1)]


def tiny_grocery(root):
    """Three products, three photos of each in every split, in the upstream layout (under the mirror)."""
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


@pytest.fixture
def grocery_root(course_env):
    return tiny_grocery(course_env["mirror"] / "GroceryStoreDataset" / "dataset")


def _cut(path):
    path.write_bytes(path.read_bytes()[:60])


GROCERY_REFUSED = [  # (case, damage to the dataset folder, words)
    ("val.txt missing", lambda r: (r / "val.txt").unlink(), ["val.txt is missing", "offline mirror holds a damaged copy"]),
    ("test.txt empty", lambda r: (r / "test.txt").write_text(""), ["test.txt lists no photos"]),
    ("train.txt of blank lines", lambda r: (r / "train.txt").write_text("\n \n\n"), ["train.txt lists no photos"]),
    ("train.txt not UTF-8", lambda r: (r / "train.txt").write_bytes(b"train/\xff\xfe.jpg, 0, 0\n"), ["cannot be read"]),
    ("classes.csv empty", lambda r: (r / "classes.csv").write_text(""), ["classes.csv cannot be read as a table"]),
    ("classes.csv with a word for an id", lambda r: (r / "classes.csv").write_text(
        HEADER + "\nGolden,zero,Apple,0,/i.jpg,\n"), ["row 2: fine class id 'zero' is not a whole number"]),
    ("a coarse id with two names", lambda r: (r / "classes.csv").write_text(HEADER + "\n" + "".join(
        f"{n},{f},{'Pear' if f == 1 else c},{k},/i.jpg,\n" for n, f, c, k in CLASSES)),
     ["coarse class id 0 has several names (['Apple', 'Pear'])"]),
    ("a line with an absolute path", lambda r: (r / "val.txt").write_text("/etc/passwd, 0, 0\n"),
     ["line 1: '/etc/passwd' points outside the dataset folder"]),
    ("a line climbing out", lambda r: (r / "val.txt").write_text("../../secret.jpg, 0, 0\n"), ["points outside"]),
    ("a fine id not in classes.csv", lambda r: (r / "test.txt").write_text(
        (r / "test.txt").read_text().splitlines()[0].split(",")[0] + ", 7, 0\n"),
     ["fine class id that is not in classes.csv (0..2)"]),
]


@pytest.mark.parametrize("case, damage, words", GROCERY_REFUSED, ids=[c for c, *_ in GROCERY_REFUSED])
def test_a_damaged_grocery_dataset_is_named_with_the_fix(grocery_root, case, damage, words):
    damage(grocery_root)
    with pytest.raises(grocery.GroceryFormatError) as err:
        grocery.load_grocery()
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_a_grocery_table_with_a_byte_order_mark_and_windows_line_ends_reads(grocery_root):
    for name in ("classes.csv", "train.txt"):
        text = (grocery_root / name).read_text()
        (grocery_root / name).write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    g = grocery.load_grocery()
    assert g.fine_names == ["Golden-Delicious", "Granny-Smith", "Oatly"] and len(g.splits["train"]) == 9


def test_a_truncated_photo_is_named_before_training(grocery_root):
    _cut(grocery_root / "test" / "Oatly" / "Oatly_2.jpg")
    g = grocery.load_grocery()  # cheap checks pass: the file exists
    with pytest.raises(grocery.GroceryFormatError) as err:
        g.sample(None)
    assert "test/Oatly/Oatly_2.jpg: corrupt or truncated image data" in str(err.value)
    assert "python -m course download grocery" in str(err.value)
    kept = g.sample(None, skip_bad=True)
    assert len(kept["test"]) == 8 and not kept["test"]["path"].str.endswith("Oatly_2.jpg").any()
    assert len(kept["train"]) == 9


def test_sample_leaves_out_damaged_photos_and_converts_odd_ones(grocery_root, course_env):
    from PIL import Image

    tiff = grocery_root / "train" / "Oatly" / "Oatly_0.jpg"
    Image.new("RGB", (16, 12), (1, 2, 3)).save(tiff, format="TIFF")  # a TIFF under a .jpg name
    for i in (1, 2):
        _cut(grocery_root / "val" / "Oatly" / f"Oatly_{i}.jpg")
    g = grocery.load_grocery()
    splits = g.sample(None, skip_bad=True)
    row = splits["train"][splits["train"]["fine"] == 2].iloc[0]
    assert row["path"].startswith(str(course_env["cache"] / "converted-images")), row["path"]
    assert list(splits["val"]["fine"]).count(2) == 1


def test_sample_decodes_only_the_photos_a_run_uses(grocery_root):
    g = grocery.load_grocery()
    used = set(grocery.per_class_sample(g.splits["val"], 1, seed=5)["path"])
    for path in set(g.splits["val"]["path"]) - used:
        _cut(Path(path))
    splits = g.sample(1, seed=5)  # no error: the damaged photos are not in this run
    assert set(splits["val"]["path"]) == used


PER_CLASS = [(None, 9), (1, 3), (3, 9), (0, "PER_CLASS=0"), (4, "PER_CLASS=4 is more than the 3 images in the largest"),
             (2.5, "not a whole number"), ("2", "not a whole number")]


@pytest.mark.parametrize("n, outcome", PER_CLASS, ids=[repr(n) for n, _ in PER_CLASS])
def test_per_class_sample_checks_its_parameter(grocery_root, n, outcome):
    train = grocery.load_grocery().splits["train"]
    if isinstance(outcome, int):
        assert len(grocery.per_class_sample(train, n)) == outcome
    else:
        with pytest.raises(ValueError, match=outcome):
            grocery.per_class_sample(train, n)


# --- the feature cache: damaged files are set aside and recomputed, never trusted -----------------------------

def _features():
    return np.arange(12, dtype=np.float64).reshape(4, 3)


CACHE_DAMAGE = {
    "empty .npy": lambda d: (d / "k.npy").write_bytes(b""),
    "cut-short .npy": lambda d: (d / "k.npy").write_bytes((d / "k.npy").read_bytes()[:100]),
    "missing .json": lambda d: (d / "k.json").unlink(),
    "missing .npy": lambda d: (d / "k.npy").unlink(),
    "empty .json": lambda d: (d / "k.json").write_text(""),
    "json without shape": lambda d: (d / "k.json").write_text('{"compute_seconds": 1}'),
    "json of another shape": lambda d: (d / "k.json").write_text('{"compute_seconds": 1, "shape": [5, 3]}'),
    "pickled objects": lambda d: np.save(d / "k.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True),
    "float64 features": lambda d: np.save(d / "k.npy", _features()),
    "a folder named k.npy": lambda d: ((d / "k.npy").unlink(), (d / "k.npy").mkdir()),
}


@pytest.mark.parametrize("damage", list(CACHE_DAMAGE))
def test_a_damaged_feature_cache_is_set_aside_and_recomputed(tmp_path, capsys, damage):
    calls = []

    def compute():
        calls.append(1)
        return _features()

    grocery.cached_features(compute, tmp_path, "k")
    CACHE_DAMAGE[damage](tmp_path)
    again = grocery.cached_features(compute, tmp_path, "k")
    assert len(calls) == 2 and not again.from_cache and np.array_equal(again.features, _features())
    assert "set aside" in capsys.readouterr().out
    third = grocery.cached_features(compute, tmp_path, "k")
    assert len(calls) == 2 and third.from_cache, "the rewritten cache is trusted on the next run"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert {"k.npy", "k.json"} <= set(names) and not [n for n in names if n.endswith(".tmp.npy") or ".tmp." in n]


def test_an_interrupted_cache_write_leaves_no_file_a_later_run_trusts(tmp_path, monkeypatch):
    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        grocery.cached_features(_features, tmp_path, "k")
    assert list(tmp_path.iterdir()) == []
