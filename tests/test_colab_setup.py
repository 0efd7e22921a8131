"""The notebooks' shared first cell, as Colab runs it: it clones the course, or stops with one clear message.

The cell runs in a fresh Python with a stand-in `google.colab` module; only its clone target folder
(`/content/course`) is moved into a temporary folder, and `REPO` points at a local repository (never the
network): this one, or one that does not exist, like a mistyped fork.
"""

import json
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
    assert source.count(str(target)) == 3 and f"REPO = {repo!r}" in source, "the cell changed: update this test"
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
