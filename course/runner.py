"""`python -m course run`: execute the numbered notebooks headless with papermill and tabulate results.

Each notebook runs in a fresh kernel with its `parameters`-tagged cell overridden by `-p NAME=VALUE`;
the executed copy goes to `build/NN_topic.ipynb`, the kernel's own messages to `build/logs/`, and the
notebook's `lesson.record(...)` call to a metrics folder of this attempt's own. Each notebook's
result is saved (`course.store.save_attempt`) as soon as it finishes: a crash, a full disk, Ctrl-C or
SIGTERM during a later notebook loses nothing that finished, and a failed attempt never replaces the last
good numbers. Every failure is one line, never a traceback.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from . import paths, storage, store
from .params import GIVEN
from .record import metrics_path

NOTEBOOK_DIR = paths.REPO_ROOT / "notebooks"


def lesson_name(path: Path) -> str | None:
    """The lesson a notebook says it is (`metadata.course.lesson`), when that is its own file name; else None.

    A copy beside the lessons (Jupyter's "Duplicate" makes `01_mnist_dense-Copy1.ipynb`) still says
    `01_mnist_dense`, so it is not taken for a lesson, and never makes a lesson's number ambiguous.
    """
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError, AttributeError):
        return None
    name = meta.get("course", {}).get("lesson") if isinstance(meta.get("course"), dict) else None
    return name if name == path.stem else None


def notebooks() -> list[Path]:
    """The course's lessons, in reading order: the notebooks in `notebooks/` that say they are one."""
    return sorted(p for p in NOTEBOOK_DIR.glob("*.ipynb") if lesson_name(p))


def select(names: list[str]) -> list[Path]:
    """Notebooks matching names, numbers ("6", "06") or parts of names ("mnist_dense"); all if none."""
    available = notebooks()
    if not names:
        return available
    chosen = []
    for name in names:
        key = name.removesuffix(".ipynb")
        if key.isdigit():
            key = f"{int(key):02d}_"
        matches = [p for p in available if p.stem == key or p.stem.startswith(key) or key in p.stem]
        if len(matches) != 1:
            known = ", ".join(p.stem for p in available)
            what = "matches several notebooks" if matches else "matches no notebook"
            raise SystemExit(f"error: {name!r} {what}. Notebooks: {known}")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def _path_value(text: str) -> str:
    """A folder typed after `-p NAME=`: quotes stripped, `~` expanded, made absolute against the user's folder.

    Kernels run with `notebooks/` as their working folder, so a relative path must be resolved here, where
    the user typed it. Empty stays empty (the notebook's default).
    """
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    if not text:
        return ""
    return os.path.abspath(os.path.expanduser(text))


def parse_parameters(pairs: list[str]) -> dict:
    """`["EPOCHS=3", "BACKBONE=resnet50"]` -> `{"EPOCHS": 3, "BACKBONE": "resnet50"}` (Python literals).

    Folder parameters (`DATA_DIR`) are kept as text and made absolute against the current folder.
    """
    from .params import SPECS

    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise SystemExit(f"error: -p expects NAME=VALUE, got {pair!r}")
        if name in params:
            raise SystemExit(f"error: -p {name} is given twice ({params[name]!r} and {value!r}); give it once")
        if name in SPECS and SPECS[name].kind == "path":
            params[name] = _path_value(value)
            continue
        try:
            params[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            params[name] = value
    return params


def check_parameters(path: Path, params: dict) -> None:
    """Refuse, before any kernel starts, what the notebook would ignore or cannot use.

    Unknown names (a typo would be ignored) and values outside the course's specs (`course.params`, with
    the lesson's own overrides); for a notebook that is not one of the course's lessons, its parameters
    cell says which names exist and a value must have the type of the default there.
    """
    from . import params as specs

    if path.stem in specs.LESSONS:
        declared = {name: {} for name in specs.LESSONS[path.stem]}
    else:
        import papermill

        declared = papermill.inspect_notebook(str(path))
    unknown = sorted(set(params) - set(declared))
    if unknown:
        hint = "Smoke mode is the default; --full runs the lesson at full size. " if "SMOKE" in unknown else ""
        raise SystemExit(
            f"error: {path.stem} has no parameter {', '.join(unknown)}. {hint}Its parameters: {', '.join(declared)}"
        )
    for name, value in params.items():
        if specs.spec_for(name, path.stem) is not None:
            problem = specs.problem(name, value, path.stem)
            if problem:
                raise SystemExit(f"error: {path.stem}: {problem}")
            continue
        problem = type_problem(name, value, declared[name].get("default", ""))
        if problem:
            raise SystemExit(f"error: {path.stem}: {problem}. Example: -p {name}={declared[name]['default']!s}")


def _literal_types(expression: str) -> set[type] | None:
    """Types of the literal a default is (`30` -> {int}); None if it is not a literal."""
    try:
        return {type(ast.literal_eval(ast.parse(expression, mode="eval").body))}
    except (SyntaxError, ValueError):
        return None


def type_problem(name: str, value, default: str) -> str | None:
    """Why `value` does not fit a parameter whose default is the source text `default`; None if it fits.

    Used for parameters without a spec in `course.params.SPECS` (a notebook outside the course).
    """
    types = _literal_types(default)
    if not types:
        return None
    allowed = types | ({int} if float in types else set())  # 3 where 0.5 goes is fine
    if type(value) in allowed:
        return None
    expected = " or ".join(sorted(t.__name__ for t in types))
    return f"{name} expects {expected} (its default is `{default}`), got {value!r} ({type(value).__name__})"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT), SIGTERM or SIGHUP reached the runner."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def reason(self) -> str:
        """"interrupted by Ctrl-C", "interrupted by SIGTERM", ... (`_signal_of` reads it back)."""
        return f"interrupted by {'Ctrl-C' if self.signum == signal.SIGINT else signal.Signals(self.signum).name}"


def _signal_of(reason: str) -> int:
    for name in ("SIGTERM", "SIGHUP"):
        if name in reason and hasattr(signal, name):
            return int(getattr(signal, name))
    return int(signal.SIGINT)


class _Signals:
    """While active, SIGINT/SIGTERM/SIGHUP raise `Interrupted`, except inside `shielded()`, where they wait
    until the block ends (a record being saved is never cut in half)."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __enter__(self):
        self.pending, self.depth, self.previous = None, 0, {}
        for sig in self.SIGNALS:
            try:
                self.previous[sig] = signal.signal(sig, self._handle)
            except (ValueError, OSError):  # not the main thread: leave signals alone
                pass
        return self

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame):
        if self.depth:
            self.pending = self.pending or signum
            return
        raise Interrupted(signum)

    @contextmanager
    def shielded(self):
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if not self.depth and self.pending:
            signum, self.pending = self.pending, None
            raise Interrupted(signum)


@contextmanager
def _kernel_environment(full: bool, build: Path, attempt_dir: Path, given=(), solutions: bool | None = None):
    """The kernel's environment: the mode, absolute course folders, this attempt's own metrics folder, and
    a temporary folder of its own (`TMPDIR`), removed when the kernel is done.

    Absolute, because the kernel runs in `notebooks/`: a relative COURSE_BUILD_DIR would land there.
    The metrics folder is this attempt's own, so two runners of one notebook never read each other's numbers.
    `given`: the `-p` names, which a smoke run keeps as given instead of shrinking them. `solutions`: run the
    lessons' solutions too (default: in smoke mode, which checks them, not in full mode, which measures the lesson).
    """
    # The kernel's temporary files (TensorFlow's autograph sources, TF Hub's download cache, ...) go into a
    # folder of this attempt's own, removed with it: nothing is left in the system's temporary folder.
    kernel_tmp = tempfile.mkdtemp(prefix="course-kernel-")
    changes = {"COURSE_SMOKE": "0" if full else "1", "COURSE_BUILD_DIR": str(build),
               "COURSE_RESULTS_DIR": str(attempt_dir), GIVEN: ",".join(given), "TMPDIR": kernel_tmp,
               "COURSE_RUN_SOLUTIONS": "1" if (not full if solutions is None else solutions) else "0"}
    for name in ("COURSE_DATA_DIR", "COURSE_CACHE_DIR", "KERAS_HOME"):
        if os.environ.get(name):
            changes[name] = os.path.abspath(os.path.expanduser(os.environ[name]))
    # A matplotlib backend chosen for this process (pytest sets Agg) would stop the kernel's inline figures.
    changes["MPLBACKEND"] = None
    changes.update(paths.KERNEL_TERMINAL)
    try:
        with paths.environment(changes):
            yield
    finally:
        shutil.rmtree(kernel_tmp, ignore_errors=True)


def _kernel_manager(log_file):
    """A kernel manager whose kernel writes its own messages (warnings, C++ logs, crashes) to `log_file`."""
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw.setdefault("stdout", log_file)
            kw.setdefault("stderr", log_file)
            return await super()._async_launch_kernel(kernel_cmd, **kw)

        # jupyter_client 7 (Colab's) starts kernels through `_launch_kernel`, bound to the base class's function
        _launch_kernel = _async_launch_kernel

    return LoggedKernelManager


def _quiet_papermill():
    """papermill/nbclient log their own lines for a dead kernel; the runner says it once, in its own words."""
    return paths.quiet_loggers(("papermill", "nbclient", "traitlets"), logging.CRITICAL)


def cell_state(executed: Path) -> dict | None:
    """Where an executed copy stopped, read from what the kernel reported, not from papermill's summary.

    nbclient stamps each cell with when its execution started (`iopub.execute_input`) and when the kernel
    replied (`shell.execute_reply`); papermill marks every pending cell "completed" after a kernel dies,
    so its own status cannot say which cell was running, but its start time says which cells began. Returns {"cell": number counted over all cells as
    Jupyter shows them (1-based), "heading": the last `#` heading above it, "line": its first line of code,
    "state": "raised" (an error output) or "running" (started, never finished)}, or None.
    """
    try:
        cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    heading, found = "", None
    for number, cell in enumerate(cells, 1):
        source = "".join(cell.get("source", []))
        if cell.get("cell_type") == "markdown":
            titles = [line.lstrip("#").strip() for line in source.splitlines() if line.startswith("#")]
            heading = titles[-1] if titles else heading
            continue
        if cell.get("cell_type") != "code":
            continue
        timing = cell.get("metadata", {}).get("execution", {})
        raised = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        # A kernel killed at once may never report the cell's start: papermill's own start time says it began.
        started = ("iopub.execute_input" in timing or "iopub.status.busy" in timing
                   or bool(cell.get("metadata", {}).get("papermill", {}).get("start_time")))
        if raised or (started and "shell.execute_reply" not in timing):
            lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
            found = {"cell": number, "heading": heading, "line": lines[0].strip() if lines else "",
                     "state": "raised" if raised else "running"}
            break
    return found


def _where_it_stopped(executed: Path) -> str:
    state = cell_state(executed)
    if not state:
        return ""
    line = state["line"]
    shown = f"`{line[:60]}{'...' if len(line) > 60 else ''}`" if line else "a cell"
    return f" in cell {state['cell']} ({shown}, under '{state['heading']}')" if state["heading"] else \
        f" in cell {state['cell']} ({shown})"


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def error_text(ename: str, evalue: str) -> str:
    """An exception as the runner reports it: its first line whole (with the first item when it introduces a
    list), and the course's "Fix: ..." sentence if the message carries one (the course's errors put it on a
    line of its own); no colour codes."""
    ename = _ANSI.sub("", str(ename))
    lines = [line.strip() for line in _ANSI.sub("", str(evalue)).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    fix = next((line for line in lines[1:] if line.startswith("Fix:")), "")
    listed = [line for line in lines[1:] if line != fix]
    if first.endswith(":") and listed:  # "3 problem(s) in photos:" and a list: its first item names the thing
        first = f"{first} {listed[0]}" + (" ..." if len(listed) > 1 else "")
    return " ".join(part for part in (f"{ename}: {first}" if first else ename, fix) if part)


def _one_line(text: str, limit: int = 500) -> str:
    return " ".join(str(text).split())[:limit]


def _attempt_error(err: BaseException, executed: Path, build: Path, log: Path) -> tuple[str, str]:
    """(status, one-line error) for what `papermill.execute_notebook` raised."""
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    if isinstance(err, Interrupted):
        return "interrupted", err.reason
    if isinstance(err, papermill.PapermillExecutionError):
        if err.ename == "KeyboardInterrupt":
            return "interrupted", f"interrupted by a KeyboardInterrupt in the notebook{_where_it_stopped(executed)}"
        if err.ename != "StorageError" and storage.is_storage_problem(OSError(str(err.evalue))):
            where = storage.mentioned_path(err.evalue) or build  # TensorFlow/h5py/NumPy name the file, not errno
            return "failed", f"StorageError: {storage.storage_message(where, OSError(str(err.evalue)))}"
        return "failed", error_text(err.ename, err.evalue)
    if isinstance(err, DeadKernelError):
        return "failed", (f"the kernel died{_where_it_stopped(executed)}: it was killed from outside, most often by "
                          f"the system running out of memory (try smaller sizes)")
    if isinstance(err, CellTimeoutError):
        return "failed", f"a cell ran out of time{_where_it_stopped(executed)}: {_one_line(err, 200)}"
    if isinstance(err, OSError) and storage.is_storage_problem(err):
        return "failed", f"StorageError: {storage.storage_message(build, err)}"
    return "failed", _one_line(f"{type(err).__name__}: {err}")


def _clean_leftovers(build: Path) -> None:
    """Partial executed copies and metrics folders of runners that were killed (kill -9) before cleaning up."""
    storage.clean_leftovers(build, r"^\..+\.(\d+)\.ipynb$")
    storage.clean_leftovers(build / "metrics" / "attempts", r"^.+\.(\d+)$")


def _keep_executed_copy(partial: Path, out: Path) -> None:
    """Move this attempt's executed copy to `out`, unless it is empty or cut short (a full disk)."""
    try:
        nbformat_ok = isinstance(json.loads(partial.read_text(encoding="utf-8")).get("cells"), list)
    except (OSError, ValueError, AttributeError):
        nbformat_ok = False
    try:
        if nbformat_ok:
            os.replace(partial, out)
    except OSError:
        pass
    partial.unlink(missing_ok=True)


#: Under the build folder: the last successful full-mode executed copy of each notebook. `build/NN.ipynb` is
#: the latest attempt of any mode, so a smoke run (or `pytest`) after a long full run would otherwise replace
#: the only executed copy worth publishing; `python -m course site --full` builds from these.
FULL_COPIES = "full"


def _keep_full_copy(out: Path, kept: Path) -> None:
    """Copy a successful full run's executed notebook to `kept`, whole or not at all (a full disk keeps the old)."""
    try:
        storage.write_atomic(kept, out.read_text(encoding="utf-8"))
    except OSError as err:
        print(f"    note: the full run's executed copy could not be kept in {kept.parent}/ ({err.strerror or err}); "
              f"{out} has it until the next run", file=sys.stderr)


def _publish_metrics(attempt_file: Path | None, published: Path) -> None:
    """`build/metrics/<notebook>.json` holds what this attempt recorded (moved, so its time is when the
    notebook wrote it), or nothing: never an older run's numbers beside this run's executed copy."""
    try:
        if attempt_file is not None:
            storage.make_dir(published.parent)
            os.replace(attempt_file, published)
        else:
            published.unlink(missing_ok=True)
    except OSError:
        pass  # a full or read-only disk: the attempt's record is reported and saved all the same


def execute(path: Path, params: dict, full: bool, solutions: bool | None = None) -> dict:
    """Run one notebook; return this attempt's record.

    A failure of any kind (an error in a cell, a dead kernel, a full disk, Ctrl-C or SIGTERM) is returned
    as a record with `"status"` ("failed" or "interrupted") and a one-line `"error"`, never raised.
    A notebook that finishes without having called `lesson.record(...)` (the `lesson` from `utils.start(<its name>, ...)`) failed too.
    """
    import papermill

    mode = "full" if full else "smoke"
    build = storage.make_dir(paths.build_dir())
    out = build / path.name
    partial = build / f".{path.stem}.{os.getpid()}.ipynb"  # this attempt's copy; replaces `out` at the end
    attempt_dir = build / "metrics" / "attempts" / f"{path.stem}.{mode}.{os.getpid()}"
    log = build / "logs" / f"{path.stem}.{mode}.log"
    record = {"notebook": path.stem, "mode": mode, "data": "", "metrics": {}}
    if params:
        record["parameters"] = params
    start = time.perf_counter()
    status = error = None
    try:
        shutil.rmtree(attempt_dir, ignore_errors=True)
        storage.make_dir(attempt_dir)
        storage.make_dir(log.parent)
        with open(log, "a") as log_file, _kernel_environment(full, build, attempt_dir, tuple(params), solutions), _quiet_papermill():
            log_file.write(f"\n=== {path.stem} ({mode}) {time.strftime('%Y-%m-%d %H:%M:%S')}, runner pid "
                           f"{os.getpid()}\n")
            log_file.flush()
            papermill.execute_notebook(
                str(path), str(partial), parameters=params, cwd=str(NOTEBOOK_DIR), kernel_name="python3",
                progress_bar=False, request_save_on_cell_execute=True,
                kernel_manager_class=_kernel_manager(log_file),
            )
    except (Exception, Interrupted) as err:
        if not (isinstance(err, papermill.PapermillExecutionError) and err.ename == "StopRunAll"):
            status, error = _attempt_error(err, partial, build, log)
        # else: the lesson ran to its end; `lesson.stop_run_all()` kept the solutions out of this full run
    finally:
        record["seconds"] = round(time.perf_counter() - start, 1)
        _keep_executed_copy(partial, out)
        metrics_file = attempt_dir / f"{path.stem}.json"
        try:
            recorded = json.loads(metrics_file.read_text()) if metrics_file.exists() else None
        except (OSError, ValueError):
            recorded = None
        _publish_metrics(metrics_file if recorded else None, metrics_path(path.stem))
        shutil.rmtree(attempt_dir, ignore_errors=True)
    if error is None and recorded is None:
        status, error = "failed", (f"the notebook ran to the end but recorded no results: it must call "
                                   f"lesson.record(...) after lesson = utils.start({path.stem!r}, globals()), and {metrics_file} was not "
                                   f"written")
    if recorded and error is None:
        record.update({k: recorded[k] for k in ("data", "sources", "metrics", "device", "started") if k in recorded})
        if full:
            _keep_full_copy(out, build / FULL_COPIES / path.name)
    if error:
        record.update({"status": status, "error": error[:1000], "executed": str(out), "log": str(log),
                       "stopped": _where_it_stopped(out).strip()})
        _note_in_log(log, path.stem, mode, status, error)
    record["saved"] = store.now()
    return record


def _note_in_log(log: Path, stem: str, mode: str, status: str, error: str) -> None:
    """End the kernel's log with the runner's own line: the kernel's last words ("KeyboardInterrupt caught in
    kernel", written when the runner stops it) would otherwise point the wrong way."""
    try:
        with open(log, "a") as f:
            f.write(f"=== {stem} ({mode}) {status} {time.strftime('%Y-%m-%d %H:%M:%S')}: {error}\n")
    except OSError:
        pass


def headline(record: dict) -> str:
    metrics = record.get("metrics", {})
    if not metrics:
        return "-"
    key = next((k for k in metrics if "accuracy" in k), next(iter(metrics)))
    return f"{key}={metrics[key]:g}"


def outcome(record: dict, entry: dict | None = None) -> str:
    """One line for an attempt: its headline, or FAILED/INTERRUPTED with the reason and what was kept."""
    if "error" not in record:
        return headline(record)
    if record.get("status") == "interrupted":
        line = "INTERRUPTED" + record["error"].removeprefix("interrupted")
    else:
        line = f"FAILED: {record['error']}"
    if entry and "error" not in entry:
        line += f" (the last good numbers, {headline(entry)} from {entry.get('saved', 'an earlier run')}, are kept)"
    return line


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width, subsequent_indent="  ", break_on_hyphens=False) or [""]


def table(records: list[dict], width: int = 58) -> str:
    """The summary table: notebook, mode, where each dataset and network came from, time, headline metric.

    The data column says for every source whether it was real, a stand-in, random weights or a fallback
    network (`course.sources`), wrapped over lines, never cut.
    """
    from . import sources

    rows = [(["notebook"], ["mode"], ["data and weights"], ["time"], ["result"])]
    for r in records:
        data = [line for source in sources.from_record(r) for line in _wrap(source.words, width)] or ["-"]
        result = headline(r) if "error" not in r else ("INTERRUPTED" if r.get("status") == "interrupted"
                                                        else "FAILED") + " (see below)"
        rows.append(([r["notebook"]], [r["mode"]], data, [f"{r['seconds']:.0f} s"], [result]))
    widths = [max(len(line) for row in rows for line in row[i]) for i in range(5)]
    lines = []
    for i, row in enumerate(rows):
        for k in range(max(len(col) for col in row)):
            cells = [col[k] if k < len(col) else "" for col in row]
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def problems(records: list[dict]) -> str:
    """For each notebook that failed or was interrupted: what happened, the fix, and where to look."""
    out = []
    for r in records:
        if "error" not in r:
            continue
        word = "was interrupted" if r.get("status") == "interrupted" else "failed"
        out.append(f"{r['notebook']} ({r['mode']}) {word}{' ' + r['stopped'] if r.get('stopped') else ''}.")
        fix = r["error"][r["error"].find("Fix:"):] if "Fix:" in r["error"] else ""
        if fix:
            out.append(f"  {fix}")
        looks = [f"the executed copy {r['executed']}" if r.get("executed") else "",
                 f"the kernel's log {r['log']}" if r.get("log") else ""]
        if any(looks):
            out.append(f"  Look at {' and '.join(x for x in looks if x)}.")
    return "\n".join(out)


def next_steps(records: list[dict], full: bool) -> list[str]:
    """The two or three things to do next, chosen by what happened."""
    from . import sources

    steps = []
    if any("error" in r for r in records):
        steps.append("Fix what the failure above names, then run the same command again: finished notebooks keep "
                     "their numbers (`python -m course results` shows them).")
    not_real = sorted({r["notebook"][:2] for r in records if sources.real_or_not(r) != "real"})
    if not_real:
        steps.append(f"Some numbers came from stand-in data or random weights ({', '.join(not_real)}): point "
                     f"COURSE_DATA_DIR at an offline mirror (data/README.md) or run with internet for real ones.")
    if not full and not any("error" in r for r in records):
        steps.append("Smoke runs only check that the code runs: `python -m course run --full NN` gives a lesson's "
                     "real figures; `jupyter lab notebooks/` opens the lessons; `python -m course site` builds the "
                     "pages from these runs.")
    elif full and not any("error" in r for r in records):
        steps.append("`python -m course results` prints every recorded figure; `python -m course site --full` builds "
                     "the course's pages from these runs.")
    return steps[:3]


README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def lessons_only(records: list[dict]) -> tuple[list[dict], list[str]]:
    """The records of the course's current lessons, and the names of those that are no lesson any more
    (renamed or removed since they ran): their records stay in results.json but are never published."""
    current = {p.stem for p in notebooks()}
    gone = sorted({r["notebook"] for r in records if r["notebook"] not in current})
    return [r for r in records if r["notebook"] in current], gone


def markdown_table(records: list[dict]) -> str:
    """`build/results.json` records as a Markdown table: notebook, mode, data, wall time, metrics.

    Each row shows the last good numbers; when the latest attempt after them failed, a note says so. The data
    column says in plain words where each dataset and network came from (`course.sources`).
    """
    from . import sources

    lines = ["| notebook | mode | data | wall time | metrics |", "|---|---|---|---|---|"]
    for r in sorted(records, key=lambda r: (r["notebook"], r["mode"])):
        metrics = ", ".join(f"{k} {v:g}" for k, v in r.get("metrics", {}).items() if "seconds" not in k)
        if "error" in r:
            metrics = "failed: " + r["error"][:80]
        elif "last_attempt" in r:
            late = r["last_attempt"]
            word = "was interrupted" if late.get("status") == "interrupted" else "failed"
            metrics += f" (a later attempt, {late.get('saved', '?')}, {word}: {late.get('error', '')[:60]})"
        params = " ".join(f"`{k}={v}`" for k, v in r.get("parameters", {}).items())
        data = "; ".join(source.words for source in sources.from_record(r)) or "-"
        took = f"{r['seconds']:.0f} s" if r.get("seconds") is not None else "?"
        lines.append(f"| {r['notebook']} | {r['mode']} {params}".rstrip() + f" | {data} | {took} | {metrics or '-'} |")
    return "\n".join(lines)


def update_readme(records: list[dict], readme: Path) -> None:
    """Replace the table between the results markers in `readme` (the markers must exist)."""
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise SystemExit(f"error: {readme} has no {README_START} ... {README_END} block")
    block = f"{README_START}\n{markdown_table(records)}\n{README_END}"
    storage.write_atomic(readme, text[:start] + block + text[end + len(README_END):])


def results_command(readme: bool) -> int:
    """`python -m course results [--readme]`: the saved records as Markdown, or into README.md."""
    found = store.read_store()
    if found.damage:
        try:
            print(store.repair() or "", file=sys.stderr)
        except OSError as err:  # read-only build folder: show what can be read, change nothing
            print(f"{store.results_path()} {found.damage}; showing the {len(found.entries)} records that "
                  f"could be read ({err})", file=sys.stderr)
    notes: list[str] = []
    records, gone = lessons_only(store.load_results(notes))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if gone:
        print(f"note: {store.results_path()} also holds records of {', '.join(gone)}, which are no lessons of this "
              f"course any more (renamed or removed): they are left out.", file=sys.stderr)
    if not records:
        print(f"No results in {paths.build_dir()} yet: run `python -m course run` first.", file=sys.stderr)
        return 2
    failed_later = [r for r in records if "last_attempt" in r]
    if readme:
        try:
            update_readme(records, paths.REPO_ROOT / "README.md")
        except OSError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(f"README.md updated with {len(records)} results")
    else:
        print(markdown_table(records))
    for r in failed_later:
        print(f"note: {r['notebook']} ({r['mode']}): the latest attempt ({r['last_attempt'].get('saved', '?')}) "
              f"{r['last_attempt'].get('status', 'failed')}; the table shows the last good numbers "
              f"({r.get('saved', 'earlier')}).", file=sys.stderr)
    return 0


def run(names: list[str], params: dict, full: bool, solutions: bool | None = None) -> int:
    """Run notebooks one after another, saving each one's result as soon as it finishes.

    Exit status: 0 all succeeded; 1 a notebook failed or a result could not be saved; 2 nothing could run
    (build folder not writable); 128+N stopped by signal N (130 Ctrl-C, 143 SIGTERM).
    """
    chosen = select(names)
    for path in chosen:
        check_parameters(path, params)
    build = paths.build_dir()
    try:
        storage.check_writable(build)
    except storage.StorageError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    for folder, what in ((paths.cache_dir(), "downloads, stand-ins and converted photos"),
                         (paths.keras_home() / "models", "downloaded weights")):
        try:
            storage.check_writable(folder)
        except storage.StorageError as err:  # only a problem if a lesson needs to write there: said, not fatal
            print(f"warning: {what} cannot be kept: {err}", file=sys.stderr)
    _clean_leftovers(build)
    # After Ctrl-C or SIGTERM inside papermill, nbclient's cell task dies with the kernel; asyncio would print
    # "Task exception was never retrieved" and a traceback when that task is collected, possibly at exit.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    mode = "full" if full else "smoke"
    records, stopped, unsaved = [], None, None
    with _Signals() as signals:
        try:
            for i, path in enumerate(chosen, 1):
                print(f"[{i}/{len(chosen)}] {path.stem} ({mode} mode) ...", flush=True)
                record = None
                try:
                    record = execute(path, params, full, solutions)
                except Interrupted as stop:  # arrived while execute was cleaning up
                    record = {"notebook": path.stem, "mode": mode, "data": "", "metrics": {}, "seconds": 0.0,
                              "status": "interrupted", "error": stop.reason, "saved": store.now(),
                              **({"parameters": params} if params else {})}
                with signals.shielded():
                    records.append(record)
                    try:
                        entry, message = store.save_attempt(record)
                    except OSError as err:
                        entry, message, unsaved = None, None, str(err)
                    if message:
                        print(f"    {message}", flush=True)
                    print(f"    {record['seconds']:.1f} s, {outcome(record, entry)}", flush=True)
                    if unsaved:
                        print(f"    error: this result could not be saved: {unsaved}", flush=True)
                        break
                    if record.get("status") == "interrupted":
                        stopped = record["error"]
                        break
        except Interrupted as stop:  # between notebooks
            stopped = stop.reason
        signals.depth += 1  # the summary is printed whole; a further Ctrl-C only ends it sooner
        return _summary(chosen, records, stopped, unsaved, build)


def _summary(chosen, records, stopped, unsaved, build) -> int:
    done = {r["notebook"] for r in records}
    left = [p.stem for p in chosen if p.stem not in done]
    if records:
        print()
        print(table(records))
        trouble = problems(records)
        if trouble:
            print()
            print(trouble)
    if stopped:
        not_run = f" Not run: {', '.join(left)}." if left else ""
        print(f"\nStopped: {stopped}. Every notebook that finished is saved in {store.results_path()}; "
              f"an interrupted notebook keeps its last good numbers.{not_run}")
        return 128 + _signal_of(stopped)
    if unsaved:
        print("\nStopped: results could not be saved." + (f" Not run: {', '.join(left)}." if left else ""))
        return 1
    failed = [r["notebook"] for r in records if "error" in r]
    print(f"\nExecuted notebooks in {build}/, results in {store.results_path()}"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    full = any(r.get("mode") == "full" for r in records)
    steps = next_steps(records, full)
    if steps:
        print("\nNext:")
        for step in steps:
            print(f"- {step}")
    return 1 if failed else 0
