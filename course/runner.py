"""`python -m course run`: execute the numbered notebooks headless with papermill and tabulate results.

Each notebook runs in a fresh kernel with its `parameters`-tagged cell overridden by `-p NAME=VALUE`;
the executed copy goes to `build/NN_topic.ipynb`, the kernel's own messages to `build/logs/`, and the
notebook's `utils.record_results(...)` call to a metrics folder of this attempt's own. Each notebook's
result is saved (`course.results.save_attempt`) as soon as it finishes: a crash, a full disk, Ctrl-C or
SIGTERM during a later notebook loses nothing that finished, and a failed attempt never replaces the last
good numbers. Every failure is one line, never a traceback.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from . import paths, results, runs

NOTEBOOK_DIR = paths.REPO_ROOT / "notebooks"


def notebooks() -> list[Path]:
    """The numbered notebooks, in order."""
    return sorted(p for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


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


def _computed_from(declared: dict) -> dict[str, list[str]]:
    """Parameters whose value other parameters' defaults are computed from: `{"SMOKE": ["EPOCHS", ...]}`."""
    users: dict[str, list[str]] = {}
    for name, info in declared.items():
        try:
            tree = ast.parse(str(info.get("default", "")), mode="eval")
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in declared and node.id != name:
                users.setdefault(node.id, []).append(name)
    return users


def check_parameters(path: Path, params: dict) -> None:
    """Refuse, before any kernel starts, what the notebook would ignore or cannot use.

    Unknown names (typos would be ignored), names other parameters' defaults are computed from (setting
    `SMOKE` would not recompute `EPOCHS = 2 if SMOKE else 30`), and values outside the course's specs
    (`course.params.SPECS`, with the notebook's own overrides) or, for parameters without a spec, of another
    type than the default.
    """
    import papermill

    from . import params as specs

    declared = papermill.inspect_notebook(str(path))
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise SystemExit(
            f"error: {path.stem} has no parameter {', '.join(unknown)}. Its parameters: {', '.join(declared)}"
        )
    computed = _computed_from(declared)
    for name in params:
        if name in computed:
            users = computed[name]
            fix = ("Smoke mode is the default; use --full for full mode, e.g. `python -m course run --full "
                   f"{path.stem[:2]}`." if name == "SMOKE" else
                   f"Set those parameters themselves, e.g. -p {users[0]}=...")
            raise SystemExit(
                f"error: {path.stem}: {name} cannot be set with -p: the defaults of {', '.join(users)} are computed "
                f"from it when the notebook starts, before -p values arrive, so they would not change. {fix}")
    for name, value in params.items():
        if specs.spec_for(name, path.stem) is not None:
            problem = specs.problem(name, value, path.stem)
            if problem:
                raise SystemExit(f"error: {path.stem}: {problem}")
            continue
        problem = type_problem(name, value, declared[name]["default"])
        if problem:
            raise SystemExit(f"error: {path.stem}: {problem}. Example: -p {name}={declared[name]['default']!s}")


def _literal_types(expression: str) -> set[type] | None:
    """Types of the literals a default can take (`2 if SMOKE else 30` -> {int}); None if it is not literals."""
    try:
        branches = [ast.parse(expression, mode="eval").body]
    except SyntaxError:
        return None
    while any(isinstance(b, ast.IfExp) for b in branches):
        branches = [x for b in branches for x in ((b.body, b.orelse) if isinstance(b, ast.IfExp) else (b,))]
    try:
        return {type(ast.literal_eval(b)) for b in branches}
    except ValueError:
        return None  # a call or a name, e.g. utils.is_smoke(): nothing to check against


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
def _kernel_environment(full: bool, build: Path, attempt_dir: Path):
    """The kernel's environment: the mode, absolute course folders, this attempt's own metrics folder, and
    a temporary folder of its own (`TMPDIR`), removed when the kernel is done.

    Absolute, because the kernel runs in `notebooks/`: a relative COURSE_BUILD_DIR would land there.
    The metrics folder is this attempt's own, so two runners of one notebook never read each other's numbers.
    """
    # The kernel's temporary files (TensorFlow's autograph sources, TF Hub's download cache, ...) go into a
    # folder of this attempt's own, removed with it: nothing is left in the system's temporary folder.
    kernel_tmp = tempfile.mkdtemp(prefix="course-kernel-")
    changes = {"COURSE_SMOKE": "0" if full else "1", "COURSE_BUILD_DIR": str(build),
               "COURSE_RESULTS_DIR": str(attempt_dir), "TMPDIR": kernel_tmp}
    for name in ("COURSE_DATA_DIR", "COURSE_CACHE_DIR", "KERAS_HOME"):
        if os.environ.get(name):
            changes[name] = os.path.abspath(os.path.expanduser(os.environ[name]))
    # A matplotlib backend chosen for this process (pytest sets Agg) would stop the kernel's inline figures.
    changes["MPLBACKEND"] = None
    saved = {name: os.environ.get(name) for name in changes}
    for name, value in changes.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
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


@contextmanager
def _quiet_papermill():
    """papermill/nbclient log their own lines for a dead kernel; the runner says it once, in its own words."""
    loggers = [logging.getLogger(name) for name in ("papermill", "nbclient", "traitlets")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _running_cell(executed: Path) -> str:
    """' in the cell `first line ...`' for the last cell that started in an executed copy, or ''."""
    try:
        cells = [c for c in json.loads(executed.read_text())["cells"] if c["cell_type"] == "code"]
    except (OSError, ValueError, KeyError):
        return ""
    started = [c for c in cells if c.get("metadata", {}).get("papermill", {}).get("status") not in (None, "pending")]
    if not started:
        return ""
    lines = [line for line in "".join(started[-1]["source"]).splitlines() if line.strip() and not line.startswith("#")]
    first = lines[0].strip() if lines else ""
    return f" in the cell `{first[:60]}{'...' if len(first) > 60 or len(lines) > 1 else ''}`" if first else ""


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
            return "interrupted", "interrupted by a KeyboardInterrupt in the notebook"
        hint = runs.storage_hint(str(err.evalue)) if err.ename != "StorageError" else None
        return "failed", _one_line(f"{err.ename}: {err.evalue}", 300) + (f" ({hint})" if hint else "")
    if isinstance(err, DeadKernelError):
        return "failed", (f"the kernel died{_running_cell(executed)}: it was killed from outside, most often by "
                          f"the system running out of memory (try smaller sizes; kernel log: {log})")
    if isinstance(err, CellTimeoutError):
        return "failed", f"a cell ran out of time{_running_cell(executed)}: {_one_line(err, 200)}"
    if isinstance(err, OSError) and err.errno in runs.STORAGE_ERRNOS:
        return "failed", f"StorageError: {runs.storage_message(build, err)}"
    return "failed", _one_line(f"{type(err).__name__}: {err}")


def _dead_pids_files(folder: Path, pattern: str):
    """Files or folders named `...<pid>...` (pattern has one `(\\d+)` group) whose process is gone."""
    import re

    if not folder.is_dir():
        return
    for path in folder.iterdir():
        match = re.fullmatch(pattern, path.name)
        if match and not _alive(int(match.group(1))):
            yield path


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _clean_leftovers(build: Path) -> None:
    """Partial executed copies and metrics folders of runners that were killed (kill -9) before cleaning up."""
    for path in [*_dead_pids_files(build, r"\..+\.(\d+)\.ipynb"),
                 *_dead_pids_files(build / "metrics" / "attempts", r".+\.(\d+)")]:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


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
        runs.write_atomic(kept, out.read_text(encoding="utf-8"))
    except OSError as err:
        print(f"    note: the full run's executed copy could not be kept in {kept.parent}/ ({err.strerror or err}); "
              f"{out} has it until the next run", file=sys.stderr)


def _publish_metrics(attempt_file: Path | None, published: Path) -> None:
    """`build/metrics/<notebook>.json` holds what this attempt recorded (moved, so its time is when the
    notebook wrote it), or nothing: never an older run's numbers beside this run's executed copy."""
    try:
        if attempt_file is not None:
            runs.make_dir(published.parent)
            os.replace(attempt_file, published)
        else:
            published.unlink(missing_ok=True)
    except OSError:
        pass  # a full or read-only disk: the attempt's record is reported and saved all the same


def execute(path: Path, params: dict, full: bool) -> dict:
    """Run one notebook; return this attempt's record.

    A failure of any kind (an error in a cell, a dead kernel, a full disk, Ctrl-C or SIGTERM) is returned
    as a record with `"status"` ("failed" or "interrupted") and a one-line `"error"`, never raised.
    A notebook that finishes without having called `utils.record_results` under its own name failed too.
    """
    import papermill

    mode = "full" if full else "smoke"
    build = runs.make_dir(paths.build_dir())
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
        runs.make_dir(attempt_dir)
        runs.make_dir(log.parent)
        with open(log, "a") as log_file, _kernel_environment(full, build, attempt_dir), _quiet_papermill():
            log_file.write(f"\n=== {path.stem} ({mode}) {time.strftime('%Y-%m-%d %H:%M:%S')}, runner pid "
                           f"{os.getpid()}\n")
            log_file.flush()
            papermill.execute_notebook(
                str(path), str(partial), parameters=params, cwd=str(NOTEBOOK_DIR), kernel_name="python3",
                progress_bar=False, request_save_on_cell_execute=True,
                kernel_manager_class=_kernel_manager(log_file),
            )
    except (Exception, Interrupted) as err:
        status, error = _attempt_error(err, partial, build, log)
    finally:
        record["seconds"] = round(time.perf_counter() - start, 1)
        _keep_executed_copy(partial, out)
        metrics_file = attempt_dir / f"{path.stem}.json"
        try:
            recorded = json.loads(metrics_file.read_text()) if metrics_file.exists() else None
        except (OSError, ValueError):
            recorded = None
        _publish_metrics(metrics_file if recorded else None, results.metrics_path(path.stem))
        shutil.rmtree(attempt_dir, ignore_errors=True)
    if error is None and recorded is None:
        status, error = "failed", (f"the notebook ran to the end but recorded no results: it must call "
                                   f"utils.record_results({path.stem!r}, ...), and {metrics_file} was not written")
    if recorded and error is None:
        record.update({k: recorded[k] for k in ("data", "metrics") if k in recorded})
        if full:
            _keep_full_copy(out, build / FULL_COPIES / path.name)
    if error:
        record.update({"status": status, "error": error[:500]})
    record["saved"] = results.now()
    return record


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


def table(records: list[dict]) -> str:
    rows = [("notebook", "mode", "data", "seconds", "headline metric")]
    for r in records:
        status = headline(r) if "error" not in r else outcome(r)[:80]
        rows.append((r["notebook"], r["mode"], r.get("data") or "-", f"{r['seconds']:.1f}", status))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    widths[2] = min(widths[2], 70)
    lines = []
    for i, row in enumerate(rows):
        cells = [c if len(c) <= w else c[: w - 3] + "..." for c, w in zip(row, widths)]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def save_results(records: list[dict]) -> Path:
    """Add records to `build/results.json` (see `course.results`: a failed attempt never replaces a good one)."""
    for record in records:
        results.save_attempt(record)
    return results.results_path()

README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def markdown_table(records: list[dict]) -> str:
    """`build/results.json` records as a Markdown table: notebook, mode, data, wall time, metrics.

    Each row shows the last good numbers; when the latest attempt after them failed, a note says so.
    """
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
        lines.append(f"| {r['notebook']} | {r['mode']} {params}".rstrip() + f" | {r.get('data') or '-'} | "
                     f"{r['seconds']:.0f} s | {metrics or '-'} |")
    return "\n".join(lines)


def update_readme(records: list[dict], readme: Path) -> None:
    """Replace the table between the results markers in `readme` (the markers must exist)."""
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise SystemExit(f"error: {readme} has no {README_START} ... {README_END} block")
    block = f"{README_START}\n{markdown_table(records)}\n{README_END}"
    runs.write_atomic(readme, text[:start] + block + text[end + len(README_END):])


def results_command(readme: bool) -> int:
    """`python -m course results [--readme]`: the saved records as Markdown, or into README.md."""
    store = results.read_store()
    if store.damage:
        try:
            print(results.repair() or "", file=sys.stderr)
        except OSError as err:  # read-only build folder: show what can be read, change nothing
            print(f"{results.results_path()} {store.damage}; showing the {len(store.entries)} records that "
                  f"could be read ({err})", file=sys.stderr)
    records = results.load_results()
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


def _check_build_dir(build: Path) -> str | None:
    """Why nothing could be saved under `build` (read-only, full disk), before any notebook runs; or None."""
    probe = build / f".write-test-{os.getpid()}"
    try:
        runs.make_dir(build)
        probe.write_bytes(b"x" * 4096)
        probe.unlink()
    except OSError as err:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass
        return runs.storage_message(build, err)
    return None


def run(names: list[str], params: dict, full: bool) -> int:
    """Run notebooks one after another, saving each one's result as soon as it finishes.

    Exit status: 0 all succeeded; 1 a notebook failed or a result could not be saved; 2 nothing could run
    (build folder not writable); 128+N stopped by signal N (130 Ctrl-C, 143 SIGTERM).
    """
    chosen = select(names)
    for path in chosen:
        check_parameters(path, params)
    build = paths.build_dir()
    problem = _check_build_dir(build)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
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
                    record = execute(path, params, full)
                except Interrupted as stop:  # arrived while execute was cleaning up
                    record = {"notebook": path.stem, "mode": mode, "data": "", "metrics": {}, "seconds": 0.0,
                              "status": "interrupted", "error": stop.reason, "saved": results.now(),
                              **({"parameters": params} if params else {})}
                with signals.shielded():
                    records.append(record)
                    try:
                        entry, message = results.save_attempt(record)
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
    if stopped:
        not_run = f" Not run: {', '.join(left)}." if left else ""
        print(f"\nStopped: {stopped}. Every notebook that finished is saved in {results.results_path()}; "
              f"an interrupted notebook keeps its last good numbers.{not_run}")
        return 128 + _signal_of(stopped)
    if unsaved:
        print("\nStopped: results could not be saved." + (f" Not run: {', '.join(left)}." if left else ""))
        return 1
    failed = [r["notebook"] for r in records if "error" in r]
    print(f"\nExecuted notebooks in {build}/, results in {results.results_path()}"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
