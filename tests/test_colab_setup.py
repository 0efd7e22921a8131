"""The notebooks' shared first cell, wherever a notebook is opened: Colab (it clones the course, or stops with
one clear message), a copy of the notebook outside the course (one message saying what to do), or beside a
learner's own `utils.py` or `course.py` (the course's own are used).

The Colab cases run the cell in a fresh Python with a stand-in `google.colab` module; only its clone target
folder (`/content/course`) is moved into a temporary folder, and `REPO` points at a local repository (never
the network): this one, or one that does not exist, like a mistyped fork.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from course import paths, runner

CELL = next("".join(c["source"]) for c in json.loads(runner.notebooks()[0].read_text())["cells"]
            if c["cell_type"] == "code")


def _run_cell(tmp_path, repo):
    (tmp_path / "google").mkdir(exist_ok=True)
    (tmp_path / "google" / "__init__.py").write_text("")
    (tmp_path / "google" / "colab.py").write_text("")  # `import google.colab` works: the cell thinks it is in Colab
    target = tmp_path / "content" / "course"
    source = (CELL.replace("/content/course", str(target))
              .replace(f'REPO = "https://github.com/{paths.REPO_SLUG}"', f"REPO = {repo!r}")
              .replace("utils.setup()", "print('utils from', utils.__file__)"))  # TensorFlow is not the point here
    assert source.count(str(target)) == 1 and f"REPO = {repo!r}" in source, "the cell changed: update this test"
    script = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import google.colab\n{source}"
    return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120), target


def test_the_setup_cell_clones_the_course_and_imports_it(tmp_path):
    if not (paths.REPO_ROOT / ".git").exists():
        pytest.skip("needs a git checkout of the course")
    result, target = _run_cell(tmp_path, str(paths.REPO_ROOT))
    assert result.returncode == 0, result.stderr
    assert f"utils from {target / 'utils' / '__init__.py'}" in result.stdout
    assert (target / "notebooks").is_dir()


def test_a_failed_clone_stops_with_one_message_naming_the_address_and_the_fork_fix(tmp_path):
    missing = str(tmp_path / "no-such-fork.git")
    result, target = _run_cell(tmp_path, missing)
    assert result.returncode == 1 and not target.exists()
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"Could not download the course code from {missing}:", result.stderr
    assert "Traceback" not in result.stderr, "one message, not a traceback"
    assert "does not exist" in result.stderr  # git's own reason
    assert "set REPO above to https://github.com/<you>/<your-fork>" in result.stderr
    assert "Working on a fork" in result.stderr


def _run_locally(folder, prelude="", env=None):
    """The cell as Jupyter runs it outside Colab: in the notebook's folder, `..` taken as the course."""
    source = CELL.replace("utils.setup()", "print('utils from', utils.__file__)")
    script = f"import sys; sys.path.insert(0, ''); {prelude}\n{source}"
    return subprocess.run([sys.executable, "-c", script], cwd=folder, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_a_copy_opened_outside_the_course_says_what_to_do(tmp_path):
    (tmp_path / "Downloads").mkdir()
    result = _run_locally(tmp_path / "Downloads")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message.startswith(f"This lesson needs the course's code (its utils/ and course/ folders), which is not in "
                              f"{tmp_path}."), message
    assert "git clone https://github.com/" in message and "COURSE_ROOT" in message


def test_course_root_points_a_copy_elsewhere_at_the_course(tmp_path):
    result = _run_locally(tmp_path, env={"COURSE_ROOT": str(paths.REPO_ROOT)})
    assert result.returncode == 0, result.stderr
    assert f"utils from {paths.REPO_ROOT / 'utils' / '__init__.py'}" in result.stdout


@pytest.mark.parametrize("imported_first", [False, True], ids=["not imported", "imported before the cell"])
def test_a_learners_own_utils_and_course_beside_the_notebook_do_not_hide_the_courses(tmp_path, imported_first):
    notebooks = tmp_path / "course" / "notebooks"
    shutil.copytree(paths.REPO_ROOT / "utils", tmp_path / "course" / "utils")
    shutil.copytree(paths.REPO_ROOT / "course", tmp_path / "course" / "course")
    notebooks.mkdir()
    (notebooks / "utils.py").write_text("def setup():\n    raise RuntimeError('the learner own module')\n")
    (notebooks / "course.py").write_text("X = 1\n")
    result = _run_locally(notebooks, prelude="import utils, course" if imported_first else "")
    assert result.returncode == 0, result.stderr
    assert f"utils from {tmp_path / 'course' / 'utils' / '__init__.py'}" in result.stdout
