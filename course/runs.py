"""Saved run state that belongs to exactly one run: file locks, safe writes, and training backups.

- `lock(path)` / `try_lock(path)`: an exclusive lock on a small lock file (`fcntl.flock`; `msvcrt` on
  Windows). The operating system drops it when the process ends, however it ends (even `kill -9`), so a
  dead run never leaves a folder locked.
- `write_atomic(path, text)`: a temporary file in the same folder, then `os.replace`: readers see the old
  file or the new one, never half of one.
- `StorageError`: a write that failed because the disk is full or the folder is read-only, with a
  message that names the folder and the fix.
- `backup_dir(notebook, phase, **extra)`: the folder to give `keras.callbacks.BackupAndRestore`. See its
  docstring for how a backup is matched to one run setting, kept from a concurrent run, checked before
  Keras loads it, and cleaned up.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from . import paths

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt


#: errno values that mean "this folder cannot take the write": full disk or quota, read-only, no permission.
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


class StorageError(OSError):
    """A course file could not be written (full disk, read-only folder): the message says what to do."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def storage_message(path, err: OSError) -> str:
    """One line for a failed write under `path`: what happened and how to fix it."""
    if isinstance(err, StorageError):
        return str(err)
    what = err.strerror or str(err)
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"no space left on the disk holding {path}: free some space, or point COURSE_BUILD_DIR at a "
                "folder on another disk (e.g. COURSE_BUILD_DIR=/tmp/course-build)")
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (f"cannot write to {path} ({what}): point COURSE_BUILD_DIR at a writable folder "
                "(e.g. COURSE_BUILD_DIR=/tmp/course-build)")
    return f"cannot write to {path} ({what})"


def storage_hint(text: str) -> str | None:
    """What to do about an error message that carries a storage errno ("[Errno 28]", h5py's "errno = 28")."""
    match = re.search(r"\[Errno (\d+)\]|errno = (\d+)", text)
    number = int(match.group(1) or match.group(2)) if match else None
    if number in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full: free some space, or point COURSE_BUILD_DIR at a folder on another disk"
    if number in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "that folder is not writable: point COURSE_BUILD_DIR at a writable folder"
    return None


def storage_error(path, err: OSError) -> StorageError:
    if isinstance(err, StorageError):
        return err
    return StorageError(err.errno, storage_message(path, err))


def make_dir(path: Path) -> Path:
    """`mkdir -p`, with a `StorageError` that names the folder when it cannot be made."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise storage_error(path, err) from None
    return path


def write_atomic(path: Path, text: str) -> Path:
    """Write `text` to `path` through a temporary file in the same folder and `os.replace`."""
    path = Path(path)
    make_dir(path.parent)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise storage_error(path.parent, err) from None
    return path


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


# --- this run's parameters and folders -----------------------------------------------------------------

_RUN_PARAMETERS: dict = {}


def set_run_parameters(parameters: dict) -> None:
    """Remember this run's checked parameters (`utils.check_parameters` calls it): they key its backups."""
    _RUN_PARAMETERS.clear()
    _RUN_PARAMETERS.update(parameters)


def run_parameters() -> dict:
    """The parameters this run was checked with (empty before `utils.check_parameters`)."""
    return dict(_RUN_PARAMETERS)


_RUN_ROOTS: dict[tuple, Path] = {}  # (build folder, notebook, mode) -> the run folder this process holds


def _run_root(notebook: str) -> Path:
    """`build/runs/<notebook>/<mode>`, or `<mode>-2`, ... when another live process holds that one."""
    parent = paths.build_dir() / "runs" / notebook
    key = (str(parent), paths.mode())
    if key not in _RUN_ROOTS:
        for n in range(1, 100):
            name = paths.mode() if n == 1 else f"{paths.mode()}-{n}"
            if try_lock(parent / f".{name}.lock"):
                break
        if n > 1:
            owner = lock_owner(parent / f".{paths.mode()}.lock")
            print(f"Another live run of {notebook}{f' ({owner})' if owner else ''} is using {parent / paths.mode()}; "
                  f"this run uses {parent / name} so that neither overwrites the other's files.", flush=True)
        _RUN_ROOTS[key] = parent / name
    return _RUN_ROOTS[key]


def run_dir(notebook: str, *parts: str, fresh: bool = False) -> Path:
    """A notebook's own folder for saved models, logs and caches: `build/runs/<notebook>/<mode>/<parts>`.

    Smoke and full runs get separate folders so that a smoke run never resumes from, or overwrites,
    an hour of full-mode training. The folder belongs to this process while it lives: a second run of
    the same notebook at the same time gets `<mode>-2` (announced), so two runs never write into, or
    empty, each other's folder. `fresh=True` empties the folder first. Training backups have their own
    folders: `utils.backup_dir`.
    """
    path = _run_root(notebook).joinpath(*parts)
    if fresh and path.exists():
        aside = path.with_name(f".{path.name}.old-{os.getpid()}-{time.time_ns()}")
        try:
            os.replace(path, aside)  # out of the way at once, even if deleting takes a while or fails
        except OSError as err:
            raise storage_error(path.parent, err) from None
        shutil.rmtree(aside, ignore_errors=True)
    return make_dir(path)



# --- training backups ------------------------------------------------------------------------------------

#: Backups nobody is using are deleted after this many days, and beyond the newest KEEP_BACKUPS per notebook.
STALE_DAYS = 14
KEEP_BACKUPS = 8
#: Damaged backups set aside are kept this long (to look at), at most KEEP_DAMAGED per notebook.
DAMAGED_DAYS = 7
KEEP_DAMAGED = 3

_WEIGHTS, _META = "latest.weights.h5", "training_metadata.json"  # what BackupAndRestore writes (Keras 3)
_CHOSEN: dict[tuple, Path] = {}  # (backups folder, name) -> folder this process uses


def _is_simple(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_is_simple(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


def _caller_parameters(frame) -> dict:
    """The notebook's parameters when `utils.check_parameters` has not recorded them: its upper-case globals."""
    names = None
    try:
        from . import params

        names = set(params.SPECS)
    except (ImportError, AttributeError):
        pass
    found = {}
    for name, value in (frame.f_globals if frame else {}).items():
        wanted = name in names if names is not None else re.fullmatch(r"[A-Z][A-Z0-9_]*", name)
        if wanted and _is_simple(value):
            found[name] = value
    return found


def backup_settings(notebook: str, phase: str, extra: dict, frame=None) -> dict:
    """Everything a backup must match to be resumed: parameters, `extra`, mode and data sources."""
    from . import data

    parameters = run_parameters() or _caller_parameters(frame)
    return {"notebook": notebook, "phase": phase, "mode": paths.mode(), "parameters": parameters,
            "extra": extra, "data": data.describe_sources()}


def _digest(settings: dict) -> str:
    text = json.dumps(settings, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(text)).strip("-.") or "fit"


def backups_root(notebook: str) -> Path:
    return paths.build_dir() / "runs" / notebook / "backups"


def check_backup(folder: Path) -> str | None:
    """Why the BackupAndRestore state in `folder` must not be loaded, or None when it is sound (or absent).

    Keras 3 writes `latest.weights.h5` (every weight and optimizer variable, HDF5) and then
    `training_metadata.json` (`{"epoch": N, "batch": B}`) at the end of each epoch, overwriting both in
    place; a kill or a full disk can leave either half-written, or a new weights file beside the previous
    epoch's metadata. Each of those is caught here.
    """
    weights, meta = folder / _WEIGHTS, folder / _META
    if not weights.exists() and not meta.exists():
        return None
    if not meta.exists():
        return f"{_WEIGHTS} has no {_META} beside it (stopped between writing the two)"
    if not weights.exists():
        return f"{_META} has no {_WEIGHTS} beside it"
    try:
        info = json.loads(meta.read_text())
        if not (isinstance(info, dict) and isinstance(info.get("epoch"), int) and info["epoch"] >= 0
                and isinstance(info.get("batch", 0), int)):
            return f"{_META} does not hold an epoch number: {str(info)[:80]}"
    except (OSError, ValueError) as err:
        return f"{_META} is not readable JSON ({err})"
    if weights.stat().st_mtime_ns > meta.stat().st_mtime_ns:
        return f"{_WEIGHTS} is newer than {_META} (stopped between writing the two)"
    problem = _check_weights_file(weights)
    return f"{_WEIGHTS} {problem}" if problem else None


def _check_weights_file(path: Path) -> str | None:
    """None if every dataset in the HDF5 file reads back in full, else what is wrong."""
    import h5py

    count = 0
    try:
        with h5py.File(path, "r") as f:
            def read(_name, item):
                nonlocal count
                if isinstance(item, h5py.Dataset):
                    item[()]
                    count += 1
            f.visititems(read)
    except Exception as err:  # h5py raises OSError, KeyError, RuntimeError... for damaged files
        return f"cannot be read ({type(err).__name__}: {str(err)[:120]})"
    return None if count else "holds no weights"


def _epoch(folder: Path) -> int | None:
    try:
        return json.loads((folder / _META).read_text())["epoch"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _set_aside(folder: Path, problem: str, phase: str) -> None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = folder.with_name(f"{folder.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = folder.with_name(f"{folder.name}.damaged-{stamp}-{n}")
    try:
        os.replace(folder, aside)
    except OSError as err:
        raise StorageError(
            err.errno, f"The training backup in {folder} is damaged ({problem}) and could not be moved aside "
            f"({err.strerror}): delete that folder and run again.") from None
    print(f"The training backup in {folder} is damaged ({problem}): moved it to {aside.name} and "
          f"training {phase!r} starts again from epoch 0.", flush=True)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def clean_stale_backups(root: Path, now: float | None = None) -> list[Path]:
    """Delete backups no live run holds that are older than STALE_DAYS or beyond the newest KEEP_BACKUPS,
    the lock files of finished trainings, and damaged copies beyond DAMAGED_DAYS / KEEP_DAMAGED.

    Returns what was deleted. A backup that a live process holds is never touched.
    """
    now = time.time() if now is None else now
    removed = []
    if not root.is_dir():
        return removed
    unused = []
    for lock_file in sorted(root.glob("*.lock")):
        folder = lock_file.with_suffix("")
        if holds(lock_file) or not try_lock(lock_file):
            continue  # this process or another live one is using it
        try:
            if not folder.exists():  # training finished (Keras deleted its backup) or never saved one
                _remove(lock_file)
                removed.append(lock_file)
            else:
                unused.append((folder.stat().st_mtime, folder, lock_file))
                continue
        finally:
            release(lock_file)
    unused.sort(reverse=True)
    for i, (mtime, folder, lock_file) in enumerate(unused):
        if i >= KEEP_BACKUPS or now - mtime > STALE_DAYS * 86400:
            if try_lock(lock_file):
                try:
                    _remove(folder)
                    _remove(lock_file)
                    removed.append(folder)
                finally:
                    release(lock_file)
    damaged = sorted(((p.stat().st_mtime, p) for p in root.glob("*.damaged-*")), reverse=True)
    for i, (mtime, folder) in enumerate(damaged):
        if i >= KEEP_DAMAGED or now - mtime > DAMAGED_DAYS * 86400:
            _remove(folder)
            removed.append(folder)
    return removed


def backup_dir(notebook: str, phase: str, **extra) -> str:
    """The folder for `keras.callbacks.BackupAndRestore(...)`: one per run setting, never shared, checked.

        backup = keras.callbacks.BackupAndRestore(utils.backup_dir("04_hotdog_fine_tuning", "head"))

    - **One run setting.** The folder, `build/runs/<notebook>/backups/<phase>-<mode>-<hash>`, is named by
      a hash of the parameters the notebook checked (`utils.check_parameters`; before that is called, the
      notebook's upper-case parameter variables), `extra` (e.g. `epochs=EPOCHS` for a value that is not
      a parameter), the mode and the data sources. A rerun with another learning rate, fewer epochs or
      other data gets another folder, so it starts from epoch 0 instead of resuming someone else's state.
    - **Never shared.** The folder's lock is held until this process (the kernel) ends. A second live run
      with the same setting gets a fresh folder of its own (`...-2`), announced in one line.
    - **Checked.** A half-written or inconsistent backup (after a kill or a full disk) is moved aside to
      `<folder>.damaged-<time>`, announced, and never given to Keras.
    - **Cleaned.** Keras deletes the folder when its `fit` completes. Backups of runs that never finished
      are deleted once no live run holds them and they are older than `STALE_DAYS` days or beyond the
      newest `KEEP_BACKUPS` for the notebook; damaged copies after `DAMAGED_DAYS` days.
    """
    settings = backup_settings(notebook, phase, extra, sys._getframe(1))
    root = make_dir(backups_root(notebook))
    name = f"{_slug(phase)}-{paths.mode()}-{_digest(settings)}"
    key = (str(root), name)
    folder = _CHOSEN.get(key)
    if folder is None:
        folder = _claim(root, name, phase, settings)
        _CHOSEN[key] = folder
    problem = check_backup(folder)
    if problem:
        _set_aside(folder, problem, phase)
    elif _epoch(folder):
        print(f"Resuming {phase!r} from its backup after epoch {_epoch(folder)} ({folder}).", flush=True)
    make_dir(folder)  # now, so that a full or read-only disk is reported here rather than after an epoch
    return str(folder)


def _claim(root: Path, name: str, phase: str, settings: dict) -> Path:
    owner = json.dumps(settings, sort_keys=True, default=repr)
    for n in range(1, 100):
        candidate = name if n == 1 else f"{name}-{n}"
        if try_lock(root / f"{candidate}.lock", owner=owner):
            break
    else:
        raise StorageError(errno.EBUSY, f"99 live runs hold backups named {name} in {root}")
    folder = root / candidate
    if n > 1:
        _remove(folder)  # a concurrent run's own folder starts fresh
        busy = lock_owner(root / f"{name}.lock")
        print(f"Another live run{f' ({busy})' if busy else ''} is training {phase!r} with the same settings "
              f"in {root / name}; this run keeps its own backup in {folder.name} and starts from epoch 0.",
              flush=True)
    try:
        clean_stale_backups(root)
    except OSError:
        pass  # cleaning up is a courtesy; it must never stop a training
    return folder
