"""course.references: sanitizing, the stored form of outputs, comparing a cell, where a cell is, refreshing.

Pure Python (no kernel, no TensorFlow); tests/test_nbval_plugin.py runs the pytest side on tiny notebooks.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course import references as refs
from course.references import Reference, Sanitizer

FOLDERS = {"TEST_TMP": "/tmp/course-test-1-abc", "BUILD_DIR": "/tmp/course-test-1-abc/build", "DATA_DIR": None,
           "REPO": "/home/me/course", "HOME": "/home/me", "PREFIX": "/home/me/course/.venv"}


@pytest.fixture
def course_rules():
    """The course's own sanitize file, with this fake machine's folders."""
    return Sanitizer.from_file(refs.SANITIZE_FILE, FOLDERS)


# --- sanitizing ------------------------------------------------------------------------------------------

def test_sanitize_file_format_folders_and_directives():
    text = "\n".join([
        "# a comment line is ignored", "regex: {TEST_TMP}", "replace: <tmp>",
        "# a folder that is not set here: the rule is left out", "regex: {DATA_DIR}/x", "replace: MIRROR",
        "regex: ^noise.*\\n", "replace:",
        "mask-numbers: images/s",
        "mask-column: seconds"])
    rules = Sanitizer.from_text(text, FOLDERS)
    assert len(rules.rules) == 3 and rules.masks_column("train seconds") and not rules.masks_column("accuracy")
    assert rules("saved in /tmp/course-test-1-abc/build/x.keras") == "saved in <tmp>/build/x.keras"
    assert rules("noise 1\nkept 1\n") == "kept 1\n"
    assert rules("a: 612 images/s\nb: 612 photos") == "a: <n> images/s\nb: 612 photos"
    assert rules("/x/x") == "/x/x", "the rule naming an unset folder is not applied"


@pytest.mark.parametrize("raw, clean", [
    ("Data: mirror=not set, cache=/tmp/course-test-1-abc/kernels/01_mnist_dense/cache, offline",
     "Data: mirror=not set, cache=<tmp>/kernels/01_mnist_dense/cache, offline"),
    ("wrote /home/me/course/build/x and /home/me/notes", "wrote <repo>/build/x and ~/notes"),
    ("/home/me/course/.venv/lib/python3.11/site-packages/keras/src/a.py:12: UserWarning: x",
     "<site-packages>/keras/src/a.py:12: UserWarning: x"),
    ("8/8 - 1s - 149ms/step - accuracy: 0.2022 - loss: 3.4802", "8/8 - <time> - <time>/step - accuracy: 0.2022 - loss: 3.4802"),
    ("1/1 ━━━━━━━━━━━━━━━━━━━━ 0s 50ms/step", "1/1 - <time> - <time>/step"),
    ("trained 2 epochs in 2 s", "trained 2 epochs in <time>"),
    ("    as published: validation accuracy 0.7500 (1 s)", "    as published: validation accuracy 0.7500 (<time>)"),
    ("1conv:  1 epochs (ended by the EPOCHS cap),   12 s; best epoch 1", "1conv:  1 epochs (ended by the EPOCHS cap), <time>; best epoch 1"),
    ("t-SNE of 50 points: 0.2 s", "t-SNE of 50 points: <time>"),
    ("after 4; 3 s per epoch here, so it costs about 1.2 minutes", "after 4; <time> per epoch here, so it costs about <time>"),
    ("  train_seconds                        2.4689", "  train_seconds                        <time>"),
    ("  'train_seconds': 2.3261}}", "  'train_seconds': <time>}}"),
    ("<pandas.io.formats.style.Styler at 0x7f3ee7a0e850>", "<pandas.io.formats.style.Styler at 0x<address>>"),
    ("saved 2026-12-06 09:12:25.123", "saved <date>"),
    ("wrote ['events.out.tfevents.1796547781.vm.21136.18.v2', 'metadata.tsv']",
     "wrote ['events.out.tfevents.<time.host.pid>', 'metadata.tsv']"),
    ("key of the training split: 22efd77186bfdb79", "key of the training split: <key>"),
    ("one epoch took 12 times as long as the head's", "one epoch took <n> times as long as the head's"),
    ("Here the Keras layers were faster per image; one pass", "Here the Keras layers were faster per <batch or image>; one pass"),
    ("  Keras layers per batch:    618 images/s", "Keras layers per batch: <n> images/s"),
    ("opened /tmp/course-test-1-abc/tmp/tmpab12_xyz.json", "opened <tmp>/tmp/tmp<random>.json"),
    ("/tmp/ipykernel_21136/3187454162.py:3: UserWarning: x", "/tmp/ipykernel_<pid>/<cell>.py:3: UserWarning: x"),
])
def test_what_varies_between_runs_is_sanitized(course_rules, raw, clean):
    assert course_rules(raw) == clean


@pytest.mark.parametrize("line", [
    "INFO:tensorflow:Assets written to: /tmp/x/assets\n",
    "I0000 00:00:1733475145.123456   21136 cuda_executor.cc:1015] could not open file\n",
    "2026-12-06 09:12:25.123456: W tensorflow/core/framework/op_kernel.cc:1857] OP_REQUIRES failed\n",
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n",
])
def test_log_lines_are_removed(course_rules, line):
    assert course_rules("before\n" + line + "after") == "before\nafter"


@pytest.mark.parametrize("text", [
    "train: (1000, 28, 28) uint8  test: (297, 28, 28)",
    "validation accuracy 0.7000   test accuracy 0.6431   (106 of 297 test digits wrong)",
    "classes: ['daisy', 'dandelion', 'roses', 'sunflowers', 'tulips']",
    "│ dense_1 (Dense)                 │ (None, 512)            │       401,920 │",
    "test 6s turned half a turn are classified as: 9: 53%",
    "3 px right 0.4377   lost 20.5 points",
])
def test_what_a_lesson_teaches_is_not_sanitized(course_rules, text):
    assert course_rules(text) == text


def test_every_rule_in_the_sanitize_file_is_commented():
    lines = refs.SANITIZE_FILE.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(("regex:", "mask-numbers:", "mask-column:"))]
    assert starts
    for i in starts:
        above = lines[i - 1] if not lines[i - 1].startswith("replace:") else ""
        if lines[i - 1].startswith("replace:"):  # a rule right after another belongs to the same comment
            continue
        assert above.startswith("# "), f"line {i + 1} of {refs.SANITIZE_FILE.name} has no comment above it"


def test_mask_numbers_keeps_names_and_collapses_padding():
    assert refs.mask_numbers("float32 conv2d_1 (None, 28, 28)   1,285 params -1.5e-3.") == \
        "float32 conv2d_1 (None, <n>, <n>) <n> params <n>."
    assert refs.mask_numbers("Python 3.11.7 | TensorFlow 2.21.0") == "Python <n> | TensorFlow <n>"


# --- the stored form ---------------------------------------------------------------------------------------

def _stream(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


def test_streams_are_joined_with_carriage_returns_and_backspaces_applied():
    out = refs.canonical_outputs([_stream("Epoch 1\n"), _stream("warn\n", "stderr"), _stream("10%\r50%\r100%\n"),
                                  _stream("ab\bc\n")], Sanitizer())
    assert out == [{"stdout": ["Epoch 1", "100%", "ac"]}, {"stderr": ["warn"]}]


def test_a_stream_that_only_printed_what_is_sanitized_is_no_output():
    rules = Sanitizer.from_text("regex: ^INFO:tensorflow:.*\\n\nreplace:", FOLDERS)
    assert refs.canonical_outputs([_stream("INFO:tensorflow:x\n", "stderr")], rules) == []


def test_figures_become_placeholders_counts_and_errors_lose_their_traceback():
    outputs = [
        {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo" * 100, "text/plain": "<Figure size 640x480 with 1 Axes>"},
         "metadata": {"needs_background": "light"}},
        {"output_type": "execute_result", "execution_count": 7, "data": {"text/plain": "42"}, "metadata": {}},
        {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": ["\x1b[0;31mValueError\x1b[0m"]},
    ]
    out = refs.canonical_outputs(outputs, Sanitizer())
    assert out == [{"display": {"image/png": "<image/png>", "text/plain": ["<Figure size 640x480 with 1 Axes>"]}},
                   {"result": {"text/plain": ["42"]}}, {"error": "ValueError: bad"}]
    assert "execution_count" not in json.dumps(out) and "iVBOR" not in json.dumps(out)


TABLE = ('<div><style scoped>.dataframe th {text-align: right;}</style><table border="1" class="dataframe">'
         '<thead><tr style="text-align: right;"><th></th><th>test accuracy</th><th>seconds</th></tr></thead>'
         '<tbody><tr><th>this notebook</th><td>0.6431</td><td>12</td></tr>'
         '<tr><th>original &amp; fixed</th><td>0.7845</td><td>3</td></tr></tbody></table></div>')


def test_a_table_is_kept_as_rows_of_cells_with_measured_columns_masked():
    rules = Sanitizer.from_text("mask-column: seconds", FOLDERS)
    out = refs.canonical_outputs([{"output_type": "display_data", "data": {
        "text/html": TABLE, "text/plain": "               test accuracy  seconds\nthis notebook ..."}}], rules)
    assert out == [{"display": {"text/html": [" | test accuracy | seconds", "this notebook | 0.6431 | <n>",
                                              "original & fixed | 0.7845 | <n>"],
                                "text/plain": "<text/plain>"}}]


def test_html_saying_what_the_plain_text_says_is_a_placeholder_unless_the_plain_text_is_a_bare_name():
    summary = {"text/html": "<pre><span style='color: red'>Total params: 10</span></pre>", "text/plain": "Total params: 10"}
    styler = {"text/html": "<p>Validation accuracy</p>", "text/plain": "<pandas.io.formats.style.Styler at 0x7f00>"}
    out = refs.canonical_outputs([{"output_type": "display_data", "data": d} for d in (summary, styler)], Sanitizer())
    assert out[0]["display"]["text/html"] == "<text/html>" and out[0]["display"]["text/plain"] == ["Total params: 10"]
    assert out[1]["display"]["text/html"] == ["Validation accuracy"]


def test_transcript_names_each_output_and_masks_on_request():
    outs = [{"stdout": ["accuracy 0.5"]}, {"display": {"image/png": "<image/png>", "text/plain": ["<Figure size 6x4>"]}}]
    assert refs.transcript(outs) == ["[stdout]", "accuracy 0.5", "[display: image/png, text/plain]", "  text/plain:",
                                     "<Figure size 6x4>"]
    assert refs.transcript(outs, masked=True)[1] == "accuracy <n>"


# --- where a cell is -----------------------------------------------------------------------------------------

def test_cells_are_numbered_as_jupyter_shows_them_under_their_heading():
    cells = [{"cell_type": "markdown", "source": "# Title"}, {"cell_type": "code", "source": "1"},
             {"cell_type": "markdown", "source": ["## Setup\n", "text"]}, {"cell_type": "code", "source": "2"},
             {"cell_type": "markdown", "source": "## Solutions\n```\n## not a heading\n```\n### Solution 1: x"},
             {"cell_type": "code", "source": "3"},
             {"cell_type": "markdown", "source": "## Summary"}, {"cell_type": "code", "source": "4"}]
    places = refs.cell_places(cells)
    assert [places[i] for i in (1, 3, 5, 7)] == [(2, ""), (4, "## Setup"), (6, "### Solution 1: x (## Solutions)"),
                                                 (8, "## Summary")]
    assert refs.where("01_mnist_dense", 4, "## Setup") == '01_mnist_dense.ipynb, cell 4 under "## Setup"'


# --- comparing a cell ------------------------------------------------------------------------------------------

REF = {"source": ["print(accuracy)"], "outputs": [{"stdout": ["train 900", "accuracy 0.6431"]}]}


def _compare(outputs, reference=REF, source="print(accuracy)", masked=False, brief=False):
    return refs.compare_cell(source, outputs, reference, masked, "tests/references/standin/01_x.json", "01_x", brief)


def test_equal_outputs_pass_and_a_changed_number_fails_with_a_plain_unified_diff():
    assert _compare([{"stdout": ["train 900", "accuracy 0.6431"]}]) is None
    problems = _compare([{"stdout": ["train 900", "accuracy 0.6263"]}])
    text = "\n".join(problems)
    assert problems[0] == "outputs differ from the reference:"
    assert "--- tests/references/standin/01_x.json\n+++ this run" in text
    assert "-accuracy 0.6431\n+accuracy 0.6263" in text and "\x1b[" not in text


def test_masked_comparison_ignores_numbers_but_not_text_or_the_number_of_outputs():
    assert _compare([{"stdout": ["train 901", "accuracy 0.9999"]}], masked=True) is None
    assert "(numbers masked)" in _compare([{"stdout": ["train 900", "precision 0.6431"]}], masked=True)[0]
    assert _compare([{"stdout": ["train 900", "accuracy 0.6431"]}, {"display": {"image/png": "<image/png>"}}],
                    masked=True) is not None


def test_masked_comparison_leaves_out_warnings_from_installed_packages_only():
    warned = [{"stderr": ["<site-packages>/numpy/lib/_function_base_impl.py:3065: RuntimeWarning: invalid value",
                          "  c /= stddev[:, None]"]}, *REF["outputs"]]
    assert _compare(warned, masked=True) is None, "another NumPy's warning"
    assert _compare(warned) is not None, "same versions: a new warning is a change"
    own = [{"stderr": ["<tmp>/kernels/01_x/tmp/ipykernel_<pid>/<cell>.py:3: UserWarning: careful"]}, *REF["outputs"]]
    assert _compare(own, masked=True) is not None, "a warning from the lesson's own code still counts"


def test_a_cell_without_reference_names_the_refresh_command():
    problems = _compare([{"stdout": ["hello"]}], reference=None)
    assert "no reference output" in problems[0] and "`python -m course references 01`" in problems[0]
    assert "  hello" in problems


def test_a_stale_reference_shows_the_source_diff():
    problems = _compare([{"stdout": ["train 900", "accuracy 0.6431"]}], source="print(accuracy)  # again")
    text = "\n".join(problems)
    assert "the reference is stale" in text and "-print(accuracy)\n+print(accuracy)  # again" in text
    assert problems[-1] == "(its outputs still match the reference)"


def test_brief_reports_one_line_with_the_first_change():
    problems = _compare([{"stdout": ["train 900", "accuracy 0.6263"]}], brief=True)
    assert problems == ['outputs differ too (1 line of 3; -v shows the diff): "accuracy 0.6431" is now "accuracy 0.6263"']


def test_long_diffs_are_cut_and_counted():
    old, new = [f"line {i}" for i in range(60)], [f"line {i}!" for i in range(60)]
    diff = refs.unified(old, new, "a", "b")
    assert len(diff) == refs.DIFF_LINES + 1 and diff[-1].startswith("... ") and diff[-1].endswith("more diff lines")


# --- fingerprint ---------------------------------------------------------------------------------------------

def test_fingerprint_names_versions_and_cpu_and_says_what_differs():
    here = refs.fingerprint()
    assert set(here) == set(refs.FINGERPRINT_NAMES) and here["python"].count(".") == 2
    assert refs.fingerprint_differences(here, dict(here)) == []
    other = {**here, "tensorflow": "0.0.1", "cpu_flags": "avx512_fp16 amx_tile"}
    assert refs.fingerprint_differences(other, here) == [
        f"TensorFlow {here['tensorflow']} here, 0.0.1 in the references",
        f"CPU instruction sets {here['cpu_flags']} here, avx512_fp16 amx_tile in the references"]


# --- files and refreshing ------------------------------------------------------------------------------------

def _reference(outputs, condition="standin", fingerprint=None):
    return Reference("01_x", condition, fingerprint or {"python": "3.11.7"},
                     {"c1": refs.reference_cell("print(1)", outputs)})


def test_a_reference_file_round_trips_and_holds_no_execution_counts(tmp_path):
    path = _reference([{"stdout": ["1"]}]).write(tmp_path / "standin" / "01_x.json")
    loaded = Reference.load(path)
    assert loaded.cells == {"c1": {"id": "c1", "source": ["print(1)"], "outputs": [{"stdout": ["1"]}]}}
    assert loaded.fingerprint == {"python": "3.11.7"} and "execution_count" not in path.read_text()
    assert Reference.load(tmp_path / "missing.json") is None
    assert [p.name for p in path.parent.iterdir()] == ["01_x.json"], "written whole, no temporary file left"


def test_describe_changes_counts_and_shows_what_changed():
    old = _reference([{"stdout": ["accuracy 0.5"]}])
    assert refs.describe_changes(None, old) == ["01_x (standin): new, 1 code cells"]
    assert refs.describe_changes(old, old) == ["01_x (standin): unchanged"]
    lines = refs.describe_changes(old, _reference([{"stdout": ["accuracy 0.6"]}], fingerprint={"python": "3.12.1"}))
    assert lines[0] == "01_x (standin): 1 with other outputs (code cells)"
    assert "made on another machine: Python 3.12.1 now, 3.11.7 before" in lines[1]
    assert "    -accuracy 0.5" in lines and "    +accuracy 0.6" in lines


def test_refresh_runs_pytest_per_condition_writes_what_it_recorded_and_keeps_a_failed_notebooks(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(refs, "REFERENCES_DIR", tmp_path / "refs")
    _reference([{"stdout": ["accuracy 0.5"]}]).write(refs.reference_path("01_mnist_dense", "standin"))
    kept = _reference([{"stdout": ["kept"]}], "mirror").write(refs.reference_path("02_fashion_mnist_cnns", "mirror"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "mirror"))
    calls = []

    def fake_run(command, cwd, env):  # what pytest --references-write does: one file per notebook that ran
        staging = Path(next(a for a in command if a.startswith("--references-write=")).split("=", 1)[1])
        condition = "standin" if "COURSE_DATA_DIR" not in env else "mirror"
        calls.append((condition, [Path(a).stem for a in command if a.endswith(".ipynb")]))
        _reference([{"stdout": ["accuracy 0.6"]}], condition).write(staging / condition / "01_mnist_dense.json")
        return subprocess.CompletedProcess(command, 1)

    monkeypatch.setattr(refs.subprocess, "run", fake_run)
    assert refs.refresh_command(["01", "02"]) == 1
    out = capsys.readouterr().out
    assert calls == [("standin", ["01_mnist_dense", "02_fashion_mnist_cnns"]),
                     ("mirror", ["01_mnist_dense", "02_fashion_mnist_cnns"])]
    assert "01_x (standin): 1 with other outputs (code cells)" in out and "+accuracy 0.6" in out
    assert "02_fashion_mnist_cnns (mirror): its run failed (see above): references kept as they were" in out
    assert Reference.load(kept).cells["c1"]["outputs"] == [{"stdout": ["kept"]}]
    assert Reference.load(refs.reference_path("01_mnist_dense", "mirror")) is not None


def test_refresh_without_a_mirror_makes_the_stand_in_references_only(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(refs, "REFERENCES_DIR", tmp_path / "refs")
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    seen = []
    monkeypatch.setattr(refs.subprocess, "run", lambda command, cwd, env: seen.append(command) or
                        subprocess.CompletedProcess(command, 1))
    assert refs.refresh_command(["06"]) == 1
    assert len(seen) == 1 and "only the stand-in references are made" in capsys.readouterr().out
    assert seen[0][:3] == [sys.executable, "-m", "pytest"] and "--nbval" in seen[0]


def test_dead_test_folders_are_removed_live_ones_kept(tmp_path):
    dead_pid = 2 ** 22 + 12345  # above Linux's pid_max: no such process
    dead, live = tmp_path / f"course-test-{dead_pid}-x1", tmp_path / f"course-test-{os.getpid()}-x2"
    other = tmp_path / "course-test-build-x3"  # not ours: the name has no pid
    for folder in (dead, live, other):
        (folder / "sub").mkdir(parents=True)
    assert refs.remove_dead_test_folders(tmp_path) == [dead]
    assert not dead.exists() and live.exists() and other.exists()


def test_pytests_temporary_folders_are_inside_the_session_folder(tmp_path):
    import tempfile

    session = Path(os.environ["COURSE_TEST_TMP"])
    # under pytest-xdist (`-n`) this process is a worker: the session folder is that of the pytest that started it
    owner = os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()
    assert session.name.startswith(f"course-test-{owner}-")
    assert tmp_path.is_relative_to(session) and Path(tempfile.gettempdir()).is_relative_to(session)
    assert Path(os.environ["TMPDIR"]).is_relative_to(session)



@pytest.mark.parametrize("keep", ["", "1"])
def test_a_test_session_folder_is_removed_at_the_end_unless_asked_to_keep_it(tmp_path, monkeypatch, keep):
    monkeypatch.setenv("COURSE_KEEP_TEST_BUILD", keep)
    dead = tmp_path / f"course-test-{2 ** 22 + 1}-old"
    dead.mkdir()
    session = refs.start_test_session(tmp_path)
    assert session.name.startswith(f"course-test-{os.getpid()}-") and (session / "tmp").is_dir()
    assert not dead.exists(), "a killed pytest's folder is removed by the next one"
    (session / "tmp" / "left.txt").write_text("x")
    message = refs.end_test_session(session)
    if keep:
        assert session.exists() and message == f"COURSE_KEEP_TEST_BUILD=1: the test session's files are kept in {session}"
    else:
        assert message is None and list(tmp_path.iterdir()) == []
