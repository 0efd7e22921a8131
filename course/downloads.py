"""Downloads that are checked, atomic and quick to give up: a file is either whole and verified, or absent.

`fetch(remote, dest)` streams into `<dest>.part-<pid>`, checks the size the server announced and the
published checksum, and only then renames it into place; `safe_extract` refuses archive entries that would
land outside the target. A host that cannot be reached is not tried again for a minute (`unreachable`).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import record, storage


class ChecksumError(RuntimeError):
    """A downloaded file is damaged or does not match its published checksum; it was deleted, never trusted."""


class DownloadInterruptedError(ConnectionError):
    """The server closed the connection before the whole file arrived; nothing of it was kept."""


class LoginPageError(ChecksumError):
    """A web page arrived where a data file was expected: a Wi-Fi login page, a proxy or a firewall answered."""


class UnsafeArchiveError(RuntimeError):
    """An archive holds an entry that would land outside the target folder, or a link."""


@dataclass(frozen=True)
class Remote:
    """One file to download: where from, its checksum ("sha256:…", "sha1:…", "md5:…" or None) and size."""

    url: str
    checksum: str | None
    size: int | None = None

    @property
    def filename(self) -> str:
        return PurePosixPath(self.url.split("?")[0]).name


#: Seconds a download waits for a server to answer or to send its next block. Short, so that a machine
#: without network falls back to the mirror, the cache or a stand-in quickly instead of hanging.
TIMEOUT = 20

#: A host that could not be reached (no network, DNS failure, firewall) is not tried again for this
#: many seconds, so that one notebook without network pays for one failed connection, not ten.
UNREACHABLE_FOR = 60.0


def file_checksum(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, remote: Remote) -> None:
    """Raise `ChecksumError` (and delete the file) when `path` does not match `remote`'s checksum/size."""
    problem = None
    if remote.size is not None and path.stat().st_size != remote.size:
        problem = f"size {path.stat().st_size:,} bytes, expected {remote.size:,}"
    elif remote.checksum:
        algorithm, expected = remote.checksum.split(":", 1)
        actual = file_checksum(path, algorithm)
        if actual != expected:
            problem = f"{algorithm} {actual}, expected {expected}"
    if problem:
        path.unlink(missing_ok=True)
        raise ChecksumError(
            f"{remote.url} downloaded with {problem}. The file was deleted. The download was "
            f"interrupted or the server changed the file; run the command again, and if it fails the "
            f"same way, fetch the file by hand as data/README.md describes."
        )


#: What killed downloads, extractions and exports leave: `<name>.part-<pid>`, `.<name>.extracting-<pid>`, ...
LEFTOVER = r"\.(?:part|extracting|exporting)-(\d+)$"


def clean_stale(folder: Path, max_age_s: float = 24 * 3600) -> list[Path]:
    """Remove what killed downloads, extractions and exports left in `folder` (their process is gone, or
    nothing touched them for a day); a live process's are kept. Returns what went, and says so."""
    removed = storage.clean_leftovers(folder, LEFTOVER, max_age_s)
    if removed:
        print(f"Removed {len(removed)} leftover(s) of interrupted downloads in {folder}: "
              + ", ".join(p.name for p in removed))
    return removed


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).hostname or url


def unreachable(url: str) -> str | None:
    """Why `url`'s host could not be reached in the last `UNREACHABLE_FOR` seconds, or None."""
    seen = record.current().unreachable.get(_host(url))
    if seen and time.monotonic() - seen[0] < UNREACHABLE_FOR:
        return f"{_host(url)} could not be reached a moment ago: {seen[1]}; not retried yet"
    return None


def note_unreachable(url: str, err: BaseException) -> None:
    """Remember a failed connection (no network, DNS, firewall; not an HTTP error) to `url`'s host."""
    reason = getattr(err, "reason", err)
    if isinstance(err, OSError) and not isinstance(err, urllib.error.HTTPError) and isinstance(reason, OSError):
        record.current().unreachable[_host(url)] = (time.monotonic(), str(reason))


def _transfer(url: str, part: Path) -> None:
    """Stream `url` into `part`; raise `DownloadInterruptedError` when the transfer stops short.

    `urllib` returns a short read silently when a server closes the connection early, so the bytes
    received are compared with the `Content-Length` the server announced.
    """
    reason = unreachable(url)
    if reason:
        raise urllib.error.URLError(reason)
    try:
        response = urllib.request.urlopen(url, timeout=TIMEOUT)
    except OSError as err:
        note_unreachable(url, err)
        raise
    with response, open(part, "wb") as out:
        announced = response.headers.get("Content-Length", "")
        kind = response.headers.get("Content-Type", "")
        expected = f" of {int(announced):,}" if announced.isdigit() else ""
        try:
            first = response.read(512)
            if _looks_like_a_web_page(first, kind, url):
                raise LoginPageError(
                    f"{url} answered with a web page instead of the file ({kind or 'HTML'}): the network you are on "
                    f"shows a login or terms page (hotel or campus Wi-Fi), or a proxy or firewall blocks the "
                    f"download. Open any web page in a browser, log in or accept the terms, then run the command "
                    f"again.")
            out.write(first)
            shutil.copyfileobj(response, out, 1 << 20)
        except (ConnectionError, TimeoutError, http.client.IncompleteRead) as err:
            raise DownloadInterruptedError(
                f"The download of {url} was interrupted after {out.tell():,}{expected} bytes "
                f"({type(err).__name__}: {err}). Nothing was kept; run the command again."
            ) from None
        received = out.tell()
    if expected and received != int(announced):
        raise DownloadInterruptedError(
            f"The download of {url} was interrupted: {received:,}{expected} bytes arrived before the "
            f"server closed the connection. Nothing was kept; run the command again."
        )


def _looks_like_a_web_page(first: bytes, content_type: str, url: str) -> bool:
    if url.lower().split("?")[0].endswith((".html", ".htm", ".json", ".txt")):
        return False
    start = first.lstrip()[:15].lower()
    return "text/html" in content_type.lower() or start.startswith((b"<!doctype html", b"<html"))


def explain(err: BaseException, target: Path | None = None) -> str:
    """What went wrong with a download, and what to do, in one or two sentences."""
    import socket

    if isinstance(err, (LoginPageError, UnsafeArchiveError)):
        return str(err)
    if isinstance(err, storage.StorageError) or (isinstance(err, OSError) and storage.is_storage_problem(err)):
        return storage.storage_message(target or getattr(err, "filename", None) or "the download folder", err)
    if isinstance(err, ChecksumError):
        return (f"{err} The file that arrived is not the published one (a damaged transfer, or the server changed "
                f"it); nothing of it was kept.")
    if isinstance(err, DownloadInterruptedError):
        return f"{err}"
    if isinstance(err, urllib.error.HTTPError):
        return (f"the server refused {err.url} (HTTP {err.code} {err.reason}): the file may have moved; data/README.md "
                f"says where each file comes from, to fetch it by hand.")
    reason = getattr(err, "reason", err)
    if isinstance(reason, (socket.gaierror, ConnectionError, TimeoutError, OSError)) or isinstance(err, OSError):
        return (f"the network cannot be reached ({reason}): connect to the internet and run the command again, or "
                f"copy an offline mirror made on another machine (`python -m course download --all --to DIR` there, "
                f"then COURSE_DATA_DIR=DIR here).")
    return f"{type(err).__name__}: {err}"


def fetch(remote: Remote, dest: Path, *, check=None) -> Path:
    """Download `remote` to `dest` atomically: a `.part` file is verified, then renamed into place.

    `check(part)`, if given, runs after the checksum and may raise `ChecksumError` (e.g. a weights file
    that HDF5 cannot read). A killed download leaves only the `.part` file, which nothing ever reads and
    the next download into the same folder removes (`clean_stale`), so a later run can never trust a
    half-written file. A connection closed before `Content-Length` bytes arrived raises
    `DownloadInterruptedError`, whatever the checksum would have said.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(dest.parent)
    part = dest.with_name(f"{dest.name}.part-{os.getpid()}")
    print(f"Downloading {remote.url} -> {dest}")
    try:
        _transfer(remote.url, part)
        verify(part, remote)
        if check is not None:
            check(part)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return dest


#: What a failed download raises; `locate` and `python -m course download` turn these into clear messages.
DOWNLOAD_ERRORS = (OSError, http.client.HTTPException, ChecksumError, UnsafeArchiveError)


def _check_member(name: str, target: Path, is_link: bool) -> None:
    path = PurePosixPath(name)
    if is_link:
        raise UnsafeArchiveError(f"archive entry {name!r} is a link; links are refused")
    if path.is_absolute() or name.startswith(("/", "\\")) or ".." in path.parts or ":" in path.parts[0]:
        raise UnsafeArchiveError(f"archive entry {name!r} would be written outside {target}")


def safe_extract(archive: Path, target: Path) -> None:
    """Extract a .zip/.tar(.gz) into `target`, refusing absolute paths, `..` entries and any link.

    Every entry is checked before anything is written, so an unsafe archive writes nothing at all. A
    damaged archive (a bad CRC, a cut-short file) raises `ChecksumError`; it may have written part of
    its entries, so extract into a staging folder (as `download` does).
    """
    target.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
                    _check_member(info.filename, target, is_link)
                zf.extractall(target)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                for m in members:
                    _check_member(m.name, target, m.issym() or m.islnk())
                    if not (m.isfile() or m.isdir()):
                        raise UnsafeArchiveError(f"archive entry {m.name!r} is not a plain file or folder")
                tf.extractall(target, members=members, filter="data")
        else:
            raise ChecksumError(f"{archive.name} is not a complete zip or tar archive (cut short or damaged)")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as err:
        raise ChecksumError(f"{archive.name} is damaged and cannot be extracted ({type(err).__name__}: {err})") from None


