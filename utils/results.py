"""The one call a notebook makes to report its headline numbers to the runner.

`record_results("01_mnist_dense", test_accuracy=0.981)` writes `build/metrics/01_mnist_dense.json`;
`python -m utils run` collects those into `build/results.json` and its summary table.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import data, env


def metrics_dir() -> Path:
    return Path(os.environ.get("COURSE_RESULTS_DIR") or env.build_dir() / "metrics")


def metrics_path(notebook: str) -> Path:
    return metrics_dir() / f"{notebook}.json"


def record_results(notebook: str, **metrics: float) -> dict:
    """Save this run's headline metrics (numbers) with the mode and data sources; print them."""
    clean = {}
    for key, value in metrics.items():
        try:
            clean[key] = round(float(value), 4)
        except (TypeError, ValueError):
            raise TypeError(f"metric {key!r} must be a number, got {value!r}") from None
    record = {"notebook": notebook, "mode": env.mode(), "data": data.describe_sources(), "metrics": clean}
    path = metrics_path(notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, path)
    width = max(map(len, clean), default=0)
    print(f"Recorded for {notebook} ({record['mode']} mode):")
    for key, value in clean.items():
        print(f"  {key:<{width}}  {value:g}")
    return record
