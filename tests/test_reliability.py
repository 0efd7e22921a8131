"""Reliability across the course: killed training resumes, finished training starts fresh, runs repeat.

These start real TensorFlow processes, so they are marked `slow`: `pytest -m "not slow"` skips them
for a quick loop; CI runs them.
"""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from utils import env, runner

pytestmark = pytest.mark.slow

# The same resume mechanism every notebook uses: BackupAndRestore in the notebook's run folder.
TRAINER = textwrap.dedent(
    """
    import json, os, sys, time
    sys.path.insert(0, {repo!r})
    import numpy as np, keras, utils

    utils.set_seed(0)
    log, weights_dir = sys.argv[1], sys.argv[2]
    x = np.random.default_rng(0).random((256, 8)).astype("float32")
    y = (x.sum(axis=1) > 4).astype("float32")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")

    class Trace(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            np.save(os.path.join(weights_dir, "start.npy"), self.model.layers[0].get_weights()[0])
        def on_epoch_begin(self, epoch, logs=None):
            with open(log, "a") as f: f.write(json.dumps({{"pid": os.getpid(), "begin": epoch}}) + "\\n")
        def on_epoch_end(self, epoch, logs=None):
            np.save(os.path.join(weights_dir, f"end{{epoch}}.npy"), self.model.layers[0].get_weights()[0])
            with open(log, "a") as f: f.write(json.dumps({{"pid": os.getpid(), "end": epoch}}) + "\\n")
            time.sleep(float(os.environ.get("EPOCH_PAUSE", "0")))

    backup = keras.callbacks.BackupAndRestore(str(utils.run_dir("resume_test", "backup")))
    model.fit(x, y, epochs=6, batch_size=32, verbose=0, callbacks=[backup, Trace()])
    """
)


def _events(log):
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_killed_training_resumes_from_its_last_epoch_and_a_finished_one_starts_fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "build"))
    script = tmp_path / "train.py"
    script.write_text(TRAINER.format(repo=str(env.REPO_ROOT)))
    log, weights = tmp_path / "events.jsonl", tmp_path / "weights"
    weights.mkdir()
    cmd = [sys.executable, str(script), str(log), str(weights)]

    # 1. Start, and kill -9 the process (like a Colab disconnect) once epoch 2 has finished.
    first = subprocess.Popen(cmd, env={**os.environ, "EPOCH_PAUSE": "2"})
    deadline = time.time() + 120
    while not any(e.get("end") == 2 for e in _events(log)):
        assert first.poll() is None, "the first run ended before it could be interrupted"
        assert time.time() < deadline, "training never reached epoch 2"
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL
    killed_at = max(e["end"] for e in _events(log) if "end" in e)
    weights_at_kill = np.load(weights / f"end{killed_at}.npy")

    # 2. Start again: it must continue after the last completed epoch, with that epoch's weights.
    subprocess.run(cmd, check=True, timeout=300)
    second = [e for e in _events(log) if e["pid"] != first.pid]
    assert second[0] == {"pid": second[0]["pid"], "begin": killed_at + 1}, f"did not resume: {second[:2]}"
    assert [e["end"] for e in second if "end" in e] == list(range(killed_at + 1, 6))
    np.testing.assert_array_equal(np.load(weights / "start.npy"), weights_at_kill)

    # 3. The run finished, so its backup is gone: a new run starts from epoch 0, not a stale state.
    assert not any((tmp_path / "build" / "runs" / "resume_test").rglob("*.weights.h5")), "backup left behind"
    log.unlink()
    subprocess.run(cmd, check=True, timeout=300)
    third = _events(log)
    assert third[0]["begin"] == 0 and [e["end"] for e in third if "end" in e] == list(range(6))


REPEATABLE = ["01_mnist_dense", "04_hotdog_fine_tuning"]


@pytest.mark.parametrize("name", REPEATABLE)
def test_two_smoke_runs_record_identical_metrics(name, tmp_path, monkeypatch):
    path = env.REPO_ROOT / "notebooks" / f"{name}.ipynb"
    records = []
    for attempt in range(2):
        monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / f"build{attempt}"))
        record = runner.execute(path, {}, full=False)
        assert "error" not in record, record.get("error")
        records.append({k: v for k, v in record["metrics"].items() if "seconds" not in k and "per_s" not in k})
    assert records[0], "the notebook recorded no metrics"
    assert records[0] == records[1]


# A bad parameter must stop the notebook with its clear message before any training has run.
# (notebook, parameters, words the error must contain); runs in smoke mode, offline.
BAD_NOTEBOOK_PARAMETERS = [
    ("06_hub_transfer_learning", {"MODEL_NAME": "efficientnet-b0"}, "Unknown MODEL_NAME 'efficientnet-b0'"),
    ("06_hub_transfer_learning", {"IMAGE_SIZE": 16}, "at least 32x32 pixels; got IMAGE_SIZE=16"),
    ("06_hub_transfer_learning", {"DATA_DIR": "/no/such/photos"}, "/no/such/photos does not exist"),
    ("04_hotdog_fine_tuning", {"BACKBONE": "vgg16"}, "Set BACKBONE to one of"),
    ("04_hotdog_fine_tuning", {"IMAGE_SIZE": 16}, "Set IMAGE_SIZE to 32 or more"),
    ("05_grocery_retrain", {"BACKBONE": "inception"}, "Set BACKBONE to one of"),
    ("02_fashion_mnist_cnns", {"BACKBONE": "vgg16"}, "Set BACKBONE to one of"),
]


def _ran_before_the_error(executed):
    """The code of the cells that completed before the failing one, and the failing cell's traceback."""
    cells = [c for c in json.loads(executed.read_text())["cells"] if c["cell_type"] == "code"]
    failed = next(i for i, c in enumerate(cells) if any(o.get("output_type") == "error" for o in c.get("outputs", [])))
    traceback = "\n".join(line for o in cells[failed]["outputs"] if o.get("output_type") == "error"
                          for line in o["traceback"])
    return ["".join(c["source"]) for c in cells[:failed]], traceback


@pytest.mark.parametrize("name, params, words", BAD_NOTEBOOK_PARAMETERS)
def test_bad_parameter_stops_the_notebook_before_any_training(name, params, words, tmp_path, monkeypatch):
    path = env.REPO_ROOT / "notebooks" / f"{name}.ipynb"
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "build"))
    runner.check_parameters(path, params)
    record = runner.execute(path, params, full=False)
    assert words in record.get("error", ""), record.get("error")
    completed, traceback = _ran_before_the_error(tmp_path / "build" / path.name)
    # a cell that calls, or defines, something that trains (conservative: a definition counts)
    trained = [c for c in completed if re.search(r"\b\w+\.fit\(|\btrain(?:_head)?\(", c)]  # 02: train(), 05: train_head()
    assert not trained, f"{name} trained before it stopped:\n{trained[0][:300]}"
    assert ".fit(" not in traceback, f"{name} failed inside training:\n{traceback[-1000:]}"
