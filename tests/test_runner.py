"""`python -m course run`: notebook selection, parameters, papermill execution, results.json."""

import json
import subprocess
import sys
import tempfile

import nbformat
import pytest

from course import paths, runner, store


def _notebook(path, body, params="EPOCHS = 1"):
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    setup = f"import sys; sys.path.insert(0, {str(paths.REPO_ROOT)!r}); import utils; from course import paths, record"
    nb.cells = [nbformat.v4.new_code_cell(setup), p, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["course"] = {"lesson": path.stem}  # how the runner tells a lesson from a copy of one
    nbformat.write(nb, path)
    return path


@pytest.fixture
def notebook_dir(course_env, tmp_path, monkeypatch):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder / "01_alpha.ipynb",
              'record.Run(notebook="01_alpha").record(epochs=EPOCHS, smoke=float(paths.is_smoke()))')
    _notebook(folder / "02_beta_fails.ipynb", 'raise ValueError("broken on purpose")')
    _notebook(folder / "03_gamma.ipynb", 'record.Run(notebook="03_gamma").record(test_accuracy=0.5)')
    monkeypatch.setattr(runner, "NOTEBOOK_DIR", folder)
    monkeypatch.delenv("COURSE_SMOKE")
    return folder


def test_kernels_draw_inline_figures_even_when_the_caller_chose_a_backend(notebook_dir, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # what conftest.py sets for pytest itself
    _notebook(notebook_dir / "04_plot.ipynb",
              'import matplotlib.pyplot as plt\nplt.plot([1, 2])\nrecord.Run(notebook="04_plot").record(n=1)')
    assert runner.run(["04"], {}, full=False) == 0
    executed = json.loads((paths.build_dir() / "04_plot.ipynb").read_text())
    outputs = [o for c in executed["cells"] for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the figure was not shown inline"


def test_the_terminal_width_does_not_reach_the_kernel(notebook_dir, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # rich would draw Keras' summary tables 300 characters wide
    _notebook(notebook_dir / "04_width.ipynb",
              'import os\nassert os.environ.get("COLUMNS") is None, os.environ["COLUMNS"]\n'
              'record.Run(notebook="04_width").record(n=1)')
    assert runner.run(["04"], {}, full=False) == 0


def test_a_kernels_temporary_files_are_removed_with_it(notebook_dir, monkeypatch, tmp_path):
    # TensorFlow's autograph sources and TF Hub's cache land in TMPDIR and outlive the kernel
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    monkeypatch.setenv("TMPDIR", str(system_tmp))
    _notebook(notebook_dir / "04_temp.ipynb",
              'import os, tempfile\nleft = tempfile.NamedTemporaryFile(suffix=".py", delete=False).name\n'
              'assert left.startswith(os.environ["TMPDIR"])\nrecord.Run(notebook="04_temp").record(n=1)')
    assert runner.run(["04"], {}, full=False) == 0
    assert list(system_tmp.iterdir()) == []


def test_select_by_number_name_and_fragment(notebook_dir):
    assert [p.stem for p in runner.select(["1", "03"])] == ["01_alpha", "03_gamma"]
    assert [p.stem for p in runner.select(["beta"])] == ["02_beta_fails"]
    assert [p.stem for p in runner.select(["01_alpha.ipynb"])] == ["01_alpha"]
    assert len(runner.select([])) == 3
    with pytest.raises(SystemExit, match="matches no notebook"):
        runner.select(["7"])
    with pytest.raises(SystemExit, match="matches several"):
        runner.select(["a"])


def test_parameters_are_python_literals_or_strings():
    assert runner.parse_parameters(["EPOCHS=3", "LR=1e-3", "NAME=resnet50", "SIZES=[1, 2]", "FLAG=True"]) == {
        "EPOCHS": 3, "LR": 0.001, "NAME": "resnet50", "SIZES": [1, 2], "FLAG": True}
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        runner.parse_parameters(["EPOCHS"])


def test_unknown_parameter_is_refused_before_anything_runs(notebook_dir):
    with pytest.raises(SystemExit, match="has no parameter EPOCH. Its parameters: EPOCHS"):
        runner.run(["01"], {"EPOCH": 3}, full=False)
    assert not (paths.build_dir() / "results.json").exists()


def test_run_executes_records_and_tabulates(notebook_dir, capsys):
    code = runner.run(["01", "02", "03"], {"EPOCHS": 4}, full=False)
    assert code == 1, "a failing notebook makes the exit code non-zero"
    records = {r["notebook"]: r for r in json.loads((paths.build_dir() / "results.json").read_text())}
    assert records["01_alpha"]["metrics"] == {"epochs": 4.0, "smoke": 1.0}
    assert records["01_alpha"]["mode"] == "smoke" and records["01_alpha"]["seconds"] > 0
    assert records["01_alpha"]["parameters"] == {"EPOCHS": 4}
    assert "broken on purpose" in records["02_beta_fails"]["error"]
    assert records["03_gamma"]["metrics"] == {"test_accuracy": 0.5}
    assert (paths.build_dir() / "01_alpha.ipynb").exists(), "the executed copy is kept"
    assert json.loads((paths.build_dir() / "metrics" / "01_alpha.json").read_text())["metrics"]["epochs"] == 4.0
    assert not (paths.build_dir() / "metrics" / "02_beta_fails.json").exists()
    out = capsys.readouterr().out
    assert "test_accuracy=0.5" in out and "FAILED: ValueError: broken on purpose" in out


def test_full_mode_reaches_the_notebook_and_results_merge(notebook_dir):
    assert runner.run(["03"], {}, full=False) == 0
    assert runner.run(["01"], {}, full=True) == 0
    records = {r["notebook"]: r for r in json.loads((paths.build_dir() / "results.json").read_text())}
    assert set(records) == {"01_alpha", "03_gamma"}, "a later run adds to earlier results"
    assert records["01_alpha"]["mode"] == "full" and records["01_alpha"]["metrics"]["smoke"] == 0.0


def test_a_later_smoke_or_failed_run_never_replaces_the_last_good_full_copy(notebook_dir):
    """build/NN.ipynb is the latest attempt; the last successful full run's copy stays in build/full/."""
    kept = paths.build_dir() / runner.FULL_COPIES / "01_alpha.ipynb"
    assert runner.run(["01"], {"EPOCHS": 7}, full=True) == 0
    assert kept.exists() and "EPOCHS = 7" in kept.read_text()
    assert runner.run(["01"], {"EPOCHS": 2}, full=False) == 0
    assert "EPOCHS = 2" in (paths.build_dir() / "01_alpha.ipynb").read_text(), "the latest attempt, any mode"
    assert "EPOCHS = 7" in kept.read_text(), "a smoke run leaves the full run's copy alone"
    _notebook(notebook_dir / "01_alpha.ipynb", 'raise ValueError("broken later")')
    assert runner.run(["01"], {}, full=True) == 1
    assert "EPOCHS = 7" in kept.read_text(), "a failed full run leaves the last good one alone"
    assert not list(kept.parent.glob(".*")), "no temporary copies left behind"


def test_cli_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "course", "--help"], capture_output=True, text=True,
                         cwd=paths.REPO_ROOT, check=True).stdout
    for command in ("run", "download", "datasets", "references"):
        assert command in out


def test_cli_download_refuses_offline(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    proc = subprocess.run([sys.executable, "-m", "course", "download", "mnist"], capture_output=True, text=True,
                          cwd=paths.REPO_ROOT)
    assert proc.returncode == 2 and "COURSE_OFFLINE=1" in proc.stderr


RECORDS = [
    {"notebook": "01_mnist_dense", "mode": "full", "data": "mnist: real", "seconds": 95.2,
     "metrics": {"test_accuracy": 0.9771, "train_seconds": 80.1}},
    {"notebook": "04_hotdog_fine_tuning", "mode": "smoke", "data": "hotdog: STAND-IN", "seconds": 30.0,
     "metrics": {}, "error": "ValueError: boom", "parameters": {"BACKBONE": "mobilenet_025"}},
]


def test_markdown_table_lists_every_record_without_timing_metrics():
    table = runner.markdown_table(RECORDS).splitlines()
    assert table[0] == "| notebook | mode | data | wall time | metrics |"
    assert table[2] == "| 01_mnist_dense | full | MNIST handwritten digits: real data | 95 s | test_accuracy 0.9771 |"
    assert table[3] == ("| 04_hotdog_fine_tuning | smoke `BACKBONE=mobilenet_025` | Hot dog / not hot dog: STAND-IN data, not "
                        "the real dataset | 30 s | failed: ValueError: boom |")


def test_update_readme_replaces_only_the_marked_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{runner.README_START}\nold table\n{runner.README_END}\noutro\n")
    runner.update_readme(RECORDS, readme)
    text = readme.read_text()
    assert text.startswith("intro\n<!-- results:start -->\n| notebook |") and text.endswith("<!-- results:end -->\noutro\n")
    assert "old table" not in text and "0.9771" in text
    readme.write_text("no markers")
    with pytest.raises(SystemExit, match="no <!-- results:start -->"):
        runner.update_readme(RECORDS, readme)


def test_readme_has_a_results_block():
    text = (paths.REPO_ROOT / "README.md").read_text()
    assert runner.README_START in text and runner.README_END in text


def _documented_runs():
    """Every `python -m course run ... NN -p NAME=VALUE` written in the README, data/README.md or a notebook."""
    import re

    sources = [paths.REPO_ROOT / "README.md", paths.REPO_ROOT / "data" / "README.md", *runner.notebooks()]
    pattern = re.compile(r"python -m course run(?: --full)? (\d\d)((?: -p [A-Z_][A-Z0-9_]*=[^\s`\"'\\]+)+)")
    for source in sources:
        for number, pairs in pattern.findall(source.read_text(encoding="utf-8")):
            yield source.name, number, pairs.split(" -p ")[1:]


def test_every_documented_run_command_passes_the_parameter_check():
    """A command a learner copies from the docs must not be refused (a renamed parameter, a wrong type)."""
    runs = list(_documented_runs())
    assert len(runs) >= 2 and any(source == "README.md" for source, _, _ in runs), runs  # the pattern still finds them
    for source, number, pairs in runs:
        (path,) = runner.select([number])
        try:
            runner.check_parameters(path, runner.parse_parameters(pairs))
        except SystemExit as err:
            pytest.fail(f"{source}: `python -m course run {number} -p {' -p '.join(pairs)}` is refused: {err}")


def test_results_keep_one_record_per_notebook_and_mode(course_env):
    first = {"notebook": "01_mnist_dense", "mode": "smoke", "seconds": 20.0, "metrics": {"test_accuracy": 0.8}}
    full = {"notebook": "01_mnist_dense", "mode": "full", "seconds": 110.0, "metrics": {"test_accuracy": 0.979}}
    again = {**first, "seconds": 19.0}
    store.save_attempt(first)
    store.save_attempt(full)
    store.save_attempt(again)  # a later smoke run replaces the smoke record only
    records = json.loads(store.results_path().read_text())
    assert [(r["mode"], r["seconds"]) for r in records] == [("full", 110.0), ("smoke", 19.0)]


def test_a_failed_rerun_keeps_the_last_good_numbers_and_says_so(notebook_dir, capsys):
    _notebook(notebook_dir / "04_delta.ipynb", 'assert EPOCHS < 5, "too many epochs"\n'
                                               'record.Run(notebook="04_delta").record(epochs=EPOCHS)')
    assert runner.run(["04"], {"EPOCHS": 2}, full=False) == 0
    capsys.readouterr()
    assert runner.run(["04"], {"EPOCHS": 9}, full=False) == 1
    out = capsys.readouterr().out
    assert "FAILED: AssertionError: too many epochs (the last good numbers, epochs=2 from " in out
    (record,) = json.loads((paths.build_dir() / "results.json").read_text())
    assert record["metrics"] == {"epochs": 2.0} and record["parameters"] == {"EPOCHS": 2}
    assert record["last_attempt"]["error"] == "AssertionError: too many epochs"
    assert record["last_attempt"]["parameters"] == {"EPOCHS": 9}
    assert "epochs 2 (a later attempt" in runner.markdown_table([record])


def test_a_notebook_that_records_nothing_has_failed(notebook_dir, capsys):
    _notebook(notebook_dir / "04_silent.ipynb", "x = 1")
    assert runner.run(["04"], {}, full=False) == 1
    out = capsys.readouterr().out
    assert ("FAILED: the notebook ran to the end but recorded no results: it must call lesson.record(...) after "
            "lesson = utils.start('04_silent', globals())") in out


def test_a_relative_build_dir_reaches_the_kernel_as_an_absolute_path(notebook_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the user typed the command
    monkeypatch.setenv("PWD", str(tmp_path))
    monkeypatch.setenv("COURSE_BUILD_DIR", "relative/build")
    assert runner.run(["03"], {}, full=False) == 0
    build = tmp_path / "relative" / "build"
    assert json.loads((build / "results.json").read_text())[0]["metrics"] == {"test_accuracy": 0.5}
    assert (build / "03_gamma.ipynb").exists() and not (notebook_dir / "relative").exists()


def test_a_damaged_results_file_is_set_aside_named_and_its_records_kept(notebook_dir, capsys):
    assert runner.run(["01", "03"], {}, full=False) == 0
    path = paths.build_dir() / "results.json"
    path.write_text(path.read_text()[:-40])  # cut short, as by a crash in an older version
    capsys.readouterr()
    assert runner.run(["01"], {"EPOCHS": 5}, full=False) == 0
    out = capsys.readouterr().out
    (aside,) = [p.name for p in paths.build_dir().glob("results.json.damaged-*")]
    assert f"{path} is not valid JSON" in out and f"kept it as {aside}" in out
    records = {r["notebook"]: r for r in json.loads(path.read_text())}
    assert records["01_alpha"]["metrics"]["epochs"] == 5.0 and records["03_gamma"]["metrics"] == {"test_accuracy": 0.5}


def test_the_kernels_own_messages_go_to_its_log_not_the_terminal(notebook_dir, capfd):
    # the kernel process's own stderr (C++ logs, crash reports), not the cell's output
    _notebook(notebook_dir / "04_noisy.ipynb", 'import os; os.write(2, b"low-level kernel message\\n")\n'
                                               'record.Run(notebook="04_noisy").record(a=1)')
    assert runner.run(["04"], {}, full=False) == 0
    captured = capfd.readouterr()
    assert "low-level kernel message" not in captured.out + captured.err
    log = (paths.build_dir() / "logs" / "04_noisy.smoke.log").read_text()
    assert "=== 04_noisy (smoke)" in log and "low-level kernel message" in log


def test_run_all_stops_before_the_solutions_in_jupyter_but_not_in_the_courses_runs(notebook_dir, monkeypatch):
    body = ('record.Run(notebook="05_guarded").record(n=1)\n'
            'record.Run(notebook="05_guarded").stop_run_all()\n'
            '(paths.build_dir() / "solutions-ran").write_text("yes")')
    _notebook(notebook_dir / "05_guarded.ipynb", body)
    assert runner.run(["05"], {}, full=False) == 0, "smoke runs check the solutions"
    assert (paths.build_dir() / "solutions-ran").exists()
    (paths.build_dir() / "solutions-ran").unlink()
    assert runner.run(["05"], {}, full=True) == 0, "a full run measures the lesson and stops before the solutions"
    assert not (paths.build_dir() / "solutions-ran").exists()
    assert runner.run(["05"], {}, full=True, solutions=True) == 0
    assert (paths.build_dir() / "solutions-ran").exists()


def test_the_guard_shows_one_line_in_ipython_not_a_traceback(monkeypatch):
    from course import record

    monkeypatch.setenv("COURSE_RUN_SOLUTIONS", "0")
    with pytest.raises(record.StopRunAll) as stop:
        record.Run(notebook="01_x").stop_run_all()
    assert stop.value._render_traceback_() == [record.StopRunAll.MESSAGE]
    assert "Run all" in record.StopRunAll.MESSAGE and "Shift+Enter" in record.StopRunAll.MESSAGE
    monkeypatch.setenv("COURSE_RUN_SOLUTIONS", "1")
    record.Run(notebook="01_x").stop_run_all()  # the course's own runs go on


def test_a_cache_that_cannot_be_written_is_a_warning_before_the_run_not_a_failure(notebook_dir, tmp_path, monkeypatch,
                                                                                  capsys):
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("x")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(blocker / "cache"))
    assert runner.run(["03"], {}, full=False) == 0
    err = capsys.readouterr().err
    assert err.count("warning: downloads, stand-ins and converted photos cannot be kept:") == 1
    assert "COURSE_CACHE_DIR" in err and "a file of that name is in the way" in err


def test_the_cell_that_stopped_is_read_from_what_the_kernel_reported(tmp_path):
    """papermill marks every pending cell "completed" after a kernel dies: nbclient's timing tells the truth."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_markdown_cell("## 2. Training"), nbformat.v4.new_code_cell("model.fit(x)\nmore()"),
                nbformat.v4.new_code_cell("after()")]
    done = {"iopub.execute_input": "t0", "shell.execute_reply": "t1"}
    nb.cells[1].metadata = {"execution": done, "papermill": {"status": "completed"}}
    nb.cells[3].metadata = {"execution": {"iopub.execute_input": "t2"}, "papermill": {"status": "completed"}}
    nb.cells[4].metadata = {"papermill": {"status": "completed"}}  # never started, though papermill says so
    path = tmp_path / "executed.ipynb"
    nbformat.write(nb, path)
    assert runner.cell_state(path) == {"cell": 4, "heading": "2. Training", "line": "model.fit(x)", "state": "running"}
    nb.cells[3].metadata["execution"]["shell.execute_reply"] = "t3"
    nb.cells[4].outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="boom", traceback=[])]
    nbformat.write(nb, path)
    assert runner.cell_state(path)["cell"] == 5 and runner.cell_state(path)["state"] == "raised"
    # A kernel killed in its first statement: nbclient may never hear that the cell began; papermill's start did
    nb.cells[4].outputs = []
    nb.cells[4].metadata = {"execution": {}, "papermill": {"status": "completed", "start_time": "t4", "end_time": "t5"}}
    nbformat.write(nb, path)
    assert runner.cell_state(path) == {"cell": 5, "heading": "2. Training", "line": "after()", "state": "running"}
    path.write_text("{")
    assert runner.cell_state(path) is None


def test_an_error_is_shown_with_its_first_line_whole_and_the_fix_without_colour():
    evalue = ("The dataset 'mnist' is not available: it is not in the mirror nor in the cache, and the download "
              "failed (<urlopen error [Errno -2] Name or service not known>).\n"
              "Fix: run `python -m course download mnist` on a machine with internet.")
    text = runner.error_text("\x1b[0;31mDataUnavailableError\x1b[0m", evalue)
    assert "Name or service not known>)." in text, "the first line whole, never cut"
    assert text.endswith("Fix: run `python -m course download mnist` on a machine with internet.")
    assert "\x1b" not in text and text.startswith("DataUnavailableError: The dataset 'mnist'")
    listed = runner.error_text("ImageFolderError", "2 problem(s) in /photos:\n  dogs/a.jpg: empty file (0 bytes)\n"
                               "  dogs/b.jpg: corrupt\nFix: repair or delete these files.")
    assert listed == ("ImageFolderError: 2 problem(s) in /photos: dogs/a.jpg: empty file (0 bytes) ... "
                      "Fix: repair or delete these files."), "the file a list names, and the fix"
