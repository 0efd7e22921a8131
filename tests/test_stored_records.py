"""Stored records are checked against the current course before anything is published (held-back cause 7).

`build/results.json` may come from an older layout of the course (lessons since renamed), be edited by hand,
or hold fields of the wrong type: `python -m course results` (and `--readme`) and the site leave out what
does not belong or cannot be shown, say so in one line each, and never stop on it.
"""

import json

import pytest

from course import __main__, store


@pytest.fixture
def results_file(course_env):
    path = store.results_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


GOOD = {"notebook": "01_mnist_dense", "mode": "full", "data": "mnist: real, mirror $COURSE_DATA_DIR/mnist",
        "metrics": {"test_accuracy": 0.98}, "seconds": 100.0}


def _results(capsys, *args):
    code = __main__.main(["results", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_records_of_lessons_that_no_longer_exist_are_left_out_and_named(results_file, capsys):
    old = {**GOOD, "notebook": "03_hotdog_fine_tuning"}  # the course's older numbering
    results_file.write_text(json.dumps([GOOD, old, {**GOOD, "notebook": "07_extra"}]))
    code, out, err = _results(capsys)
    assert code == 0 and "| 01_mnist_dense |" in out
    assert "03_hotdog_fine_tuning" not in out and "07_extra" not in out
    assert "holds records of 03_hotdog_fine_tuning, 07_extra, which are no lessons of this course any more" in err


def test_only_stale_records_means_no_results(results_file, capsys):
    results_file.write_text(json.dumps([{**GOOD, "notebook": "01_old_name"}]))
    code, out, err = _results(capsys)
    assert code == 2 and "No results" in err


@pytest.mark.parametrize("bad, note", [
    ({"metrics": {"test_accuracy": "high"}}, "left out metrics that are not numbers: test_accuracy"),
    ({"metrics": {"test_accuracy": None, "loss": 0.1}}, "test_accuracy"),
    ({"metrics": {"test_accuracy": True}}, "test_accuracy"),
    ({"metrics": {"test_accuracy": float("nan")}}, "test_accuracy"),
    ({"metrics": ["0.98"]}, "left out metrics that are not numbers"),
    ({"seconds": "fast"}, "is not a number: shown as unknown"),
    ({"mode": "quick"}, "is neither smoke nor full: record left out"),
])
def test_fields_of_the_wrong_type_are_left_out_and_named(results_file, capsys, bad, note):
    results_file.write_text(json.dumps([{**GOOD, **bad}, {**GOOD, "mode": "smoke"}]))
    code, out, err = _results(capsys)
    assert code == 0 and note in err
    assert "| 01_mnist_dense | smoke |" in out


def test_the_readme_never_gets_rows_of_lessons_that_no_longer_exist(results_file, capsys, tmp_path, monkeypatch):
    from course import paths, runner

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{runner.README_START}\nold\n{runner.README_END}\nend\n")
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    results_file.write_text(json.dumps([GOOD, {**GOOD, "notebook": "02_old_lesson"}]))
    code, out, err = _results(capsys, "--readme")
    text = readme.read_text()
    assert code == 0 and "01_mnist_dense" in text and "02_old_lesson" not in text and text.endswith("end\n")
