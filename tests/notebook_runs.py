"""Run every notebook with `python -m course run` in a child process, and read back what each one did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course import runner

NOTEBOOKS = [path.stem for path in runner.notebooks()]


def each_notebook(known_failures: dict[str, str]) -> list:
    """pytest parameters, one per notebook; those in `known_failures` (name: why) are strict xfails.

    Strict: a notebook that starts passing fails the test until its entry is removed.
    """
    return [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=known_failures[n]))
            if n in known_failures else n for n in NOTEBOOKS]


def run_all(repo: Path, environ: dict, build: Path, timeout: int = 1800) -> dict:
    """`python -m course run` (all six, smoke mode) in `repo`; its records, outputs and timing by notebook."""
    environ = {**environ, "COURSE_BUILD_DIR": str(build)}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "course", "run"], cwd=repo, env=environ, capture_output=True,
                          text=True, timeout=timeout)
    seconds = time.monotonic() - start
    results = build / "results.json"
    records = {r["notebook"]: r for r in json.loads(results.read_text())} if results.exists() else {}
    outputs = {}
    for name in NOTEBOOKS:
        executed = build / f"{name}.ipynb"
        outputs[name] = _output_text(executed) if executed.exists() else ""
    print(f"python -m course run: rc {done.returncode} in {seconds:.0f} s\n{done.stdout[-3000:]}")
    return {"rc": done.returncode, "seconds": seconds, "records": records, "outputs": outputs,
            "stdout": done.stdout, "stderr": done.stderr}


def _output_text(path: Path) -> str:
    """Everything the executed notebook printed (streams, results, errors), as one string."""
    parts = []
    for cell in json.loads(path.read_text())["cells"]:
        for out in cell.get("outputs", []):
            if "text" in out:
                parts.append("".join(out["text"]))
            parts.extend("".join(v) if isinstance(v, list) else str(v)
                         for k, v in out.get("data", {}).items() if k == "text/plain")
            if out.get("output_type") == "error":
                parts.append(f"{out['ename']}: {out['evalue']}")
    return "\n".join(parts)


def clean_environ(**overrides) -> dict:
    """This process' environment without the course's settings (COURSE_*, KERAS_HOME, ...), plus `overrides`."""
    drop = {"KERAS_HOME", "TFHUB_CACHE_DIR", "PYTHONPATH", "no_proxy", "NO_PROXY"}
    environ = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_") and k not in drop}
    environ.update(overrides)
    return environ
