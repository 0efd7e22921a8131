"""The image-folder check: every kind of broken file a learner's folder holds, and what happens to it."""

import numpy as np
import pytest
from PIL import Image

from conftest import read_like_the_lessons
from course import record
from course.images import ImageFolderError, scan_image_folder


def _rgb(path, size=(40, 30), mode="RGB", fmt=None, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = {"RGB": (200, 30, 30), "RGBA": (0, 200, 0, 128), "L": 128, "CMYK": (0, 255, 255, 0), "P": 3}
    if mode == "I;16":
        Image.fromarray(np.full(size[::-1], 40000, np.uint16)).save(path, format=fmt)
    else:
        Image.new(mode, size, colour.get(mode, 0)).save(path, format=fmt, **kw)
    return path


def _truncated(path):
    _rgb(path, size=(200, 200))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def _text(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("this is not a photo")


def _empty(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def _huge(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("1", (9000, 6000)).save(path)  # 54 Mpx, a few KB on disk


# name, writer, expected outcome: "ok" (used as is), "convert" (used, listed), "skip" (bad), "ignore"
CASES = [
    ("good.jpg", lambda p: _rgb(p), "ok"),
    ("grey.png", lambda p: _rgb(p, mode="L"), "convert"),
    ("alpha.png", lambda p: _rgb(p, mode="RGBA"), "convert"),
    ("palette.gif", lambda p: _rgb(p, mode="P"), "convert"),
    ("sixteen_bit.png", lambda p: _rgb(p, mode="I;16"), "convert"),
    ("png_named.jpg", lambda p: _rgb(p, fmt="PNG"), "ok"),
    ("bitmap.bmp", lambda p: _rgb(p, fmt="BMP"), "ok"),
    ("fleur_été_🌸.jpg", lambda p: _rgb(p), "ok"),
    ("nested/deeper/inner.jpg", lambda p: _rgb(p), "ok"),
    ("truncated.jpg", _truncated, "skip"),
    ("text.jpg", _text, "skip"),
    ("zero.jpg", _empty, "skip"),
    ("cmyk.jpg", lambda p: _rgb(p, mode="CMYK"), "convert"),
    ("huge.png", _huge, "skip"),
    (".DS_Store", _text, "ignore"),
    ("._resource_fork.jpg", _text, "ignore"),
    ("notes.txt", _text, "ignore"),
]


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    root = tmp_path_factory.mktemp("messy") / "photos"
    for name, writer, _ in CASES:
        writer(root / "cats" / name)
    (root / "dogs").mkdir()
    Image.new("RGB", (40, 30), (20, 90, 200)).save(root / "dogs" / "dog.jpg")  # not a copy of a cat
    (root / "empty_class").mkdir()
    (root / ".hidden_folder").mkdir()
    _rgb(root / ".hidden_folder" / "x.jpg")
    return root


@pytest.mark.parametrize("run_parameters, fix", [
    ({}, "pass skip_bad=True"),  # called from Python or a notebook without the parameter (03, 05)
    ({"SKIP_BAD_IMAGES": False}, "set SKIP_BAD_IMAGES = True (or `-p SKIP_BAD_IMAGES=True`)"),  # 04, 06
])
def test_bad_files_raise_one_error_that_names_each_file_and_the_fix(messy, monkeypatch, run_parameters, fix):
    record.current().parameters = dict(run_parameters)
    with pytest.raises(ImageFolderError) as err:
        scan_image_folder(messy)
    message = str(err.value)
    for name, _, outcome in CASES:
        assert (name in message) == (outcome == "skip"), name
    assert "empty_class/" in message
    assert fix in message
    assert ("SKIP_BAD_IMAGES" in message) == bool(run_parameters), "a parameter the notebook lacks is never named"


@pytest.mark.parametrize("name, outcome", [(n, o) for n, _, o in CASES])
def test_each_file_gets_its_expected_outcome(messy, name, outcome):
    found = scan_image_folder(messy, skip_bad=True)
    rel = f"cats/{name}"
    used = any(f.endswith(rel) for f in found.files)
    skipped = {p for p, _ in found.skipped}
    converted = {p for p, _ in found.converted}
    ignored = {p for p, _ in found.ignored}
    assert used == (outcome in ("ok", "convert"))
    assert (rel in skipped) == (outcome == "skip")
    assert (rel in converted) == (outcome == "convert")
    assert (rel in ignored) == (outcome == "ignore")


def test_skip_bad_keeps_the_good_files_with_right_labels(messy):
    found = scan_image_folder(messy, skip_bad=True)
    assert found.class_names == ["cats", "dogs"], "empty and hidden folders are not classes"
    assert found.counts() == {"cats": sum(o in ("ok", "convert") for *_, o in CASES), "dogs": 1}
    assert ("empty_class/", "empty class folder (no files in it)") in found.skipped
    report = found.report()
    assert "Left out (bad files)" in report and "Converted" in report


def test_a_class_whose_every_file_was_left_out_is_not_called_empty(tmp_path):
    from PIL import Image

    for cls in ("ok1", "ok2"):
        (tmp_path / cls).mkdir()
        Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / cls / "a.jpg")
    (tmp_path / "broken").mkdir()
    for i in range(3):
        (tmp_path / "broken" / f"{i}.jpg").write_bytes(b"not a photo")
    found = scan_image_folder(tmp_path, skip_bad=True)
    reasons = dict(found.skipped)
    assert reasons["broken/"] == ("every one of its 3 file(s) was left out (listed above): no usable image is left "
                                  "in this class")
    assert "broken/0.jpg" in reasons and found.class_names == ["ok1", "ok2"]


def test_every_accepted_file_decodes_in_tensorflow(messy):
    """"Accepted" must mean TensorFlow can read it: no surprise inside fit."""
    found = scan_image_folder(messy, skip_bad=True)
    [(x, y)] = read_like_the_lessons(found.files, found.labels, (32, 32), batch_size=64)
    assert x.shape == (len(found.files), 32, 32, 3) and x.dtype.name == "float32"
    assert sorted(np.asarray(y).tolist()) == sorted(found.labels)


def test_a_single_class_is_refused(tmp_path):
    _rgb(tmp_path / "only" / "a.jpg")
    with pytest.raises(ImageFolderError, match="at least 2"):
        scan_image_folder(tmp_path)


def test_a_missing_folder_says_what_is_expected(tmp_path):
    with pytest.raises(ImageFolderError, match="one sub-folder per class"):
        scan_image_folder(tmp_path / "nowhere")
