"""Test-wide settings: every notebook runs in smoke mode, offline, writing into a temporary build folder.

These are set before any kernel starts, so the notebooks that nbval executes inherit them.
"""

import os
import tempfile

os.environ["COURSE_SMOKE"] = "1"
os.environ["COURSE_OFFLINE"] = "1"
os.environ["COURSE_RUN_SOLUTIONS"] = "1"  # the lessons' solutions run too (Jupyter's "Run all" stops before them)
os.environ.setdefault("COURSE_BUILD_DIR", tempfile.mkdtemp(prefix="course-test-build-"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

collect_ignore_glob = ["tests/fixtures/*", "build/*"]
