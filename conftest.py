"""Test-wide settings: every notebook runs in smoke mode, offline, writing into a temporary folder of its own.

These are set before any kernel starts, so the notebooks that nbval executes inherit them.

Everything the session writes to the temporary directory goes into one folder, `course-test-<pid>-*`
(`COURSE_TEST_TMP`): the build folder (unless `COURSE_BUILD_DIR` is set), each notebook's cache,
`KERAS_HOME` and `TMPDIR` (see `course.nbval_plugin`), pytest's own `tmp_path` folders and what
subprocesses and kernels put in `TMPDIR`. It is removed when pytest ends, unless `COURSE_KEEP_TEST_BUILD=1`
(for debugging: its path is printed). Folders left by a pytest that was killed are removed by the next one.
"""

import os
import tempfile
from pathlib import Path

from course.references import end_test_session, start_test_session

pytest_plugins = ["course.nbval_plugin"]  # lesson outputs compared with tests/references/

WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # pytest-xdist's worker processes (`-n`): gw0, gw1, ...
if WORKER and os.environ.get("COURSE_TEST_TMP"):
    # A worker writes into the folder of the pytest that started it (which removes it at the end): a build
    # folder and a temporary folder of its own there, so that two workers never share one.
    SESSION_TMP = Path(os.environ["COURSE_TEST_TMP"])
    if os.environ.get("COURSE_BUILD_DIR") == str(SESSION_TMP / "build"):  # not one the person running pytest chose
        os.environ["COURSE_BUILD_DIR"] = str(SESSION_TMP / f"build-{WORKER}")
    (SESSION_TMP / f"tmp-{WORKER}").mkdir(exist_ok=True)
    os.environ["TMPDIR"] = tempfile.tempdir = str(SESSION_TMP / f"tmp-{WORKER}")
else:
    WORKER = None
    SESSION_TMP = start_test_session(Path(tempfile.gettempdir()))
    os.environ["COURSE_TEST_TMP"] = str(SESSION_TMP)
    # This process, its subprocesses and pytest's tmp_path all write their temporary files inside it.
    os.environ["TMPDIR"] = tempfile.tempdir = str(SESSION_TMP / "tmp")

os.environ["COURSE_SMOKE"] = "1"
os.environ["COURSE_OFFLINE"] = "1"
os.environ["COURSE_RUN_SOLUTIONS"] = "1"  # the lessons' solutions run too (Jupyter's "Run all" stops before them)
os.environ.setdefault("COURSE_BUILD_DIR", str(SESSION_TMP / "build"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

collect_ignore_glob = ["tests/fixtures/*", "build/*"]


def pytest_unconfigure(config):
    if WORKER:
        return  # the pytest that started the workers removes the folder
    kept = end_test_session(SESSION_TMP)
    if kept:
        print(f"\n{kept}")
