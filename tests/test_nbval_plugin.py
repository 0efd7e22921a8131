"""course.nbval_plugin on tiny notebooks (real kernels, no TensorFlow): record references, compare with them,
name failures as a person counts, stop a notebook at a failing cell, mask numbers on another machine."""

import re
import shutil

import nbformat
import pytest

from course import nbval_plugin, references

pytest_plugins = ["pytester"]

CELLS = [
    ("markdown", "m1", "# A tiny lesson"),
    ("markdown", "m2", "## Setup"),
    ("code", "setup", "import os\nprint('hello', 3)"),
    ("markdown", "m3", "## Numbers\n\ntext"),
    ("code", "acc", "print('accuracy', os.environ.get('TINY_ACCURACY', '0.5'))"),
    ("code", "cache", "print(os.environ['COURSE_CACHE_DIR'])\nos.environ['COURSE_CACHE_DIR'] != os.environ['TMPDIR']"),
]


def _write(path, cells):
    make = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    nb = nbformat.v4.new_notebook(cells=[make[kind](source, id=cid) for kind, cid, source in cells],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def lesson(pytester, monkeypatch):
    """`notebooks/01_tiny.ipynb` as a lesson, its references in `refs/`; returns a function running pytest."""
    folder = pytester.path / "notebooks"
    folder.mkdir()
    monkeypatch.setattr(nbval_plugin, "NOTEBOOK_DIR", folder.resolve())
    monkeypatch.setattr(references, "REFERENCES_DIR", pytester.path / "refs")
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.delenv("TINY_ACCURACY", raising=False)
    path = _write(folder / "01_tiny.ipynb", CELLS)

    def run(*args, accuracy=None):
        if accuracy is not None:
            monkeypatch.setenv("TINY_ACCURACY", accuracy)
        result = pytester.runpytest("-p", "course.nbval_plugin", "-p", "no:cacheprovider", "-ra", *args, str(path))
        monkeypatch.delenv("TINY_ACCURACY", raising=False)
        return result, "\n".join(result.outlines)

    def record():
        staging = pytester.path / "staging"
        result, out = run("--nbval", f"--references-write={staging}")
        assert result.ret == 0, out
        target = references.reference_path("01_tiny", "standin")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(staging / "standin" / "01_tiny.json", target)
        return target

    def reference(fingerprint=None):
        """What `record` writes for CELLS, without running them."""
        outputs = {"setup": [{"stdout": ["hello 3"]}], "acc": [{"stdout": ["accuracy 0.5"]}],
                   "cache": [{"stdout": ["<tmp>/kernels/01_tiny/cache"]}, {"result": {"text/plain": ["True"]}}]}
        cells = {cid: references.reference_cell(source, outputs[cid]) for kind, cid, source in CELLS if kind == "code"}
        return references.Reference("01_tiny", "standin", fingerprint or references.fingerprint(), cells).write(
            references.reference_path("01_tiny", "standin"))

    run.path, run.record, run.reference = path, record, reference
    return run


def test_recorded_references_then_a_changed_number_fails_naming_notebook_cell_and_heading(lesson):
    target = lesson.record()
    recorded = target.read_text()
    assert recorded == lesson.reference().read_text(), "each cell's sanitized outputs, by id, and this machine"

    result, out = lesson("--nbval")
    result.assert_outcomes(passed=3)
    assert "compared strictly" in out

    result, out = lesson("--nbval", accuracy="0.6")
    result.assert_outcomes(passed=2, failed=1)
    assert "01_tiny.ipynb::cell 5 (## Numbers)" in out, "cell 5 of all cells, under its heading"
    assert "outputs differ from the reference:" in out
    assert re.search(r"^-accuracy 0\.5\n\+accuracy 0\.6$", out, re.M)
    assert "\x1b[" not in out


def test_nbval_lax_runs_the_cells_and_compares_nothing(lesson):
    lesson.reference()
    result, out = lesson("--nbval-lax", accuracy="0.6")
    result.assert_outcomes(passed=3)
    assert "NOT compared" in out


def test_a_failing_cell_stops_its_notebook_and_the_rest_is_reported_not_run(lesson):
    _write(lesson.path, [c if c[1] != "setup" else ("code", "setup", "import os\nraise ValueError('no data here')")
                         for c in CELLS])
    result, out = lesson("--nbval")
    result.assert_outcomes(failed=1, skipped=2)
    assert '01_tiny.ipynb, cell 3 under "## Setup" failed; the 2 code cells after it are not run' in out
    assert "ValueError: no data here" in out and "\x1b[" not in out
    assert re.search(r'SKIPPED \[2\] \S*01_tiny.ipynb:\d+: not run: 01_tiny.ipynb, cell 3 under "## Setup" failed', out)


def test_on_another_machine_numbers_are_masked_and_said_so(lesson):
    lesson.reference({**references.fingerprint(), "tensorflow": "0.1.0"})
    result, out = lesson("--nbval", accuracy="0.6")
    result.assert_outcomes(passed=3)
    header = next(line for line in result.outlines if line.startswith("references:"))
    assert "NUMBERS MASKED in 01" in header and "0.1.0 in the references" in header


def test_a_cell_without_reference_fails_and_says_how_to_make_one(lesson):
    lesson.reference()
    _write(lesson.path, CELLS + [("code", "new", "print('new cell')")])
    result, out = lesson("--nbval")
    result.assert_outcomes(passed=3, failed=1)
    assert "01_tiny.ipynb::cell 7 (## Numbers)" in out
    assert "no reference output for this cell (a new cell, or its id changed): run `python -m course references 01`" in out


def test_the_terminal_width_does_not_reach_the_kernel(lesson, monkeypatch):
    """rich sizes Keras' summary tables to COLUMNS: a wide terminal must not change a lesson's outputs."""
    _write(lesson.path, CELLS + [("code", "width", "print(os.environ.get('COLUMNS'), os.environ.get('LINES'))")])
    monkeypatch.delenv("COLUMNS", raising=False)
    lesson.record()
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setenv("LINES", "70")
    result, out = lesson("--nbval")
    result.assert_outcomes(passed=4)
    assert '"None None"' in lesson.record().read_text()


def test_other_notebooks_are_still_collected_once_by_nbval(pytester):
    other = _write(pytester.path / "scratch.ipynb", [("code", "a", "print(1)"), ("code", "b", "1 + 1")])
    result = pytester.runpytest("-p", "course.nbval_plugin", "-p", "no:cacheprovider", "--nbval", str(other))
    result.assert_outcomes(passed=2)  # nbval's own items (Cell 0, Cell 1), each once


def test_a_lesson_without_references_fails_and_the_first_line_says_so(lesson):
    result, out = lesson("--nbval")
    result.assert_outcomes(failed=3)
    header = next(line for line in result.outlines if line.startswith("references:"))
    assert "NO REFERENCES for 01: run `python -m course references 01`" in header
    # Each of the 3 failure sections says it (the short summary repeats it, cut to the terminal's width).
    failures = out.split("short test summary info")[0]
    assert failures.count("no references for this notebook (refs/standin/01_tiny.json is missing): run "
                          "`python -m course references 01`") == 3


class _Config:
    def __init__(self, **options):
        self.options = {"references": "auto", "references_write": None, "nbval": True, **options}

    def getoption(self, name, default=None):
        return self.options.get(name, default)


@pytest.mark.parametrize("forced, same, other", [("auto", False, True), ("strict", False, False),
                                                 ("masked", True, True)])
def test_comparison_mode_by_fingerprint_unless_forced(forced, same, other):
    settings = nbval_plugin.Settings(_Config(references=forced))
    here = references.fingerprint()
    made_here = references.Reference("01_x", "standin", here, {})
    made_elsewhere = references.Reference("02_y", "standin", {**here, "numpy": "0.0.1"}, {})
    assert (settings.masked("01_x", made_here), settings.masked("02_y", made_elsewhere)) == (same, other)
    assert ("MASKED" in settings.summary()) == other
