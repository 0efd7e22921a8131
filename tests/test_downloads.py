"""Downloads against a real HTTP server on 127.0.0.1, with real archives of real images.

The archives are built here in the upstream layouts from scikit-learn's handwritten digits saved as
JPEGs, or from the offline mirror's own photos when `COURSE_DATA_DIR` has them (that variant is skipped
otherwise). Only the URLs change (`DATASETS[...].remotes`); the course's download code runs as it would
against storage.googleapis.com or GitHub: checksums, a connection cut mid-transfer, redirects, a second
run served from the cache, damaged archives, leftovers of killed downloads.
"""

import dataclasses
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest
from local_server import LocalServer, closed_port_url
from weights import fake_weights

from course import backbones, data, downloads, fetch, networks, paths, record

FLOWERS = ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
GROCERY_ROOT = data.DATASETS["grocery"].archive_root
REAL_MIRROR = paths.mirror_dir()  # read before the `course_env` fixture points COURSE_DATA_DIR at an empty folder


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


@pytest.fixture
def online(course_env, monkeypatch):
    """The course env with downloads allowed: every URL in these tests points at 127.0.0.1."""
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    return course_env


def _digit_jpegs(n, offset=0):
    from PIL import Image
    from sklearn.datasets import load_digits

    images = load_digits().images
    out = []
    for img in images[offset : offset + n]:
        buffer = io.BytesIO()
        Image.fromarray((255 - img * 15).astype(np.uint8)).resize((48, 48)).convert("RGB").save(buffer, "JPEG")
        out.append(buffer.getvalue())
    return out


def _flower_files(source):
    """{path in the archive: bytes} in flower_photos.tgz's layout."""
    if source == "mirror":
        real = REAL_MIRROR / "flower_photos" if REAL_MIRROR else None
        if real is None or not (real / "daisy").is_dir():
            pytest.skip("needs the offline mirror's flower_photos (COURSE_DATA_DIR)")
        files = {f"flower_photos/{c}/{p.name}": p.read_bytes() for c in FLOWERS for p in sorted((real / c).glob("*.jpg"))[:3]}
    else:
        files = {f"flower_photos/{c}/{c}_{i}.jpg": jpg for k, c in enumerate(FLOWERS)
                 for i, jpg in enumerate(_digit_jpegs(3, offset=10 * k))}
    files["flower_photos/LICENSE.txt"] = b"All images are licensed under the Creative Commons By-Attribution License."
    return files


def _tgz(files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def _zip(files, compression=zipfile.ZIP_DEFLATED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, payload in files.items():
            zf.writestr(name, payload)
    return buffer.getvalue()


def _hotdog_zip():
    jpgs = _digit_jpegs(8)
    return _zip({f"hotdog/{split}/{cls}/{i}.jpg": jpgs[2 * j + k]
                 for j, (split, cls) in enumerate([(s, c) for s in ("train", "test") for c in ("hotdog", "not-hotdog")])
                 for k, i in enumerate((0, 1))})


def _grocery_files():
    jpgs = _digit_jpegs(6)
    root = f"{GROCERY_ROOT}/dataset"
    files, lines = {}, {"train": [], "val": [], "test": []}
    for i, split in enumerate(["train", "train", "val", "val", "test", "test"]):
        fine = "Golden-Delicious" if i % 2 == 0 else "Lemon"
        rel = f"{split}/Fruit/{fine}/{fine}_{i:03d}.jpg"
        files[f"{root}/{rel}"] = jpgs[i]
        lines[split].append(f"{rel}, {i % 2}, {i % 2}")
    for split, items in lines.items():
        files[f"{root}/{split}.txt"] = ("\n".join(items) + "\n").encode()
    files[f"{root}/classes.csv"] = b"Class Name,Class ID,Coarse Class Name,Coarse Class ID\nGolden-Delicious,0,Apple,0\nLemon,1,Lemon,1\n"
    return files


def _serve(server, monkeypatch, name, payload, *, mode="ok", checksum=True, path=None, tamper=False):
    """Serve `payload` as dataset `name`'s only download (sha256 and size as published, unless not)."""
    spec = data.DATASETS[name]
    path = path or f"/{name}/{spec.remotes[0].filename}"
    url = server.add(path, payload, mode)
    remote = downloads.Remote(url, None)
    if checksum:
        digest = "0" * 64 if tamper else hashlib.sha256(payload).hexdigest()
        remote = downloads.Remote(url, f"sha256:{digest}", len(payload))
    monkeypatch.setitem(data.DATASETS, name, dataclasses.replace(spec, remotes=(remote,)))
    return path


def _leftovers(folder, keep):
    return sorted(p.name for p in Path(folder).iterdir() if p.name not in keep)


@pytest.mark.parametrize("source", ["digits", "mirror"])
def test_download_extracts_the_real_layout_and_the_second_run_uses_the_cache(online, server, monkeypatch, source):
    files = _flower_files(source)
    path = _serve(server, monkeypatch, "flower_photos", _tgz(files))
    root = data.locate("flower_photos")
    assert root == online["cache"] / "flower_photos"
    assert record.current().sources["flower_photos"].startswith("real, downloaded")
    for name, payload in files.items():
        assert (root / name.removeprefix("flower_photos/")).read_bytes() == payload
    assert _leftovers(online["cache"], {"flower_photos"}) == [], "the archive and staging folder are removed"
    assert data.locate("flower_photos") == root and record.current().sources["flower_photos"].startswith("real, cache")
    assert server.count(path) == 1, "the second run must not make a request"


def test_checksum_refusal_keeps_nothing_and_says_so(online, server, monkeypatch, capsys):
    _serve(server, monkeypatch, "flower_photos", _tgz(_flower_files("digits")), tamper=True)
    monkeypatch.setenv("COURSE_SMOKE", "0")
    with pytest.raises(data.DataUnavailableError, match=r"the download failed \(.*sha256 [0-9a-f]{64}, expected 0{64}"):
        data.locate("flower_photos")
    assert list(online["cache"].iterdir()) == []
    monkeypatch.setenv("COURSE_SMOKE", "1")  # smoke mode: the announced stand-in, with the reason
    data.locate("flower_photos")
    assert record.current().sources["flower_photos"].startswith("STAND-IN")
    assert "expected 0000" in capsys.readouterr().out


@pytest.mark.parametrize("name, checksum", [("flower_photos", True), ("grocery", False)])
def test_a_connection_cut_mid_transfer_is_reported_as_interrupted(online, server, monkeypatch, name, checksum):
    payload = _tgz(_flower_files("digits")) if name == "flower_photos" else _zip(_grocery_files())
    _serve(server, monkeypatch, name, payload, mode="cut", checksum=checksum)
    with pytest.raises(downloads.DownloadInterruptedError) as err:
        data.download(name)
    assert f"{len(payload) // 2:,} of {len(payload):,} bytes arrived" in str(err.value)
    assert "interrupted" in str(err.value) and "run the command again" in str(err.value)
    assert list(online["cache"].iterdir()) == [], "nothing of a cut download is kept"
    monkeypatch.setenv("COURSE_SMOKE", "0")
    with pytest.raises(data.DataUnavailableError, match="interrupted"):
        data.locate(name)


def test_redirects_are_followed_like_githubs_archive_links(online, server, monkeypatch):
    payload = _zip(_grocery_files())
    server.add("/codeload/grocery.zip", payload)
    path = _serve(server, monkeypatch, "grocery", "/codeload/grocery.zip", mode="redirect", checksum=False,
                  path=f"/archive/{data._GROCERY_COMMIT}.zip")
    root = data.locate("grocery")
    assert (root / "dataset" / "classes.csv").exists() and (root / "dataset" / "test.txt").exists()
    assert len(list(root.rglob("*.jpg"))) == 6
    assert server.requests == [path, "/codeload/grocery.zip"]


def test_a_damaged_zip_is_a_clear_error_and_download_all_goes_on(online, server, monkeypatch, capsys):
    files = _grocery_files()
    victim = next(n for n in files if n.endswith(".jpg"))
    payload = bytearray(_zip(files, zipfile.ZIP_STORED))
    start = bytes(payload).index(files[victim])
    payload[start + 100] ^= 0xFF  # one flipped byte in one photo: a bad CRC, found while extracting
    _serve(server, monkeypatch, "grocery", bytes(payload), checksum=False)
    _serve(server, monkeypatch, "hotdog", _hotdog_zip())
    mirror = online["tmp"] / "workshop-mirror"
    assert fetch.download_command(["grocery", "hotdog"], False, str(mirror)) == 1
    err = capsys.readouterr().err
    assert "FAILED  grocery: " in err and "is damaged and cannot be extracted" in err
    assert "is not the published one" in err and "nothing of it was kept" in err
    assert "Bad CRC-32" in err and "run the command again" in err and "1 of 2 failed: grocery" in err
    assert (mirror / "hotdog" / "train" / "hotdog").is_dir(), "the datasets after the damaged one are downloaded"
    assert _leftovers(mirror, {"hotdog"}) == [], "no archive or half-extracted folder is left"


def test_leftovers_of_killed_downloads_are_removed_but_not_a_live_ones(online, server, monkeypatch, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        cache = online["cache"]
        (cache / f".flower_photos.tgz.part-{dead.pid}").write_bytes(b"x" * 1000)
        (cache / f".flower_photos.extracting-{dead.pid}" / "flower_photos").mkdir(parents=True)
        (cache / f".flower_photos.tgz.part-{live.pid}").write_bytes(b"y" * 10)
        _serve(server, monkeypatch, "flower_photos", _tgz(_flower_files("digits")))
        data.download("flower_photos")
        assert _leftovers(cache, {"flower_photos"}) == [f".flower_photos.tgz.part-{live.pid}"]
        assert f".flower_photos.tgz.part-{dead.pid}" in capsys.readouterr().out, "the clean-up is announced"
        os.utime(cache / f".flower_photos.tgz.part-{live.pid}", (0, 0))  # untouched for decades: stale, live or not
        assert [p.name for p in downloads.clean_stale(cache)] == [f".flower_photos.tgz.part-{live.pid}"]
    finally:
        live.kill()
        live.wait()


def test_an_unreachable_host_fails_at_once_and_is_not_retried(online, monkeypatch, capsys):
    url = closed_port_url("/mnist/train-images-idx3-ubyte.gz")
    spec = data.DATASETS["mnist"]
    monkeypatch.setitem(data.DATASETS, "mnist", dataclasses.replace(spec, remotes=(downloads.Remote(url, None),)))
    data.locate("mnist")  # smoke mode: the stand-in, after one refused connection
    assert record.current().sources["mnist"].startswith("STAND-IN")
    assert "refused" in capsys.readouterr().out
    assert downloads.unreachable(url)
    with pytest.raises(urllib.error.URLError, match="not retried yet"):
        downloads.fetch(downloads.Remote(url, None), online["tmp"] / "again.gz")


def test_a_mirror_made_by_the_download_command_is_then_used_without_a_request(online, server, monkeypatch):
    path = _serve(server, monkeypatch, "hotdog", _hotdog_zip())
    mirror = online["tmp"] / "workshop-mirror"
    assert fetch.download_command(["hotdog"], False, str(mirror)) == 0
    monkeypatch.setenv("COURSE_DATA_DIR", str(mirror))
    assert data.locate("hotdog") == mirror / "hotdog"
    assert record.current().sources["hotdog"].startswith("real, mirror $COURSE_DATA_DIR/hotdog (")
    assert server.count(path) == 1


@pytest.mark.parametrize("mode, expected", [
    ("ok", None),
    ("cut", "FAILED  imagenet:mobilenet_025: The download of .* was interrupted"),
    ("garbage", "the downloaded file is damaged \\(HDF5 cannot read it.* is not the published one"),
    ("page", "answered with a web page instead of the file"),
])
def test_weights_downloads_are_checked_before_they_are_kept(online, server, monkeypatch, capsys, mode, expected):
    payload = ({"garbage": b"\x00\x01not HDF5" * 100, "page": b"<html>Service unavailable</html>"}.get(mode)
               or fake_weights(file="mobilenet_2_5_224_tf_no_top.h5"))
    server.add("/keras-applications/mobilenet/mobilenet_2_5_224_tf_no_top.h5", payload, "cut" if mode == "cut" else "ok")
    monkeypatch.setattr(networks, "KERAS_WEIGHTS_URL", server.url("/keras-applications/"))
    mirror = online["tmp"] / "workshop-mirror"
    rc = fetch.download_command(["imagenet:mobilenet_025"], False, str(mirror))
    models = mirror / "keras_home" / "models"
    if expected is None:
        assert rc == 0 and (models / "mobilenet_2_5_224_tf_no_top.h5").read_bytes() == payload
    else:
        assert rc == 1 and os.listdir(models) == [], "a bad download leaves nothing, not even a .part file"
        assert re.search(expected, capsys.readouterr().err)


def test_every_documented_download_command_names_things_the_course_knows():
    """A `python -m course download NAME ...` copied from the docs must not fail on a renamed dataset or network."""

    sources = [paths.REPO_ROOT / "README.md", paths.REPO_ROOT / "data" / "README.md", *paths.REPO_ROOT.glob("docs/*.md")]
    known = set(data.DATASETS) | set(backbones.downloadable())
    commands = []
    for source in sources:
        text = source.read_text(encoding="utf-8").replace("\\\n", " ")  # shell continuation lines
        for args in re.findall(r"python -m course download ([^\n#`]*)", text):
            names = [a for a in args.split() if not a.startswith("-") and not a.startswith("/")]
            commands.append((source.name, names))
            unknown = [n for n in names if n not in known and n != "--all"]
            assert not unknown, f"{source.name}: `python -m course download {args.strip()}` names unknown {unknown}"
    assert any(names for _, names in commands), commands  # the pattern still finds the commands with names
