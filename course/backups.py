"""Training backups that belong to exactly one run setting: the folder for `keras.callbacks.BackupAndRestore`.

    backup = keras.callbacks.BackupAndRestore(run.backup_dir("head"))    # `run` from utils.start(...)

A backup is resumed only by a run with the same lesson, phase, mode, parameters and data; it is never
shared by two live runs, checked before Keras loads it, and cleaned up when nobody needs it any more.
"""

from __future__ import annotations

import errno
import hashlib
import json
import re
import time
from pathlib import Path

from . import paths, storage

#: Backups nobody is using are deleted after this many days, and beyond the newest KEEP_BACKUPS per notebook.
STALE_DAYS = 14
KEEP_BACKUPS = 8
#: Damaged backups set aside are kept this long (to look at), at most KEEP_DAMAGED per notebook.
DAMAGED_DAYS = 7
KEEP_DAMAGED = 3

_WEIGHTS, _META = "latest.weights.h5", "training_metadata.json"  # what BackupAndRestore writes (Keras 3)


def backup_settings(run, phase: str, extra: dict) -> dict:
    """Everything a backup must match to be resumed: the lesson, phase, mode, parameters, `extra`, data.

    `run` is this run's record (`course.record.Run`, passed in rather than imported: it imports this module).
    """
    return {"notebook": run.notebook, "phase": phase, "mode": run.mode, "parameters": run.parameters,
            "extra": extra, "data": run.describe_sources()}


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
    problem = storage.hdf5_problem(weights)
    return f"{_WEIGHTS} {problem}" if problem else None


def _epoch(folder: Path) -> int | None:
    try:
        return json.loads((folder / _META).read_text())["epoch"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _set_aside(folder: Path, problem: str, phase: str) -> None:
    try:
        aside = storage.set_aside(folder)
    except storage.StorageError as err:
        raise storage.StorageError(
            err.errno, f"The training backup in {folder} is damaged ({problem}) and could not be moved aside "
            f"({err}): delete that folder and run again.") from None
    print(f"The training backup in {folder} is damaged ({problem}): moved it to {aside.name} and "
          f"training {phase!r} starts again from epoch 0.", flush=True)


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
        if storage.holds(lock_file) or not storage.try_lock(lock_file):
            continue  # this process or another live one is using it
        try:
            if not folder.exists():  # training finished (Keras deleted its backup) or never saved one
                storage.remove(lock_file)
                removed.append(lock_file)
            else:
                unused.append((folder.stat().st_mtime, folder, lock_file))
                continue
        finally:
            storage.release(lock_file)
    unused.sort(reverse=True)
    for i, (mtime, folder, lock_file) in enumerate(unused):
        if i >= KEEP_BACKUPS or now - mtime > STALE_DAYS * 86400:
            if storage.try_lock(lock_file):
                try:
                    storage.remove(folder)
                    storage.remove(lock_file)
                    removed.append(folder)
                finally:
                    storage.release(lock_file)
    damaged = sorted(((p.stat().st_mtime, p) for p in root.glob("*.damaged-*")), reverse=True)
    for i, (mtime, folder) in enumerate(damaged):
        if i >= KEEP_DAMAGED or now - mtime > DAMAGED_DAYS * 86400:
            storage.remove(folder)
            removed.append(folder)
    return removed


def backup_dir(run, phase: str, **extra) -> str:
    """The folder for `keras.callbacks.BackupAndRestore(...)`: one per run setting, never shared, checked.

        backup = keras.callbacks.BackupAndRestore(run.backup_dir("head"))

    - **One run setting.** The folder, `build/runs/<notebook>/backups/<phase>-<mode>-<hash>`, is named by
      a hash of the parameters `utils.start` checked, `extra` (e.g. `epochs=EPOCHS` for a value that is not
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
    settings = backup_settings(run, phase, extra)
    root = storage.make_dir(backups_root(run._name()))
    name = f"{_slug(phase)}-{run.mode}-{_digest(settings)}"
    key = (str(root), name)
    folder = run.backups.get(key)
    if folder is None:
        folder = _claim(root, name, phase, settings)
        run.backups[key] = folder
    problem = check_backup(folder)
    if problem:
        _set_aside(folder, problem, phase)
    elif _epoch(folder):
        print(f"Resuming {phase!r} from its backup after epoch {_epoch(folder)} ({folder}).", flush=True)
    storage.make_dir(folder)  # now, so that a full or read-only disk is reported here rather than after an epoch
    return str(folder)


def _claim(root: Path, name: str, phase: str, settings: dict) -> Path:
    owner = json.dumps(settings, sort_keys=True, default=repr)
    for n in range(1, 100):
        candidate = name if n == 1 else f"{name}-{n}"
        if storage.try_lock(root / f"{candidate}.lock", owner=owner):
            break
    else:
        raise storage.StorageError(errno.EBUSY, f"99 live runs hold backups named {name} in {root}")
    folder = root / candidate
    if n > 1:
        storage.remove(folder)  # a concurrent run's own folder starts fresh
        busy = storage.lock_owner(root / f"{name}.lock")
        print(f"Another live run{f' ({busy})' if busy else ''} is training {phase!r} with the same settings "
              f"in {root / name}; this run keeps its own backup in {folder.name} and starts from epoch 0.",
              flush=True)
    try:
        clean_stale_backups(root)
    except OSError:
        pass  # cleaning up is a courtesy; it must never stop a training
    return folder
