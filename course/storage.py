"""Writing files that are never half-written, never mixed up between runs, and fail with one clear line.

- `StorageError` / `storage_error(path, err)`: a write that failed (full disk, read-only folder, a file where
  a folder should be), with a message that names the folder and the setting that moves it elsewhere.
- `write_atomic(path, content)`: a temporary file in the same folder, then `os.replace`: readers see the old
  file or the new one, never half of one.
- `set_aside(path)`: move a damaged file or folder out of the way (`<name>.damaged-<time>`), never delete it.
- `try_lock` / `lock` / `release`: an exclusive lock on a small file (`fcntl.flock`; `msvcrt` on Windows),
  dropped by the operating system when the process ends, however it ends.
- `pid_alive` / `clean_leftovers`: what a killed process left behind is removed by the next one.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from . import paths

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

#: errno values that mean "this folder cannot take the write": full disk or quota, read-only, no permission,
#: a file where a folder should be.
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EEXIST}


class StorageError(OSError):
    """A course file could not be written (full disk, read-only folder): the message says what to do."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def _inside(path, folder) -> bool:
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(folder))
        return True
    except ValueError:
        return False


def where_to(path) -> str:
    """How to put what is written at `path` somewhere else: the setting that names its folder."""
    checks = [
        (paths.build_dir(), "point COURSE_BUILD_DIR at a folder on a disk with space that you can write to "
                            "(e.g. COURSE_BUILD_DIR=/tmp/course-build)"),
        (paths.cache_dir(), "point COURSE_CACHE_DIR at a folder on a disk with space that you can write to"),
        (paths.keras_home(), "point KERAS_HOME at a folder you can write to (Keras keeps downloaded weights and "
                             "datasets there; copy the old one over if it held any)"),
        (paths.REPO_ROOT, "make the course's folder writable, or work in a copy of it you own"),
    ]
    for folder, advice in checks:
        if _inside(path, folder):
            return advice
    return "choose a folder on a disk with space that you can write to"


def _errno_of(text: str) -> int | None:
    match = re.search(r"\[Errno (\d+)\]|errno = (\d+)|error code (\d+)", text)
    if match:
        return int(next(g for g in match.groups() if g))
    lowered = text.lower()
    for words, number in (("no space left", errno.ENOSPC), ("disk quota", errno.EDQUOT),
                          ("read-only file system", errno.EROFS), ("permission denied", errno.EACCES),
                          ("not a directory", errno.ENOTDIR), ("resource_exhausted", errno.ENOSPC)):
        if words in lowered:
            return number
    return None


def storage_message(path, err: BaseException) -> str:
    """One line for a failed write under `path`: what happened and what to do.

    Works for errors that carry no errno too: TensorFlow, h5py and NumPy report a full disk or a read-only
    folder only in their message text ("No space left on device", "errno = 28").
    """
    if isinstance(err, StorageError):
        return str(err)
    number = err.errno if isinstance(err, OSError) and err.errno else _errno_of(str(err))
    what = (err.strerror if isinstance(err, OSError) and err.strerror else None) or str(err).splitlines()[0][:200]
    if number in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full: no space left to write {path}. Free some space, or {where_to(path)}."
    if number in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{path} is read-only ({what}): {where_to(path)}."
    if number in (errno.ENOTDIR, errno.EEXIST):
        return f"{path} cannot be a folder: a file of that name is in the way ({what}). Move that file, or {where_to(path)}."
    return f"cannot write {path} ({what})"


def mentioned_path(text: str) -> str | None:
    """The file an error message names, if any: TensorFlow, h5py and NumPy put it in quotes or after `name = `."""
    found = re.search(r"""name = '([^']+)'|['"](/[^'"\s]+)['"]|(?<![\w])(/(?:[\w.+-]+/)+[\w.+-]+)""", str(text))
    return next((g for g in found.groups() if g), None) if found else None


def is_storage_problem(err: BaseException) -> bool:
    """True when `err` is a full disk, a read-only folder or a file in a folder's place (errno or message)."""
    number = err.errno if isinstance(err, OSError) and err.errno else _errno_of(str(err))
    return number in STORAGE_ERRNOS


def storage_error(path, err: BaseException) -> StorageError:
    if isinstance(err, StorageError):
        return err
    number = err.errno if isinstance(err, OSError) and err.errno else _errno_of(str(err))
    return StorageError(number or errno.EIO, storage_message(path, err))


def make_dir(path: Path) -> Path:
    """`mkdir -p`, with a `StorageError` that names the folder when it cannot be made."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise storage_error(path, err) from None
    return path


def check_writable(folder: Path) -> Path:
    """Make `folder` and write a small probe into it, up front: a `StorageError` naming the fix if it cannot."""
    folder = make_dir(Path(folder))
    probe = folder / f".write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"x" * 4096)
    except OSError as err:
        raise storage_error(folder, err) from None
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass
    return folder


def write_atomic(path: Path, content: str | bytes | Callable[[Path], None]) -> Path:
    """Write `content` to `path` through a temporary file in the same folder and `os.replace`.

    `content` is text, bytes, or a function that writes a given path (`lambda tmp: np.save(tmp, array)`).
    A failure leaves the old file as it was and raises `StorageError` for a full disk or read-only folder.
    """
    path = Path(path)
    make_dir(path.parent)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        if callable(content):
            content(tmp)
        else:
            with open(tmp, "wb") as f:
                f.write(content.encode("utf-8") if isinstance(content, str) else content)
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except Exception as err:
        tmp.unlink(missing_ok=True)
        if is_storage_problem(err):
            raise storage_error(path.parent, err) from None
        raise
    return path


def set_aside(path: Path) -> Path:
    """Move a damaged file or folder to `<name>.damaged-<time>` beside it (never deleted); return the new path."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    try:
        os.replace(path, aside)
    except OSError as err:
        raise storage_error(path.parent, err) from None
    return aside


def remove(path: Path) -> None:
    """Delete a file or a folder tree, whichever `path` is; nothing if it is gone."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def hdf5_problem(path: Path, check=None) -> str | None:
    """None when HDF5 reads every array in the file in full (a file cut short fails here), else what is wrong.

    `check(h5file)` may return a problem before the arrays are read (e.g. "not a Keras weights file").
    """
    import h5py

    count = 0

    def read(_name, item):
        nonlocal count
        if isinstance(item, h5py.Dataset):
            item[()]
            count += 1

    try:
        with h5py.File(path, "r") as f:
            problem = check(f) if check else None
            if problem:
                return problem
            f.visititems(read)
    except Exception as err:  # noqa: BLE001 - h5py raises OSError, KeyError, RuntimeError... for damaged files
        return f"HDF5 cannot read it ({type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else ''})"
    return None if count else "holds no arrays"


# --- processes and what they leave behind ---------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """True while process `pid` runs (this process included); on Windows, always (`os.kill` would signal it)."""
    if pid == os.getpid() or sys.platform == "win32":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, it is another user's
        return True
    return True


def clean_leftovers(folder: Path, pattern: str, max_age_s: float | None = None) -> list[Path]:
    """Remove files and folders in `folder` named by `pattern` (one `(\\d+)` group: the pid that wrote them)
    whose process is gone, or, with `max_age_s`, that nothing touched for that long. Returns what went."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for path in entries:
        match = re.search(pattern, path.name)
        if not match or int(match.group(1)) == os.getpid():
            continue
        try:
            stale = max_age_s is not None and time.time() - path.stat().st_mtime >= max_age_s
        except OSError:
            continue
        if not stale and pid_alive(int(match.group(1))):
            continue
        remove(path)
        removed.append(path)
    return removed


# --- locks ---------------------------------------------------------------------------------------------

_HELD: dict[str, int] = {}  # lock file -> descriptor, held until release() or the end of the process


def _lock_fd(fd: int, blocking: bool) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        else:
            msvcrt.locking(fd, msvcrt.LK_LOCK if blocking else msvcrt.LK_NBLCK, 1)
    except OSError as err:
        if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EDEADLK):
            return False
        raise
    return True


def try_lock(path: Path, *, blocking: bool = False, owner: str = "") -> bool:
    """Hold the lock at `path` (created if missing) until `release(path)` or the end of this process.

    Returns False when another live process holds it (or, with `blocking=True`, waits for it). A lock this
    process already holds is simply True. `owner` is written into the file for messages (`lock_owner`).
    """
    path = Path(path)
    key = str(path.absolute())
    if key in _HELD:
        return True
    make_dir(path.parent)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise storage_error(path.parent, err) from None
        if not _lock_fd(fd, blocking):
            os.close(fd)
            return False
        try:  # the file may have been removed (stale-backup cleanup) between open and lock: lock the new one
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    _HELD[key] = fd
    try:
        text = json.dumps({"pid": os.getpid(), "since": time.strftime("%Y-%m-%d %H:%M:%S"), "owner": owner})
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode(), 0) if hasattr(os, "pwrite") else os.write(fd, text.encode())
    except OSError:
        pass  # a full disk must not stop a run from holding its lock; the note is only for messages
    return True


def release(path: Path) -> None:
    fd = _HELD.pop(str(Path(path).absolute()), None)
    if fd is not None:
        os.close(fd)


def holds(path: Path) -> bool:
    return str(Path(path).absolute()) in _HELD


def lock_owner(path: Path) -> str:
    """"pid 1234, since 2024-05-01 10:00:00" from a lock file, or "" if it says nothing."""
    try:
        info = json.loads(Path(path).read_text())
        return f"pid {info['pid']}, since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


@contextmanager
def lock(path: Path):
    """Hold the lock at `path` for a `with` block, waiting for another process that holds it.

    Holders keep it for the few milliseconds a save takes, and a holder that dies releases it at once.
    """
    try_lock(path, blocking=True)
    try:
        yield
    finally:
        release(path)
