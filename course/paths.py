"""Where the course runs and in which mode: the repository, the mode flags, and every folder it reads or writes.

Every other module asks here; nothing here imports another course module. A folder given in the
environment (`COURSE_DATA_DIR`, `COURSE_CACHE_DIR`, `COURSE_BUILD_DIR`, `KERAS_HOME`) may be relative: it
means the folder it was typed in, resolved once by `resolve_environment`.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path

#: Where the course lives on GitHub (Colab clones it; the notebooks' buttons point at it).
REPO_SLUG = "image-classification-course/tensorflow-keras-course"

#: Root of the course repository (the folder that holds `utils/`, `course/` and `notebooks/`).
REPO_ROOT = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def flag(name: str) -> bool:
    """An on/off environment variable; anything else is refused, naming the variable and what it takes."""
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={os.environ[name]!r} is neither on (1, true, yes, on) nor off (0, false, no, off, or "
                     f"unset). Set it to one of those, e.g. `export {name}=1`, or unset it.")


def is_smoke() -> bool:
    """True when `COURSE_SMOKE=1`: tiny subsets and one or two epochs (tests and `python -m course run`)."""
    return flag("COURSE_SMOKE")


def is_offline() -> bool:
    """True when `COURSE_OFFLINE=1`: nothing may touch the network (the test suite sets it).

    Learners never need it: without network a download fails within seconds and the course falls back
    (mirror, cache, another network, a stand-in) by what it can actually find.
    """
    return flag("COURSE_OFFLINE")


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def mode() -> str:
    """`"smoke"` or `"full"`, as recorded in `build/results.json`."""
    return "smoke" if is_smoke() else "full"


#: Folders the course reads from the environment; a relative one is resolved once (`resolve_environment`).
FOLDER_VARIABLES = ("COURSE_DATA_DIR", "COURSE_CACHE_DIR", "COURSE_BUILD_DIR", "KERAS_HOME")


def _typed_in() -> str:
    """The folder a relative path was typed in.

    The current folder, except in a notebook kernel: Jupyter, nbval and papermill start kernels in the
    notebook's folder, while `$PWD` still names the shell folder where the user typed the command.
    """
    pwd = os.environ.get("PWD")
    if "ipykernel" in sys.modules and pwd and os.path.isabs(pwd) and os.path.isdir(pwd):
        return pwd
    return os.getcwd()


def env_folder(name: str) -> Path | None:
    """The folder in environment variable `name`, absolute (relative: from where it was typed); None if unset."""
    value = os.environ.get(name)
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(_typed_in()) / path


def resolve_environment() -> None:
    """Make relative `COURSE_DATA_DIR`, `COURSE_CACHE_DIR`, `COURSE_BUILD_DIR` and `KERAS_HOME` absolute, once.

    Called when `utils` is imported (before Keras reads `KERAS_HOME`) and by `python -m course` before any
    kernel starts, so that every process (kernels run in `notebooks/`) sees the same folders.
    """
    for name in FOLDER_VARIABLES:
        path = env_folder(name)
        if path is not None and os.environ[name] != str(path):
            os.environ[name] = str(path)


def build_dir() -> Path:
    """Where executed notebooks, metrics and run folders go (`COURSE_BUILD_DIR`, default `<repo>/build`).

    Always absolute: a relative `COURSE_BUILD_DIR` means the folder it was typed in, and the runner hands
    kernels (which run in `notebooks/`) the absolute path.
    """
    return env_folder("COURSE_BUILD_DIR") or REPO_ROOT / "build"


def mirror_dir() -> Path | None:
    """The offline mirror, `$COURSE_DATA_DIR` (absolute; a relative value is taken from where it was typed)."""
    return env_folder("COURSE_DATA_DIR")


def mirror_label(rel: str | Path) -> str:
    """How results name a path inside the mirror: relative to `$COURSE_DATA_DIR`, never this machine's path."""
    return f"$COURSE_DATA_DIR/{Path(rel).as_posix()}"


def label(path) -> str:
    """How records name a path: relative to the mirror, the cache or Keras' folder when it is inside one (the
    same on every machine), else as it is."""
    path = Path(os.path.abspath(path))
    for variable, folder in (("COURSE_DATA_DIR", mirror_dir()), ("COURSE_CACHE_DIR", cache_dir()),
                             ("KERAS_HOME", keras_home())):
        if folder is not None:
            try:
                return f"${variable}/{path.relative_to(os.path.abspath(folder)).as_posix()}"
            except ValueError:
                pass
    return str(path)


def keras_home() -> Path:
    """Keras' own folder: `$KERAS_HOME`, else `~/.keras` (its `datasets/` and `models/` caches)."""
    return env_folder("KERAS_HOME") or Path.home() / ".keras"


def cache_dir() -> Path:
    """Download cache: `COURSE_CACHE_DIR`, else Keras' own dataset cache (`$KERAS_HOME/datasets`)."""
    return env_folder("COURSE_CACHE_DIR") or keras_home() / "datasets"


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


# What a lesson's kernel prints must not depend on the terminal that started the run: rich, which draws Keras'
# `model.summary()` tables, sizes them to COLUMNS when it is set. Jupyter started from a shell does not pass it on
# (bash does not export it); a terminal that exports it would change every summary table of a recorded run.
KERNEL_TERMINAL = {"COLUMNS": None, "LINES": None}


@contextmanager
def environment(changes: dict):
    """Set environment variables (None: unset) for the duration of a `with` block, then restore them."""
    saved = {name: os.environ.get(name) for name in changes}
    try:
        for name, value in changes.items():
            _set_env(name, value)
        yield
    finally:
        for name, value in saved.items():
            _set_env(name, value)


@contextmanager
def quiet_loggers(names, level: int):
    """Raise the named Python loggers to `level` for the duration of a `with` block, then restore their levels."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, saved in zip(loggers, levels):
            logger.setLevel(saved)
