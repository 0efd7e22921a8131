"""The data layer: resolution order, verified atomic downloads, safe extraction, stand-ins."""

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import write_idx, write_idx_dataset
from course import data, downloads, record


def test_mirror_hit_is_used_and_reported(course_env):
    write_idx_dataset(course_env["mirror"] / "mnist", n_train=6, n_test=4, value=1)
    write_idx_dataset(course_env["cache"] / "mnist", n_train=3, n_test=2, value=2)
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert x_train.shape == (6, 28, 28) and x_test.shape == (4, 28, 28)
    assert (x_train == 1).all(), "the mirror must win over the cache"
    assert list(y_train) == [0, 1, 2, 3, 4, 5]
    assert record.current().sources["mnist"].startswith("real, mirror")
    assert "6 train / 4 test" in record.current().sources["mnist"]


def test_cache_hit_when_the_mirror_lacks_the_dataset(course_env):
    write_idx_dataset(course_env["cache"] / "mnist", n_train=3, n_test=2, value=2)
    (x_train, _), _ = data.load_mnist()
    assert (x_train == 2).all() and len(x_train) == 3
    assert record.current().sources["mnist"].startswith("real, cache")


def test_mirror_alias_reads_a_copied_keras_home(course_env):
    write_idx_dataset(course_env["mirror"] / "keras_home" / "datasets" / "fashion-mnist", n_train=5)
    (x_train, _), _ = data.load_fashion_mnist()
    assert len(x_train) == 5
    assert "keras_home/datasets/fashion-mnist" in record.current().sources["fashion_mnist"]


def test_incomplete_mirror_folder_is_not_trusted(course_env):
    write_idx_dataset(course_env["mirror"] / "mnist")
    (course_env["mirror"] / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    write_idx_dataset(course_env["cache"] / "mnist", value=3)
    (x_train, _), _ = data.load_mnist()
    assert (x_train == 3).all()


def test_offline_miss_in_smoke_mode_gives_an_announced_stand_in(course_env, capsys):
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert x_train.shape == (1500, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (297, 28, 28)
    assert set(np.unique(y_train)) == set(range(10))
    assert x_train.max() == 255 and x_train[:, :4].max() == 0, "digits are centred with an empty border, like MNIST"
    assert "STAND-IN DATA for mnist" in capsys.readouterr().out
    assert record.current().sources["mnist"].startswith("STAND-IN")


@pytest.mark.parametrize("name", ["flower_photos", "hotdog", "grocery"])
def test_image_folder_stand_ins_have_the_upstream_layout(course_env, name):
    root = data.locate(name)
    assert record.current().sources[name].startswith("STAND-IN")
    for required in data.DATASETS[name].required:
        assert (root / required).exists(), required
    assert len(list(root.rglob("*.jpg"))) >= 40


def test_grocery_stand_in_split_files_name_existing_images(course_env):
    root = data.locate("grocery") / "dataset"
    data._check_grocery_files(root)  # raises if a listed file is missing
    header = (root / "classes.csv").read_text().splitlines()[0]
    assert header.startswith("Class Name,Class ID,Coarse Class Name,Coarse Class ID")


def test_offline_miss_in_full_mode_is_a_clear_error(course_env, monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "0")
    with pytest.raises(data.DataUnavailableError) as err:
        data.locate("hotdog")
    message = str(err.value)
    assert "python -m course download hotdog" in message
    assert "data/README.md" in message and "COURSE_DATA_DIR" in message
    assert "hotdog" not in record.current().sources


def test_unknown_dataset_names_the_known_ones(course_env):
    with pytest.raises(KeyError, match="flower_photos"):
        data.locate("flowers")


# --- downloads ---------------------------------------------------------------------------------


def _remote_for(path: Path, algorithm="sha256", tamper=False):
    digest = hashlib.new(algorithm, path.read_bytes()).hexdigest()
    if tamper:
        digest = "0" * len(digest)
    return downloads.Remote(path.as_uri(), f"{algorithm}:{digest}", path.stat().st_size)


@pytest.mark.parametrize("algorithm", ["sha256", "sha1", "md5"])
def test_download_verifies_and_places_the_file(tmp_path, algorithm):
    source = tmp_path / "source.bin"
    source.write_bytes(b"real bytes" * 100)
    dest = tmp_path / "cache" / "file.bin"
    downloads.fetch(_remote_for(source, algorithm), dest)
    assert dest.read_bytes() == source.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["file.bin"]


def test_checksum_mismatch_raises_and_leaves_no_trusted_file(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"tampered")
    dest = tmp_path / "cache" / "file.bin"
    with pytest.raises(downloads.ChecksumError, match="deleted"):
        downloads.fetch(_remote_for(source, tamper=True), dest)
    assert list(dest.parent.iterdir()) == []


def test_size_mismatch_is_caught_before_hashing(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"short")
    remote = downloads.Remote(source.as_uri(), "sha256:" + "0" * 64, 10_000)
    with pytest.raises(downloads.ChecksumError, match="size 5 bytes, expected 10,000"):
        downloads.fetch(remote, tmp_path / "out" / "f")


def test_interrupted_download_leaves_nothing_behind(tmp_path, monkeypatch):
    class Broken(io.BytesIO):
        headers = {"Content-Length": "1000"}

        def read(self, *args):
            raise ConnectionResetError("connection lost halfway")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(downloads.urllib.request, "urlopen", lambda *a, **k: Broken())
    dest = tmp_path / "cache" / "file.bin"
    with pytest.raises(downloads.DownloadInterruptedError, match=r"interrupted after 0 of 1,000 bytes \(ConnectionResetError"):
        downloads.fetch(downloads.Remote("https://example.invalid/file.bin", None), dest)
    assert list(dest.parent.iterdir()) == [], "no partial file may survive"


def test_download_of_a_single_file_dataset_uses_the_registry(course_env, monkeypatch):
    src = course_env["tmp"] / "upstream"
    write_idx_dataset(src, value=9)
    remotes = tuple(_remote_for(src / name) for name in data._IDX)
    monkeypatch.setitem(data.DATASETS, "mnist", data.DATASETS["mnist"].__class__(
        **{**data.DATASETS["mnist"].__dict__, "remotes": remotes}))
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    (x_train, _), _ = data.load_mnist()
    assert (x_train == 9).all()
    assert record.current().sources["mnist"].startswith("real, downloaded")
    assert (course_env["cache"] / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()


def test_archive_dataset_is_extracted_atomically(course_env, monkeypatch):
    archive = course_env["tmp"] / "flower_photos.tgz"
    with tarfile.open(archive, "w:gz") as tf:
        names = [f"flower_photos/{c}/a.jpg" for c in ("daisy", "dandelion", "roses", "sunflowers", "tulips")]
        for name in [*names, "flower_photos/LICENSE.txt"]:
            payload = b"x" * 10
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))
    spec = data.DATASETS["flower_photos"]
    monkeypatch.setitem(data.DATASETS, "flower_photos", spec.__class__(**{**spec.__dict__, "remotes": (_remote_for(archive),)}))
    root = data.download("flower_photos", course_env["tmp"] / "mirror2")
    assert root == course_env["tmp"] / "mirror2" / "flower_photos"
    assert (root / "daisy" / "a.jpg").read_bytes() == b"x" * 10
    leftovers = [p.name for p in root.parent.iterdir() if p.name != "flower_photos"]
    assert leftovers == [], f"staging folders or archives left behind: {leftovers}"


# --- archives ----------------------------------------------------------------------------------


def _zip(path, entries):
    with zipfile.ZipFile(path, "w") as zf:
        for name, payload, is_link in entries:
            info = zipfile.ZipInfo(name)
            if is_link:
                info.external_attr = (0o120777 << 16)
            zf.writestr(info, payload)
    return path


def _tar(path, entries):
    with tarfile.open(path, "w") as tf:
        for name, payload, kind in entries:
            info = tarfile.TarInfo(name)
            if kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, "../../outside"
            info.size = 0 if kind else len(payload)
            tf.addfile(info, None if kind else io.BytesIO(payload))
    return path


@pytest.mark.parametrize(
    "maker, entries",
    [
        (_zip, [("ok/a.txt", b"a", False), ("../evil.txt", b"x", False)]),
        (_zip, [("ok/a.txt", b"a", False), ("/tmp/evil-abs.txt", b"x", False)]),
        (_zip, [("ok/a.txt", b"a", False), ("ok/link", "/etc/passwd", True)]),
        (_tar, [("ok/a.txt", b"a", None), ("ok/../../evil.txt", b"x", None)]),
        (_tar, [("ok/a.txt", b"a", None), ("/tmp/evil-abs.txt", b"x", None)]),
        (_tar, [("ok/a.txt", b"a", None), ("ok/link", b"", "sym")]),
        (_tar, [("ok/a.txt", b"a", None), ("ok/hard", b"", "hard")]),
    ],
    ids=["zip-dotdot", "zip-absolute", "zip-symlink", "tar-dotdot", "tar-absolute", "tar-symlink", "tar-hardlink"],
)
def test_unsafe_archives_are_refused_and_write_nothing(tmp_path, maker, entries):
    archive = maker(tmp_path / "bad.archive", entries)
    target = tmp_path / "box" / "target"
    with pytest.raises(downloads.UnsafeArchiveError):
        downloads.safe_extract(archive, target)
    assert list(target.iterdir()) == [], "a refused archive must write nothing, not even its good entries"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.archive", "box"]


def test_safe_extract_accepts_a_normal_archive(tmp_path):
    archive = _zip(tmp_path / "good.zip", [("top/a.txt", b"a", False), ("top/sub/b.txt", b"b", False)])
    downloads.safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "top" / "sub" / "b.txt").read_bytes() == b"b"


def test_damaged_idx_file_is_reported(tmp_path):
    path = tmp_path / "x.gz"
    write_idx(path, np.zeros((4, 28, 28)))
    import gzip

    raw = gzip.open(path).read()
    with gzip.open(path, "wb") as f:
        f.write(raw[:-100])
    with pytest.raises(ValueError, match="damaged"):
        data.read_idx(path)


def test_registry_entries_are_complete():
    for ds in data.DATASETS.values():
        assert ds.licence and ds.homepage.startswith("http") and ds.remotes and ds.required and ds.standin
        for remote in ds.remotes:
            assert remote.url.startswith(("https://", "http://"))
            if remote.checksum is not None:
                algorithm, digest = remote.checksum.split(":")
                assert len(digest) == hashlib.new(algorithm).digest_size * 2
        if ds.remotes[0].checksum is None:
            assert "checked" in ds.notes, f"{ds.name}: say how an unchecksummed download is verified"


def test_an_archive_that_lacks_classes_is_refused_and_nothing_kept(course_env, monkeypatch):
    archive = course_env["tmp"] / "flower_photos.tgz"
    with tarfile.open(archive, "w:gz") as tf:
        for name in ["flower_photos/daisy/a.jpg", "flower_photos/roses/b.jpg"]:
            info = tarfile.TarInfo(name)
            info.size = 1
            tf.addfile(info, io.BytesIO(b"x"))
    spec = data.DATASETS["flower_photos"]
    monkeypatch.setitem(data.DATASETS, "flower_photos", spec.__class__(**{**spec.__dict__, "remotes": (_remote_for(archive),)}))
    with pytest.raises(downloads.ChecksumError, match="did not contain flower_photos/ with daisy"):
        data.download("flower_photos", course_env["tmp"] / "mirror2")
    assert not (course_env["tmp"] / "mirror2" / "flower_photos").exists()
