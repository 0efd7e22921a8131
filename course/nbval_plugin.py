"""pytest plugin (loaded by the root conftest.py): nbval executes the lessons; their outputs are compared with
the references in `tests/references/` (see `course.references`), and failures read the way a person counts.

- Each numbered lesson in `notebooks/` is collected once, by `LessonNotebook` (nbval's own collector is
  unregistered; any other notebook is still collected by nbval as usual). Its code cells are items named
  `cell N`, N counted over all cells as Jupyter shows them (markdown included).
- A cell's outputs are sanitized, then compared with the reference output of the cell with the same id:
  strictly when this machine's fingerprint is the one the references were made with, numbers masked when it
  differs (said in one line at the top and at the end of the output). `--references=strict|masked` forces
  one; `--nbval-lax` compares nothing (it only runs the cells).
- A cell that raises (or times out, or whose kernel dies) stops its notebook: the cells after it are
  reported as skipped, "not run: cell N under '...' failed", never as passed.
- Each notebook's kernel gets empty folders of its own for `COURSE_CACHE_DIR`, `KERAS_HOME` and `TMPDIR`,
  inside pytest's temporary folder (`COURSE_TEST_TMP`, removed at the end): what a notebook prints never
  depends on an earlier run, on another notebook, or on what this machine has cached.
- `--references-write=DIR` (used by `python -m course references`) records the outputs as references in
  `DIR/<condition>/` instead of comparing them.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest
from nbval import plugin as nbval

from . import paths, references

NOTEBOOK_DIR = paths.REPO_ROOT / "notebooks"


def pytest_addoption(parser):
    group = parser.getgroup("course references", "lesson outputs compared with tests/references/")
    group.addoption("--references", choices=("auto", "strict", "masked"),
                    default=os.environ.get("COURSE_REFERENCES", "auto"),
                    help="how lesson outputs are compared with the references: auto (default; strict when this "
                         "machine's fingerprint matches the references', numbers masked when not), strict or masked. "
                         "Env: COURSE_REFERENCES")
    group.addoption("--references-write", metavar="DIR", default=None,
                    help="record the lessons' outputs as references in DIR/<condition>/ instead of comparing them "
                         f"(`{references.REFRESH}` uses it)")


def _nbval_on(config) -> bool:
    return bool(config.getoption("nbval", False) or config.getoption("nbval_lax", False))


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # nbval's own collector would collect every lesson a second time: the lessons are collected here.
    nbval_plugin = config.pluginmanager.get_plugin("nbval")
    if nbval_plugin is not None:
        config.pluginmanager.unregister(nbval_plugin)
    config._course_refs = Settings(config)


def is_lesson(path: Path) -> bool:
    return path.parent.resolve() == NOTEBOOK_DIR and re.fullmatch(r"\d\d_.+\.ipynb", path.name) is not None


def pytest_collect_file(file_path, parent):
    if file_path.suffix != ".ipynb" or not _nbval_on(parent.config):
        return None
    if is_lesson(Path(file_path)):
        return LessonNotebook.from_parent(parent, path=file_path)
    return nbval.IPyNbFile.from_parent(parent, path=file_path)


class Settings:
    """The session's choices: condition, comparison mode per notebook, sanitizer, where references are."""

    def __init__(self, config):
        self.condition = references.condition()
        self.write_dir = config.getoption("references_write")
        self.forced = config.getoption("references")
        self.lax = bool(config.getoption("nbval_lax", False)) and not config.getoption("nbval", False)
        sanitize_file = config.getoption("nbval_sanitize_with", None) or references.SANITIZE_FILE
        self.sanitize = references.Sanitizer.from_file(Path(sanitize_file))
        self.here = references.fingerprint()
        self.masked_because: dict[str, list[str]] = {}  # notebook -> fingerprint differences
        self.missing: set[str] = set()  # notebooks without a reference file for this condition

    def reference(self, stem: str) -> references.Reference | None:
        return references.Reference.load(references.reference_path(stem, self.condition))

    def masked(self, stem: str, reference: references.Reference | None) -> bool:
        if reference is None and not self.write_dir:
            self.missing.add(stem)
        if self.forced != "auto" or reference is None:
            return self.forced == "masked"
        differences = references.fingerprint_differences(reference.fingerprint, self.here)
        if differences:
            self.masked_because[stem] = differences
        return bool(differences)

    def summary(self) -> str:
        """The one line that says how lesson outputs are compared."""
        where = (f"{references._shown(references.REFERENCES_DIR)}/{self.condition}/ "
                 f"(COURSE_DATA_DIR {'set' if self.condition == references.MIRROR else 'unset'})")
        if self.write_dir:
            return f"references: recording lesson outputs into {self.write_dir}/{self.condition}/, nothing compared"
        if self.lax:
            return "references: --nbval-lax: lesson outputs are NOT compared, cells only run"
        still = "library warnings left out; text, order, number of outputs and figures still compared"
        if self.forced == "strict":
            line = f"references: {where}, compared strictly (--references=strict)"
        elif self.forced == "masked":
            line = f"references: {where}, NUMBERS MASKED ({still}; --references=masked)"
        elif not self.masked_because:
            line = f"references: {where}, compared strictly (this machine's fingerprint is the references')"
        else:
            stems = sorted(self.masked_because)
            line = (f"references: {where}, NUMBERS MASKED in {', '.join(s[:2] for s in stems)} ({still}): "
                    + "; ".join(self.masked_because[stems[0]]))
        if self.missing:
            numbers = " ".join(sorted(s[:2] for s in self.missing))
            line += f"; NO REFERENCES for {numbers}: run `{references.REFRESH} {numbers}`"
        return line


def pytest_report_header(config):
    settings = getattr(config, "_course_refs", None)
    if settings is None or not _nbval_on(config):
        return None
    # Collection has not happened yet: read the fingerprints now, so the first lines already say it.
    for path in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        settings.masked(path.stem, settings.reference(path.stem))
    return settings.summary()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    settings = getattr(config, "_course_refs", None)
    if settings is not None and getattr(settings, "collected", False):
        terminalreporter.write_line(settings.summary())


class CellFailed(Exception):
    """A cell raised, timed out or lost its kernel: its notebook stops here."""


class OutputsDiffer(Exception):
    """A cell ran, but what it printed is not its reference output."""


class LessonNotebook(nbval.IPyNbFile):
    """A lesson: nbval's collector and kernel, with references, places and a stop at the first failing cell."""

    def collect(self):
        import nbformat

        settings = self.config._course_refs
        settings.collected = True
        self.nb = nbformat.read(str(self.fspath), as_version=4)
        self.stem = Path(self.fspath).stem
        self.reference = None if settings.write_dir else settings.reference(self.stem)
        self.masked = settings.masked(self.stem, self.reference)
        self.failed_at: str | None = None  # where the cell that stopped the notebook is
        self.differed = False  # a cell's outputs differed: later differences are shown briefly
        self.recorded: dict[str, dict] = {}
        for (number, heading), cell in zip(references.cell_places(self.nb.cells), self.nb.cells):
            if cell.cell_type != "code":
                continue
            options = dict(nbval.find_metadata_tags(cell.metadata))
            options.update(dict(nbval.find_comment_markers(cell.source)))
            options.setdefault("check", True)
            yield LessonCell.from_parent(self, name=f"cell {number}", cell_num=number, cell=cell,
                                         options=defaultdict(bool, options), heading=heading)

    def setup(self):
        # The kernel inherits these at its start: empty folders of this notebook's own.
        # A fixed name inside the session's own folder: paths printed are the same in every run.
        base = Path(os.environ.get("COURSE_TEST_TMP") or tempfile.mkdtemp(prefix="course-test-"))
        self.workdir = base / "kernels" / self.stem
        shutil.rmtree(self.workdir, ignore_errors=True)
        folders = {name: self.workdir / sub for name, sub in
                   (("COURSE_CACHE_DIR", "cache"), ("KERAS_HOME", "keras_home"), ("TMPDIR", "tmp"))}
        for folder in folders.values():
            folder.mkdir(parents=True)
        with paths.environment({**{name: str(folder) for name, folder in folders.items()}, **paths.KERNEL_TERMINAL}):
            super().setup()

    def setup_sanitize_files(self):
        pass  # outputs are sanitized by course.references (the same rules when they are recorded)

    def teardown(self):
        try:
            super().teardown()
        finally:
            settings = self.config._course_refs
            if settings.write_dir and self.failed_at is None and self.recorded:
                cells = {c.id: self.recorded[c.id] for c in self.nb.cells if c.id in self.recorded}
                references.Reference(self.stem, settings.condition, settings.here, cells).write(
                    references.reference_path(self.stem, settings.condition, Path(settings.write_dir)))
            if hasattr(self, "workdir") and not references.keep_test_files():
                shutil.rmtree(self.workdir, ignore_errors=True)


class LessonCell(nbval.IPyNbCell):
    def __init__(self, name, parent, cell_num, cell, options, heading=""):
        super().__init__(name, parent, cell_num, cell, options)
        self.heading = heading
        self.place = references.where(parent.stem, cell_num, heading)

    def reportinfo(self):
        return self.fspath, 0, f"{Path(self.fspath).name}::cell {self.cell_num}" + (
            f" ({self.heading})" if self.heading else "")

    def setup(self):
        if self.parent.failed_at:
            raise pytest.skip.Exception(f"not run: {self.parent.failed_at} failed", _use_item_location=True)

    def runtest(self):
        lesson_cell = self.cell
        # nbval compares with the stored cell's outputs when it has an execution count; it never has here
        # (lessons are stored clean): the comparison with the reference is done below.
        self.cell = copy.copy(lesson_cell)
        self.cell.outputs, self.cell.execution_count = [], None
        try:
            super().runtest()
        except nbval.NbCellError as err:
            self.parent.failed_at = self.place
            raise CellFailed(_cell_error(err, self.test_outputs)) from None
        except Exception as err:  # the kernel died, or nbval could not talk to it
            self.parent.failed_at = self.place
            raise CellFailed(f"{type(err).__name__}: {err}") from None
        finally:
            self.cell = lesson_cell
        if self.options.get("skip"):
            return
        settings = self.config._course_refs
        outputs = references.canonical_outputs(self.test_outputs or [], settings.sanitize)
        if settings.write_dir:
            self.parent.recorded[lesson_cell.id] = references.reference_cell(lesson_cell.source, outputs)
            return
        if settings.lax:
            return
        ref = self.parent.reference
        ref_name = references._shown(references.reference_path(self.parent.stem, settings.condition))
        if ref is None:
            raise OutputsDiffer(f"no references for this notebook ({ref_name} is missing): run "
                                f"`{references.refresh_hint(self.parent.stem)}`")
        entry = ref.cells.get(lesson_cell.id)
        brief = self.parent.differed and self.config.getoption("verbose") < 1
        problems = references.compare_cell(lesson_cell.source, outputs, entry, self.parent.masked, ref_name,
                                           self.parent.stem, brief=brief)
        if problems:
            self.parent.differed = True
            raise OutputsDiffer("\n".join(problems))

    def repr_failure(self, excinfo):
        exc = excinfo.value
        if isinstance(exc, CellFailed):
            left = sum(1 for item in self.parent.session.items if item.parent is self.parent
                       and isinstance(item, LessonCell) and item.cell_num > self.cell_num)
            return (f"{self.place} failed; the {left} code cells after it are not run (reported as skipped).\n"
                    f"{exc}")
        if isinstance(exc, OutputsDiffer):
            return str(exc)  # the section's title names the notebook, the cell and its heading
        return super().repr_failure(excinfo)


#: Lines of a failing cell's traceback shown (its end, where the error is).
TRACEBACK_LINES = 14


def _cell_error(err, outputs) -> str:
    """`ename: evalue` and the end of the traceback, without colour codes; or nbval's message (a timeout)."""
    error = next((o for o in reversed(outputs or []) if o.get("output_type") == "error"), None)
    if error is None:
        return references.strip_ansi(str(err))
    lines = references.strip_ansi("\n".join(error.get("traceback", []))).splitlines()
    lines = [line for line in lines if line.strip() and not set(line.strip()) <= set("-")]
    shown = lines[-TRACEBACK_LINES:]
    cut = [f"  ... ({len(lines) - len(shown)} lines of traceback above)"] if len(lines) > len(shown) else []
    return "\n".join([f"{error.get('ename')}: {error.get('evalue')}", "traceback (end):", *cut,
                      *("  " + line for line in shown)])
