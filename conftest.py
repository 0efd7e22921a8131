"""Test-wide settings: every notebook runs in smoke mode, offline, writing into a temporary folder of its own.

These are set before any kernel starts, so the notebooks that nbval executes inherit them.

Everything the session writes to the temporary directory goes into one folder, `course-test-<pid>-*`
(`COURSE_TEST_TMP`): the build folder (unless `COURSE_BUILD_DIR` is set), each notebook's cache,
`KERAS_HOME` and `TMPDIR` (see `course.nbval_plugin`), pytest's own `tmp_path` folders and what
subprocesses and kernels put in `TMPDIR`. It is removed when pytest ends, unless `COURSE_KEEP_TEST_BUILD=1`
(for debugging: its path is printed). Folders left by a pytest that was killed are removed by the next one.
"""

import os
import shutil
import tempfile
from pathlib import Path

from course.references import TEST_TMP_PREFIX, keep_test_files, remove_dead_test_folders

pytest_plugins = ["course.nbval_plugin"]  # lesson outputs compared with tests/references/

_SYSTEM_TEMP = Path(tempfile.gettempdir())
remove_dead_test_folders(_SYSTEM_TEMP)
SESSION_TMP = Path(tempfile.mkdtemp(prefix=f"{TEST_TMP_PREFIX}{os.getpid()}-", dir=_SYSTEM_TEMP))
(SESSION_TMP / "tmp").mkdir()
os.environ["COURSE_TEST_TMP"] = str(SESSION_TMP)
# This process, its subprocesses and pytest's tmp_path all write their temporary files inside it.
os.environ["TMPDIR"] = tempfile.tempdir = str(SESSION_TMP / "tmp")

os.environ["COURSE_SMOKE"] = "1"
os.environ["COURSE_OFFLINE"] = "1"
os.environ.setdefault("COURSE_BUILD_DIR", str(SESSION_TMP / "build"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

collect_ignore_glob = ["tests/fixtures/*", "build/*"]


def pytest_unconfigure(config):
    if keep_test_files():
        print(f"\nCOURSE_KEEP_TEST_BUILD=1: the test session's files are kept in {SESSION_TMP}")
        return
    shutil.rmtree(SESSION_TMP, ignore_errors=True)
