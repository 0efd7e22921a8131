"""The runner under real faults: killed kernels, SIGTERM and Ctrl-C, kill -9, full and read-only disks, races.

Each test drives `python -m course run` in a subprocess over tiny fake notebooks (no TensorFlow), in a
temporary build folder, and checks what the learner sees (one line per event, no traceback) and what
is kept (the last good numbers, every notebook that finished). Marked `slow`: CI runs them.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import nullcontext

import pytest
from _mounts import fill, remount_read_only, tmpfs
from test_runner import _notebook

from course import paths

pytestmark = pytest.mark.slow

PARAMETERS = "EPOCHS = 1\nSLEEP = 0\nKILL = False\nFILL = False"
NOTEBOOKS = {
    "01_quick": 'record.Run(notebook="01_quick").record(value=EPOCHS)',
    "02_sleepy": textwrap.dedent("""
        import os, time, pathlib
        faults = pathlib.Path(os.environ["FAULT_DIR"])
        (record.Run(notebook="02_sleepy").folder() / "marker").write_text(str(EPOCHS))
        (faults / f"kernel-{EPOCHS}").write_text(str(os.getpid()))
        end = time.time() + SLEEP
        while time.time() < end and not (faults / "release").exists():
            time.sleep(0.1)
        assert (record.Run(notebook="02_sleepy").folder() / "marker").read_text() == str(EPOCHS), "another run wrote here"
        record.Run(notebook="02_sleepy").record(value=EPOCHS)
    """),
    "03_oom": textwrap.dedent("""
        import os, signal
        if KILL:
            os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer does
        record.Run(notebook="03_oom").record(value=EPOCHS)
    """),
    "04_filler": textwrap.dedent("""
        if FILL:
            with open(record.Run(notebook="04_filler").folder() / "filler", "wb", buffering=0) as f:
                while True:
                    f.write(b"x" * 65536)
        record.Run(notebook="04_filler").record(value=EPOCHS)
    """),
}


class Course:
    """`python -m course ...` in a subprocess, over the fake notebooks, with its own build folder."""

    def __init__(self, tmp_path, build):
        self.notebooks, self.build, self.faults = tmp_path / "notebooks", build, tmp_path / "faults"
        self.notebooks.mkdir()
        self.faults.mkdir()
        for name, body in NOTEBOOKS.items():
            _notebook(self.notebooks / f"{name}.ipynb", body, params=PARAMETERS)
        self.driver = (f"import sys; sys.path.insert(0, {str(paths.REPO_ROOT)!r}); from pathlib import Path; "
                       f"from course import runner, __main__; runner.NOTEBOOK_DIR = Path({str(self.notebooks)!r}); "
                       "sys.exit(__main__.main(sys.argv[1:]))")
        self.env = {**os.environ, "COURSE_BUILD_DIR": str(build), "FAULT_DIR": str(self.faults)}
        self.env.pop("COURSE_SMOKE", None)

    def start(self, *args):
        return subprocess.Popen([sys.executable, "-c", self.driver, *args], env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)

    def run(self, *args, timeout=240):
        proc = self.start(*args)
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err

    def records(self):
        return {r["notebook"]: r for r in json.loads((self.build / "results.json").read_text())}

    def wait_for_kernel(self, proc, epochs, timeout=120):
        marker, deadline = self.faults / f"kernel-{epochs}", time.time() + timeout
        while not marker.exists() or not marker.read_text():
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, "the notebook's kernel never started"
            time.sleep(0.1)
        return int(marker.read_text())


def _gone(pid, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def _no_traceback(*texts):
    for text in texts:
        assert "Traceback" not in text, text


@pytest.fixture
def course(tmp_path):
    return Course(tmp_path, tmp_path / "build")


def test_a_kernel_killed_like_by_the_oom_killer_is_one_line_and_the_run_goes_on(course):
    assert course.run("run", "03", "-p", "EPOCHS=5")[0] == 0
    code, out, err = course.run("run", "01", "03", "02", "-p", "KILL=True", "-p", "EPOCHS=7")
    assert code == 1, out + err
    _no_traceback(out, err)
    (line,) = [line for line in out.splitlines() if " s, FAILED: " in line]
    assert "FAILED: the kernel died in cell 4 (`import os, signal`): it was killed from outside" in line
    assert "out of memory" in line and "the last good numbers, value=5 from" in line
    records = course.records()
    assert records["01_quick"]["metrics"] == {"value": 7.0} and records["02_sleepy"]["metrics"] == {"value": 7.0}
    assert records["03_oom"]["metrics"] == {"value": 5.0}, "the failed attempt erased the good record"
    assert "kernel died" in records["03_oom"]["last_attempt"]["error"]
    code, out, _ = course.run("results")
    assert code == 0 and "| 03_oom | smoke `EPOCHS=5` |" in out and "value 5 (a later attempt" in out


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_sigterm_or_ctrl_c_stops_cleanly_keeping_what_finished(course, how):
    assert course.run("run", "02", "-p", "EPOCHS=3")[0] == 0  # an earlier good record of 02
    proc = course.start("run", "01", "02", "03", "-p", "EPOCHS=9", "-p", "SLEEP=120")
    kernel = course.wait_for_kernel(proc, 9)
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole foreground group
    out, err = proc.communicate(timeout=60)
    signum = signal.SIGTERM if how == "SIGTERM" else signal.SIGINT
    assert proc.returncode == 128 + signum, out + err
    _no_traceback(out, err)
    assert f"INTERRUPTED by {how} (the last good numbers, value=3 from" in out
    assert f"Stopped: interrupted by {how}. Every notebook that finished is saved" in out and "Not run: 03_oom" in out
    assert _gone(kernel), "the notebook's kernel outlived the runner"
    records = course.records()
    assert records["01_quick"]["metrics"] == {"value": 9.0}
    assert records["02_sleepy"]["metrics"] == {"value": 3.0}
    assert records["02_sleepy"]["last_attempt"]["status"] == "interrupted"
    assert "03_oom" not in records


def test_a_runner_killed_with_kill_9_keeps_what_finished_and_the_rerun_cleans_up(course):
    proc = course.start("run", "01", "02", "-p", "EPOCHS=4", "-p", "SLEEP=120")
    kernel = course.wait_for_kernel(proc, 4)
    proc.kill()
    proc.communicate()
    assert course.records()["01_quick"]["metrics"] == {"value": 4.0}, "a finished notebook was lost"
    assert _gone(kernel, timeout=30), "the kernel of a killed runner keeps running"
    leftovers = [p.name for p in course.build.glob(".02_sleepy.*.ipynb")]
    assert leftovers and any((course.build / "metrics" / "attempts").iterdir())
    code, out, err = course.run("run", "02", "-p", "EPOCHS=5")
    assert code == 0, out + err
    assert not list(course.build.glob(".02_sleepy.*.ipynb")), "partial executed copy left behind"
    assert not any((course.build / "metrics" / "attempts").iterdir()), "a dead runner's metrics folder left behind"
    assert course.records()["02_sleepy"]["metrics"] == {"value": 5.0}


def test_two_runners_at_once_never_mix_up_their_notebooks_or_results(course):
    first = course.start("run", "02", "-p", "EPOCHS=111", "-p", "SLEEP=200")
    course.wait_for_kernel(first, 111)  # the first is inside 02, holding its run folder, until "release"
    second = course.start("run", "02", "01", "-p", "EPOCHS=222")
    out2, err2 = second.communicate(timeout=240)
    (course.faults / "release").write_text("")
    out1, err1 = first.communicate(timeout=240)
    assert first.returncode == 0 and second.returncode == 0, out1 + err1 + out2 + err2
    # (the values, not bare numbers: pytest's temporary folders are numbered too, e.g. /tmp/pytest-of-root/pytest-222/)
    assert "value=111" in out1 and "value=222" not in out1
    assert "value=222" in out2 and "value=111" not in out2
    records = course.records()
    assert records["02_sleepy"]["metrics"] == {"value": 111.0}, "the last to finish is the first runner"
    assert records["02_sleepy"]["parameters"] == {"EPOCHS": 111, "SLEEP": 200}
    assert records["01_quick"]["metrics"] == {"value": 222.0}
    runs = sorted(p.name for p in (course.build / "runs" / "02_sleepy").iterdir() if not p.name.startswith("."))
    assert runs == ["smoke", "smoke-2"], "the second run wrote into the first one's run folder"
    executed = json.loads((course.build / "02_sleepy.ipynb").read_text())
    assert executed["metadata"]["papermill"]["parameters"]["EPOCHS"] == 111


def test_a_full_disk_is_one_clear_line_keeps_saved_results_and_is_not_sticky(tmp_path):
    with tmpfs(tmp_path / "build", size="1m") as build:
        course = Course(tmp_path, build)
        assert course.run("run", "01", "04", "-p", "EPOCHS=2")[0] == 0
        code, out, err = course.run("run", "04", "01", "-p", "FILL=True", "-p", "EPOCHS=3")
        assert code == 1, out + err
        _no_traceback(out, err)
        lines = [line for line in out.splitlines() if " s, FAILED: " in line]  # 04 fills the disk, 01 meets it full
        assert len(lines) == 2, out
        for line in lines:
            assert "no space left" in line.lower() and "the last good numbers, value=2" in line, line
            assert "Free some space, or point COURSE_BUILD_DIR at a folder on a disk with space" in line, line
        records = course.records()  # still whole, with the good numbers of both
        assert records["01_quick"]["metrics"] == {"value": 2.0} and records["04_filler"]["metrics"] == {"value": 2.0}
        # the learner frees space: the next run works, nothing damaged is left in the way
        (build / "runs" / "04_filler" / "smoke" / "filler").unlink()
        code, out, err = course.run("run", "04", "01", "-p", "EPOCHS=6")
        assert code == 0, out + err
        assert {r["metrics"]["value"] for r in course.records().values()} == {6.0}


@pytest.mark.parametrize("disk", ["full", "read-only"])
def test_a_build_folder_that_takes_no_writes_stops_the_run_in_one_line_and_results_still_show(tmp_path, disk):
    # root writes through chmod, so a read-only folder is a read-only tmpfs for root and chmod 555 otherwise
    mounted = disk == "full" or os.geteuid() == 0
    with tmpfs(tmp_path / "build", size="512k") if mounted else nullcontext(tmp_path / "build") as build:
        build.mkdir(exist_ok=True)
        course = Course(tmp_path, build)
        assert course.run("run", "01", "-p", "EPOCHS=2")[0] == 0
        if disk == "full":
            fill(build)
            message = (f"error: the disk is full: no space left to write {build}. Free some space, or point "
                       "COURSE_BUILD_DIR at a folder on a disk with space that you can write to "
                       "(e.g. COURSE_BUILD_DIR=/tmp/course-build).\n")
        else:
            remount_read_only(build) if mounted else os.chmod(build, 0o555)
            why = "Read-only file system" if mounted else "Permission denied"
            message = (f"error: {build} is read-only ({why}): point COURSE_BUILD_DIR at a folder on a disk with space "
                       "that you can write to (e.g. COURSE_BUILD_DIR=/tmp/course-build).\n")
        try:
            code, out, err = course.run("run", "01", "-p", "EPOCHS=3")
            assert (code, out, err) == (2, "", message)
            code, out, err = course.run("results")
            assert code == 0 and "| 01_quick | smoke `EPOCHS=2` |" in out, err
            _no_traceback(out, err)
        finally:
            os.chmod(build, 0o755) if not mounted else None
