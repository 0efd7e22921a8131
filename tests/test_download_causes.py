"""`python -m course download` names what went wrong and what to do, cause by cause (held-back cause 6).

Every URL points at a server on 127.0.0.1 (tests/local_server.py) or at a closed local port: nothing here
touches the network. Each failure is one line per name (no traceback), keeps nothing half-written, and says
the fix that fits: a login page, no network, a changed file, a refusing server, a full disk, a target that
cannot be written; Ctrl-C is one line and exit status 130.
"""

import errno
import os

import pytest
from local_server import LocalServer, closed_port_url

from course import __main__, data, downloads

PAYLOAD = b"\x1f\x8b" + b"x" * 2000  # looks like a gzip file: the server's "file"


@pytest.fixture
def online(course_env, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    return course_env


def _point_mnist_at(monkeypatch, urls, checksum=None, size=None):
    spec = data.DATASETS["mnist"]
    remotes = tuple(downloads.Remote(url, checksum, size) for url in urls)
    monkeypatch.setitem(data.DATASETS, "mnist", spec.__class__(**{**spec.__dict__, "remotes": remotes}))


def _download(capsys, *args):
    code = __main__.main(["download", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _names(n=4):
    return [f"/mnist/{name}" for name in data.DATASETS["mnist"].required][:n]


def test_a_login_page_instead_of_the_file_is_named_with_what_to_do(online, monkeypatch, capsys):
    with LocalServer() as server:
        _point_mnist_at(monkeypatch, [server.add(path, b"", "login") for path in _names()])
        code, out, err = _download(capsys, "mnist")
    assert code == 1
    assert "answered with a web page instead of the file (text/html" in err
    assert "log in or accept the terms, then run the command again" in err
    assert not list((online["cache"] / "mnist").glob("*")), "no web page kept under a data file's name"


def test_no_network_says_to_connect_or_bring_a_mirror(online, monkeypatch, capsys):
    _point_mnist_at(monkeypatch, [closed_port_url(path) for path in _names()])
    code, out, err = _download(capsys, "mnist")
    assert code == 1 and err.startswith("FAILED  mnist: the network cannot be reached (")
    assert "COURSE_DATA_DIR=DIR" in err and "run the command again" in err


def test_a_file_that_is_not_the_published_one_is_named_and_not_kept(online, monkeypatch, capsys):
    with LocalServer() as server:
        _point_mnist_at(monkeypatch, [server.add(path, PAYLOAD) for path in _names()], checksum="sha256:" + "0" * 64)
        code, out, err = _download(capsys, "mnist")
    assert code == 1 and "is not the published one" in err and "nothing of it was kept" in err
    assert not [p for p in (online["cache"] / "mnist").glob("*") if p.is_file()]


def test_a_refusing_server_is_named_with_its_status(online, monkeypatch, capsys):
    with LocalServer() as server:
        _point_mnist_at(monkeypatch, [server.url(path) for path in _names()])  # nothing added: 404
        code, out, err = _download(capsys, "mnist")
    assert code == 1 and "(HTTP 404" in err and "data/README.md" in err


def test_a_full_disk_during_a_download_says_so_and_keeps_nothing(online, monkeypatch, capsys):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with LocalServer() as server:
        _point_mnist_at(monkeypatch, [server.add(path, PAYLOAD) for path in _names()])
        monkeypatch.setattr(downloads.shutil, "copyfileobj", full)
        code, out, err = _download(capsys, "mnist")
    assert code == 1 and "the disk is full" in err and "COURSE_CACHE_DIR" in err
    assert not list((online["cache"] / "mnist").glob("*.part-*")), "no half-written file left"


@pytest.mark.parametrize("blocked", ["read-only", "a file"])
def test_a_target_that_cannot_be_written_stops_before_any_download(online, monkeypatch, capsys, tmp_path, blocked):
    target = tmp_path / "mirror-target"
    if blocked == "a file":
        target.write_text("not a folder")
    else:
        target.mkdir()
        if os.geteuid() == 0:
            monkeypatch.setattr(downloads.storage, "check_writable", _read_only)  # root writes anywhere
        else:
            os.chmod(target, 0o555)
    with LocalServer() as server:
        _point_mnist_at(monkeypatch, [server.add(path, PAYLOAD) for path in _names()])
        code, out, err = _download(capsys, "mnist", "--to", str(target))
        assert server.requests == [], "nothing was downloaded into a place it could not be kept"
    assert code == 2 and err.startswith("error: ") and str(target) in err
    os.chmod(target, 0o755) if target.is_dir() else None


def _read_only(folder):
    raise downloads.storage.StorageError(errno.EROFS, downloads.storage.storage_message(
        folder, OSError(errno.EROFS, "Read-only file system")))


def test_ctrl_c_during_a_download_is_one_line_and_exit_130(online, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "download", interrupted)
    code = __main__.main(["download", "hotdog"])
    out, err = capsys.readouterr()
    assert code == 130 and "Traceback" not in err
    assert err.strip().splitlines() == [err.strip().splitlines()[0]] and err.strip().startswith("Stopped (Ctrl-C).")


def test_an_unknown_name_lists_the_known_ones(online, capsys):
    code, out, err = _download(capsys, "mnits")
    assert code == 1 and "unknown name 'mnits'" in err and "mnist" in err
