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
    kept = end_test_session(SESSION_TMP)
    if kept:
        print(f"\n{kept}")
