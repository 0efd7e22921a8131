"""Adversarial folder layouts, data-dependent parameters and file lists: each has one exact outcome.

Refused: `ImageFolderError` / `ParameterError` naming the thing and the fix, never a raw OSError or a
scikit-learn traceback. Accepted: the classes and counts are exactly right and everything left out is
listed with why.
"""

import os

import pytest
from PIL import Image

from course import images, record
from course.images import ImageFolderError, scan_image_folder

pytest.importorskip("tensorflow")


def photo(path, colour=(200, 30, 30), fmt="JPEG"):
    path = os.fsencode(path) if isinstance(path, bytes) else path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", (12, 10), colour).save(path, format=fmt)
    return path


def classes(root, spec, shade=100):
    """`{"cats": 2, "dogs": 3}` -> that many distinct photos per class folder."""
    for c, (name, n) in enumerate(spec.items()):
        for i in range(n):
            photo(root / name / f"{i}.jpg", (20 * c + 3 * i, shade, 40 * i % 255))
    return root


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    record.current().parameters = {}


def _deny(monkeypatch, path):
    """An unreadable folder: chmod where that stops reads; as root (who reads anything) the OS's own error."""
    if os.geteuid() != 0:
        os.chmod(path, 0)
        return
    real = os.scandir

    def scandir(folder="."):
        if os.path.realpath(os.fsdecode(folder)) == os.path.realpath(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real(folder)

    monkeypatch.setattr(os, "scandir", scandir)


# --- refused, with the thing named and the fix ------------------------------------------------------------


def split_dataset(t):
    for split in ("train", "test"):
        classes(t / "hotdog" / split, {"hotdog": 1, "not-hotdog": 1})
    return t / "hotdog"


def capitalised_splits(t):
    for split in ("Train", "Validation"):
        classes(t / "d" / split, {"a": 1, "b": 1})
    return t / "d"


def flat_splits(t):
    for split in ("train", "val", "test"):
        photo(t / "d" / split / "x.jpg")
    return t / "d"


def only_train(t):
    classes(t / "d" / "train", {"a": 1, "b": 1})
    return t / "d"


def classes_and_a_test_split(t):
    classes(t / "d", {"cats": 1, "dogs": 1})
    classes(t / "d" / "test", {"cats": 1, "dogs": 1})
    return t / "d"


def dangling_root(t):
    os.symlink(t / "gone", t / "photos")
    return t / "photos"


def looping_root(t):
    os.symlink("photos", t / "photos")
    return t / "photos"


def a_file(t):
    return photo(t / "one.jpg")


def empty_folder(t):
    (t / "empty").mkdir()
    return t / "empty"


def macosx_and_one_class(t):
    classes(t / "d", {"cats": 2})
    photo(t / "d" / "__MACOSX" / "cats" / "x.jpg")
    return t / "d"


def one_class_folder_itself(t):
    for i in range(3):
        photo(t / "roses" / f"{i}.jpg", (i, 2, 3))
    return t / "roses"


def heic_class(t):
    classes(t / "d", {"cats": 1})
    (t / "d" / "dogs").mkdir()
    (t / "d" / "dogs" / "IMG_0001.HEIC").write_bytes(b"\0\0\0\x18ftypheic" + b"\0" * 64)
    return t / "d"


def unreadable_class(t, monkeypatch):
    classes(t / "d", {"cats": 1, "dogs": 1, "birds": 1})
    _deny(monkeypatch, t / "d" / "birds")
    return t / "d"


def unreadable_root(t, monkeypatch):
    classes(t / "d", {"cats": 1, "dogs": 1})
    _deny(monkeypatch, t / "d")
    return t / "d"


def broken_class_link(t):
    classes(t / "d", {"cats": 1, "dogs": 1})
    os.symlink(t / "gone", t / "d" / "birds")
    return t / "d"


def text_only_class(t):
    classes(t / "d", {"cats": 1, "dogs": 1})
    (t / "d" / "notes").mkdir()
    (t / "d" / "notes" / "todo.txt").write_text("x")
    return t / "d"


def nested_empty_class(t):
    classes(t / "d", {"cats": 1, "dogs": 1})
    (t / "d" / "birds" / "2023" / "summer").mkdir(parents=True)
    return t / "d"


REFUSED = [  # (case, folder maker, words the message must contain); makers may take monkeypatch
    ("dataset root with train/ and test/", split_dataset,
     ["holds test/, train/", "already split", "hotdog/train (its sub-folders are the classes)", "hotdog/test for testing"]),
    ("capitalised Train/ and Validation/", capitalised_splits, ["Train/, Validation/", "d/Train"]),
    ("train/ val/ test/ with photos inside", flat_splits, ["test/, train/, val/", "learn 'test' versus 'val'"]),
    ("only train/ with classes inside", only_train, ["holds train/", "d/train"]),
    ("classes beside a test/ split", classes_and_a_test_split, ["holds test/", "d/test"]),
    ("empty string", lambda t: "", ["empty ('')", "one sub-folder per class"]),
    ("missing", lambda t: t / "nowhere", ["nowhere does not exist", "one sub-folder per class"]),
    ("broken link", dangling_root, ["is a broken link to", "gone, which does not exist"]),
    ("link loop", looping_root, ["link that points to itself"]),
    ("a file", a_file, ["is a file, not a folder"]),
    ("an int", lambda t: 2024, ["must be a folder path", "2024", "int"]),
    ("None", lambda t: None, ["must be a folder path", "None"]),
    ("empty folder", empty_folder, ["has 0 class folder(s)", "at least 2"]),
    ("__MACOSX is not a class", macosx_and_one_class, ["1 class folder(s)", "(cats)"]),
    ("one class's folder itself", one_class_folder_itself, ["holds 3 image(s) directly", "Use its parent"]),
    ("a class of HEIC photos", heic_class, ["dogs/IMG_0001.HEIC: HEIC", "Most Compatible", "dogs/: every one of its 1 file(s) was left out"]),
    ("unreadable class folder", unreadable_class, ["birds/: folder cannot be read (Permission denied)"]),
    ("unreadable folder", unreadable_root, ["cannot be read (Permission denied)", "Fix its permissions, or use a readable copy"]),
    ("broken link as a class", broken_class_link, ["birds: a broken link", "gone, which does not exist"]),
    ("a class of text files", text_only_class, ["notes/: empty class folder"]),
    ("a class of empty sub-folders", nested_empty_class, ["birds/: empty class folder"]),
]


@pytest.mark.parametrize("case, make, words", REFUSED, ids=[c for c, *_ in REFUSED])
def test_folders_that_cannot_be_a_dataset_are_refused_by_name(tmp_path, monkeypatch, case, make, words):
    root = make(tmp_path, monkeypatch) if make.__code__.co_argcount == 2 else make(tmp_path)
    with pytest.raises(ImageFolderError) as err:
        scan_image_folder(root)
    message = str(err.value)
    for word in words:
        assert word in message, (case, word, message)


@pytest.mark.parametrize("has_data_dir, words", [(False, "Use one split, e.g."), (True, "Point DATA_DIR at one split, e.g.")])
def test_the_message_names_data_dir_only_where_the_notebook_has_it(tmp_path, monkeypatch, has_data_dir, words):
    record.current().parameters = {"DATA_DIR": ""} if has_data_dir else {}
    with pytest.raises(ImageFolderError, match=words):
        scan_image_folder(split_dataset(tmp_path))


# --- accepted, with everything left out listed ---------------------------------------------------------------


def test_a_clean_folder_gives_exact_classes_counts_and_order(tmp_path):
    found = scan_image_folder(classes(tmp_path / "d", {"cats": 3, "dogs": 2, "testing_kits": 1}))
    assert found.class_names == ["cats", "dogs", "testing_kits"], "a class named like a split word is still a class"
    assert found.counts() == {"cats": 3, "dogs": 2, "testing_kits": 1}
    assert found.files == found.sources == [str(tmp_path / "d" / c / f"{i}.jpg")
                                            for c, n in (("cats", 3), ("dogs", 2), ("testing_kits", 1)) for i in range(n)]
    assert not (found.skipped or found.converted or found.ignored or found.duplicates)


def test_a_class_named_like_a_split_is_a_class(tmp_path):
    root = classes(tmp_path / "vehicles", {"car": 2})
    for year in ("2019", "2020"):
        photo(root / "train" / year / "steam.jpg", (int(year) % 256, 1, 1))
    found = scan_image_folder(root)
    assert found.counts() == {"car": 2, "train": 2}


def test_links_are_followed_once_and_loops_are_listed(tmp_path):
    root = classes(tmp_path / "d", {"cats": 2})
    classes(tmp_path / "elsewhere", {"dogs": 2}, shade=200)
    os.symlink(tmp_path / "elsewhere" / "dogs", root / "dogs")  # a linked class folder: used
    os.symlink(tmp_path / "elsewhere" / "dogs", root / "doggies")  # the same folder again: not twice
    os.symlink(root / "cats", root / "cats" / "again")  # a loop inside a class
    os.symlink("/", root / "cats" / "everything")  # would scan the whole disk
    os.symlink("..", root / "cats" / "up")  # the scanned folder itself
    found = scan_image_folder(root)
    assert found.counts() == {"cats": 2, "doggies": 2}, "read in name order: doggies/ first, then not dogs/ again"
    ignored = dict(found.ignored)
    assert "already scanned" in ignored["dogs/"] and "already scanned" in ignored["cats/again/"]
    assert "contains the scanned folder" in ignored["cats/everything/"]
    assert "already scanned" in ignored["cats/up/"] or "contains the scanned folder" in ignored["cats/up/"]


def test_everything_outside_the_class_folders_is_listed(tmp_path):
    root = classes(tmp_path / "d", {"cats": 1, "dogs": 1})
    photo(root / "loose.jpg", (1, 2, 3))
    (root / "README.txt").write_text("x")
    photo(root / "__MACOSX" / "cats" / "._0.jpg")
    photo(root / ".ipynb_checkpoints" / "x.jpg")
    photo(root / "cats" / ".thumbnails" / "x.jpg")
    os.mkfifo(root / "cats" / "pipe.png")
    found = scan_image_folder(root)
    ignored = dict(found.ignored)
    assert "a photo directly in the folder, not in a class folder" in ignored["loose.jpg"]
    assert "a file directly in the folder" in ignored["README.txt"]
    assert "macOS zip metadata" in ignored["__MACOSX/"]
    assert ignored[".ipynb_checkpoints/"] == "hidden" and ignored["cats/.thumbnails"] == "hidden folder"
    assert "not a regular file" in ignored["cats/pipe.png"], "a pipe is never opened (it would block)"
    assert found.counts() == {"cats": 1, "dogs": 1}


def test_the_same_photo_in_two_classes_is_warned_about(tmp_path):
    root = classes(tmp_path / "d", {"cats": 2, "dogs": 1})
    (root / "dogs" / "copied.jpg").write_bytes((root / "cats" / "0.jpg").read_bytes())
    (root / "cats" / "twice.jpg").write_bytes((root / "cats" / "1.jpg").read_bytes())
    with pytest.warns(UserWarning, match=r"filed under more than one class.*cats/0.jpg = dogs/copied.jpg"):
        found = scan_image_folder(root)
    assert found.cross_class_duplicates == [("cats/0.jpg", "dogs/copied.jpg")]
    assert ("cats/1.jpg", "cats/twice.jpg") in found.duplicates
    report = found.report()
    assert "WARNING: the same photo in several classes: 1" in report
    assert "The same photo more than once in a class: 1" in report


def test_non_utf8_names_from_a_windows_zip_are_read_and_printable(tmp_path):
    base = os.fsencode(tmp_path / "d")
    photo(base + b"/caf\xe9/\xff\xfe photo.jpg", (9, 9, 9))
    photo(base + b"/plain/a.jpg", (200, 9, 9))
    found = scan_image_folder(base)  # a bytes path works too
    assert found.class_names == ["caf\\xe9", "plain"], "class names can be printed"
    report = found.report()
    report.encode("utf-8")  # would raise on a lone surrogate
    assert "its name is not UTF-8 text, which TensorFlow cannot take: read from a copy" in report
    # the lessons' own pipelines (04, 06) take the checked files as strings, as a learner would write it
    tf = pytest.importorskip("tensorflow")
    ds = tf.data.Dataset.from_tensor_slices((list(found.files), list(found.labels))).map(
        lambda path, label: (tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False), label))
    [(x, y), (x2, y2)] = [(a.numpy(), b.numpy()) for a, b in ds]
    assert (x.shape, y) == ((10, 12, 3), 0) and abs(float(x.mean()) - 9) < 3 and y2 == 1
    assert found.sources[0].endswith(os.fsdecode(b"caf\xe9/\xff\xfe photo.jpg")), "the original is named"


def test_relative_and_home_paths(tmp_path, monkeypatch):
    classes(tmp_path / "home" / "photos", {"a": 1, "b": 1})
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert scan_image_folder("~/photos").counts() == {"a": 1, "b": 1}
    monkeypatch.chdir(tmp_path / "home")
    assert scan_image_folder("photos").counts() == {"a": 1, "b": 1}


def test_a_notebook_with_skip_bad_images_reads_only_what_the_scan_kept(tmp_path):
    """04 read the whole folder again with flow_from_directory; the scanned lists are all it may read."""
    root = classes(tmp_path / "d", {"a": 2, "b": 2})
    (root / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut")
    found = scan_image_folder(root, skip_bad=True)
    assert [p for p, _ in found.skipped] == ["a/broken.jpg"]
    assert all("broken" not in f for f in found.files)


# --- a list of files (a dataset's split file) ------------------------------------------------------------------


def test_check_image_files_names_missing_and_damaged_files(tmp_path):
    good = photo(tmp_path / "a.jpg")
    rotated = tmp_path / "r.tif"
    Image.new("RGB", (6, 4), (1, 2, 3)).save(rotated)
    cut = tmp_path / "cut.png"
    Image.new("RGB", (60, 60), (1, 2, 3)).save(cut)
    cut.write_bytes(cut.read_bytes()[:40])
    paths = [str(good), str(tmp_path / "missing.jpg"), str(rotated), str(cut)]
    with pytest.raises(ImageFolderError) as err:
        images.check_image_files(paths, where="train.txt")
    assert "2 problem(s) in train.txt" in str(err.value)
    assert "missing.jpg: cannot be read (No such file or directory)" in str(err.value)
    kept = images.check_image_files(paths, skip_bad=True)
    assert kept.labels == [0, 2] and kept.sources == [str(good), str(rotated)]
    assert kept.files[0] == str(good) and kept.files[1].endswith(".png")


def test_image_data_generator_reads_exactly_the_scanned_files(tmp_path):
    """The original tutorials' ImageDataGenerator: given the scan's dataframe, it never meets a bad file."""
    tf = pytest.importorskip("tensorflow")
    root = classes(tmp_path / "d", {"a": 2, "b": 2})
    (root / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut")
    Image.new("RGB", (12, 10), (9, 9, 9)).save(root / "b" / "scan.tif")
    Image.new("RGB", (12, 10), (9, 99, 9)).save(root / "b" / "web.webp")
    found = scan_image_folder(root, skip_bad=True)
    frame = found.dataframe()
    assert list(frame.columns) == ["filename", "class", "source"] and len(frame) == 6
    flow = tf.keras.preprocessing.image.ImageDataGenerator().flow_from_dataframe(
        frame, target_size=(8, 8), batch_size=16, shuffle=False, validate_filenames=False)
    x, y = next(flow)
    assert x.shape == (6, 8, 8, 3) and flow.class_indices == {"a": 0, "b": 1}
