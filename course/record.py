"""This run of a lesson: one record of what it checked, used and saved, owned here and nowhere else.

    run = utils.start("04_hotdog_fine_tuning", globals())   # the cell after the parameters cell
    run.backup_dir("head")       # a folder for keras.callbacks.BackupAndRestore (see `course.backups`)
    run.folder("models")         # build/runs/04_hotdog_fine_tuning/<mode>/models
    run.record(test_accuracy=acc)  # build/metrics/04_hotdog_fine_tuning.json, read by `python -m course run`

A `Run` holds the lesson's name, its checked parameters, where each dataset and weights file came from
(`note_source`: the setup banner, the results and the backup keys say it), the folders it holds, and the
hosts that could not be reached. `current()` is the run of this process; code that is not a lesson (the
unit tests, `python -m course download`) gets a fresh unnamed one, and tests give their own with `use(run)`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import paths, storage


@dataclass
class Run:
    """What this execution of a lesson has checked, used and claimed so far."""

    notebook: str = ""  # "04_hotdog_fine_tuning", once `start` names it
    seed: int = 42  # the seed `utils.setup()` gave Python, NumPy and TensorFlow; splits and shuffles use it too
    device: str = ""  # what `utils.setup()` found to compute on ("CPU only (2 cores)", "1 GPU: Tesla T4")
    started: str = ""  # when `start` checked the parameters, in UTC (ISO 8601)
    parameters: dict = field(default_factory=dict)  # the values `start` checked
    sources: dict[str, str] = field(default_factory=dict)  # dataset or weights -> where it came from
    unreachable: dict[str, tuple[float, str]] = field(default_factory=dict)  # host -> (when, why)
    warned: set[str] = field(default_factory=set)  # one-time warnings already printed
    roots: dict[tuple, Path] = field(default_factory=dict)  # (build folder, mode) -> run folder this process holds
    backups: dict[tuple, Path] = field(default_factory=dict)  # (backups folder, name) -> folder this run uses

    @property
    def mode(self) -> str:
        return paths.mode()

    @property
    def test_run(self) -> bool:
        """True in the course's test runs (`COURSE_SMOKE=1`): tiny sizes that only check the code runs."""
        return paths.is_smoke()

    # --- where things came from ---

    def note_source(self, name: str, description: str) -> None:
        """Record where a dataset or weights file came from (banner, results table, backup keys)."""
        self.sources[name] = description

    def describe_sources(self) -> str:
        if self.sources:
            return "; ".join(f"{k}: {v}" for k, v in self.sources.items())
        mirror = paths.mirror_dir()
        return f"mirror={mirror or 'not set'}, cache={paths.cache_dir()}" + (", offline" if paths.is_offline() else "")

    def warn_once(self, key: str, message: str) -> None:
        if key not in self.warned:
            self.warned.add(key)
            print(f"! {message}")

    # --- folders ---

    def _name(self) -> str:
        if not self.notebook:
            raise RuntimeError("This run has no lesson name yet: call `run = utils.start(\"NN_name\", globals())` "
                               "in the cell after the parameters cell first.")
        return self.notebook

    def root(self) -> Path:
        """`build/runs/<notebook>/<mode>`, or `<mode>-2`, ... when another live process holds that one."""
        parent = paths.build_dir() / "runs" / self._name()
        key = (str(parent), self.mode)
        if key not in self.roots:
            for n in range(1, 100):
                name = self.mode if n == 1 else f"{self.mode}-{n}"
                if storage.try_lock(parent / f".{name}.lock"):
                    break
            if n > 1:
                owner = storage.lock_owner(parent / f".{self.mode}.lock")
                print(f"Another live run of {self.notebook}{f' ({owner})' if owner else ''} is using "
                      f"{parent / self.mode}; this run uses {parent / name} so that neither overwrites the other's "
                      f"files.", flush=True)
            self.roots[key] = parent / name
        return self.roots[key]

    def folder(self, *parts: str, fresh: bool = False) -> Path:
        """This lesson's own folder for saved models, logs and caches: `build/runs/<notebook>/<mode>/<parts>`.

        Smoke and full runs get separate folders, so that a smoke run never resumes from, or overwrites,
        an hour of full-mode training; a second live run of the same lesson gets `<mode>-2` (announced).
        `fresh=True` empties the folder first.
        """
        path = self.root().joinpath(*parts)
        if fresh and path.exists():
            aside = path.with_name(f".{path.name}.old-{os.getpid()}-{time.time_ns()}")
            try:
                os.replace(path, aside)  # out of the way at once, even if deleting takes a while or fails
            except OSError as err:
                raise storage.storage_error(path.parent, err) from None
            shutil.rmtree(aside, ignore_errors=True)
        return storage.make_dir(path)

    def backup_dir(self, phase: str, **extra) -> str:
        """The folder for `keras.callbacks.BackupAndRestore`, one per run setting (see `course.backups`)."""
        from . import backups

        return backups.backup_dir(self, phase, **extra)

    # --- the end of the lesson ---

    def stop_run_all(self) -> None:
        """End Jupyter's and Colab's "Run all" here, before the solutions: a learner runs those one cell at a time.

        The course's own runs go on (`COURSE_RUN_SOLUTIONS=1`: `pytest`, and `python -m course run` in smoke
        mode or with `--solutions`), so every solution is still executed and checked.
        """
        if not paths.flag("COURSE_RUN_SOLUTIONS"):
            raise StopRunAll()

    # --- results ---

    def record(self, **metrics: float) -> dict:
        """Save this run's headline numbers with its mode and data sources, and print them.

        The file, `build/metrics/<notebook>.json` (or `$COURSE_RESULTS_DIR`, which the runner sets for each
        attempt), is what `python -m course run` collects into `build/results.json`.
        """
        clean = {}
        for key, value in metrics.items():
            try:
                clean[key] = round(float(value), 4)
            except (TypeError, ValueError):
                raise TypeError(f"metric {key!r} must be a number, got {value!r}") from None
        record = {"notebook": self._name(), "mode": self.mode, "data": self.describe_sources(),
                  "sources": dict(self.sources), "metrics": clean, "device": self.device, "started": self.started}
        storage.write_atomic(metrics_path(self.notebook), json.dumps(record, indent=2))
        width = max(map(len, clean), default=0)
        print(f"Recorded for {self.notebook} ({self.mode} mode):")
        for key, value in clean.items():
            print(f"  {key:<{width}}  {value:g}")
        return record


class StopRunAll(Exception):
    """Raised by `Run.stop_run_all` to end "Run all"; IPython shows only its message, not a traceback."""

    MESSAGE = ("The lesson ends here: \"Run all\" stops before the solutions. To see a solution, run its cells one at "
               "a time (Shift+Enter).")

    def __init__(self):
        super().__init__(self.MESSAGE)

    def _render_traceback_(self):  # what IPython prints instead of a traceback
        return [self.MESSAGE]


def metrics_dir() -> Path:
    """Where `Run.record` writes: `COURSE_RESULTS_DIR` (the runner sets one per attempt), else build/metrics."""
    return paths.env_folder("COURSE_RESULTS_DIR") or paths.build_dir() / "metrics"


def metrics_path(notebook: str) -> Path:
    return metrics_dir() / f"{notebook}.json"


_current = Run()


def current() -> Run:
    """The run of this process: the lesson's, once `start` named it; a fresh unnamed one before that."""
    return _current


@contextmanager
def use(run: Run):
    """Make `run` this process' run for a `with` block (tests give each case a run of its own this way)."""
    global _current
    previous, _current = _current, run
    try:
        yield run
    finally:
        _current = previous


_LESSON_NAME = re.compile(r"\d\d_[a-z0-9_]+")


def start(notebook: str, namespace: dict) -> Run:
    """Begin the run of lesson `notebook`: check its parameters in `namespace`, apply test-run sizes, record.

    What happened before (data found by the setup banner, hosts found unreachable) is kept; the
    parameters are the ones checked now. Raises `ParameterError` naming every parameter out of range.
    """
    from . import params

    if not isinstance(notebook, str) or not _LESSON_NAME.fullmatch(notebook):
        raise ValueError(f"utils.start needs the lesson's name, like '01_mnist_dense'; got {notebook!r}.")
    checked = params.check_lesson(notebook, namespace)
    global _current
    started = datetime.now(UTC).isoformat(timespec="seconds")
    _current = Run(notebook=notebook, parameters=checked, seed=_current.seed, device=_current.device, started=started,
                   sources=dict(_current.sources), unreachable=dict(_current.unreachable), warned=set(_current.warned),
                   roots=dict(_current.roots) if _current.notebook == notebook else {},
                   backups=dict(_current.backups) if _current.notebook == notebook else {})
    return _current
