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

from course import paths, runner

pytestmark = pytest.mark.slow

# The resume mechanism every notebook uses: BackupAndRestore in the folder lesson.backup_dir gives.
# LEARNING_RATE and EPOCHS are this "notebook's" parameters (checked, so they key the backup).
# FILL_AT_EPOCH fills the disk before that epoch's backup is written; KILL_WHILE_SAVING_EPOCH sends
# SIGKILL to the process while that epoch's weights file is open and half-written; HOLD_WHILE_EXISTS
# pauses after epoch 1 while that file exists.
TRAINER = textwrap.dedent(
    """
    import json, os, signal, sys, time
    sys.path.insert(0, {repo!r})
    import numpy as np, keras
    from utils.env import set_seed
    from course import paths, record

    set_seed(0)
    log, weights_dir = sys.argv[1], sys.argv[2]
    LEARNING_RATE, EPOCHS = float(os.environ.get("LEARNING_RATE", "0.01")), 6
    lesson = record.Run(notebook="90_resume_test", parameters={{"LEARNING_RATE": LEARNING_RATE, "EPOCHS": EPOCHS}})
    x = np.random.default_rng(0).random((256, 8)).astype("float32")
    y = (x.sum(axis=1) > 4).astype("float32")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="mse")
    epoch_now = [None]

    class Trace(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            np.save(os.path.join(weights_dir, f"start{{os.getpid()}}.npy"), self.model.layers[0].get_weights()[0])
        def on_epoch_begin(self, epoch, logs=None):
            epoch_now[0] = epoch
            with open(log, "a") as f: f.write(json.dumps({{"pid": os.getpid(), "begin": epoch}}) + "\\n")
        def on_epoch_end(self, epoch, logs=None):
            np.save(os.path.join(weights_dir, f"end{{epoch}}.npy"), self.model.layers[0].get_weights()[0])
            with open(log, "a") as f: f.write(json.dumps({{"pid": os.getpid(), "end": epoch}}) + "\\n")
            time.sleep(float(os.environ.get("EPOCH_PAUSE", "0")))
            hold, deadline = os.environ.get("HOLD_WHILE_EXISTS"), time.time() + 300
            while hold and epoch == 1 and os.path.exists(hold) and time.time() < deadline:
                time.sleep(0.1)

    class FillDisk(keras.callbacks.Callback):  # runs before BackupAndRestore saves
        def on_epoch_end(self, epoch, logs=None):
            if epoch == int(os.environ.get("FILL_AT_EPOCH", "-1")):
                with open(os.path.join(paths.build_dir(), "filler"), "wb", buffering=0) as f:
                    try:
                        while True:
                            f.write(b"x" * 4096)
                    except OSError:
                        pass

    if os.environ.get("KILL_WHILE_SAVING_EPOCH"):
        from keras.src.saving import saving_lib
        close = saving_lib.H5IOStore.close
        def close_or_die(self):
            if epoch_now[0] == int(os.environ["KILL_WHILE_SAVING_EPOCH"]) and getattr(self, "mode", "w") == "w":
                os.kill(os.getpid(), signal.SIGKILL)
            return close(self)
        saving_lib.H5IOStore.close = close_or_die

    backup = keras.callbacks.BackupAndRestore(lesson.backup_dir("fit"))
    model.fit(x, y, epochs=EPOCHS, batch_size=32, verbose=0, callbacks=[FillDisk(), backup, Trace()])
    """
)


def _events(log):
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


class Trainer:
    """Starts the trainer script in a temporary build folder and remembers its processes (killed at the end)."""

    def __init__(self, tmp_path, build):
        self.script = tmp_path / "train.py"
        self.script.write_text(TRAINER.format(repo=str(paths.REPO_ROOT)))
        self.log, self.weights = tmp_path / "events.jsonl", tmp_path / "weights"
        self.weights.mkdir()
        self.backups = build / "runs" / "90_resume_test" / "backups"
        self.procs = []

    def start(self, **extra):
        proc = subprocess.Popen([sys.executable, str(self.script), str(self.log), str(self.weights)],
                                env={**os.environ, **{k: str(v) for k, v in extra.items()}},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.procs.append(proc)
        return proc

    def run(self, timeout=300, **extra):
        proc = self.start(**extra)
        out, _ = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, out[-3000:]
        return proc, out

    def events(self, proc):
        return [e for e in _events(self.log) if e["pid"] == proc.pid]

    def ends(self, proc):
        return [e["end"] for e in self.events(proc) if "end" in e]

    def wait_until_epoch_ends(self, proc, epoch, timeout=120):
        deadline = time.time() + timeout
        while epoch not in self.ends(proc):
            assert proc.poll() is None, f"the run ended before epoch {epoch}: {proc.stdout.read()[-2000:]}"
            assert time.time() < deadline, f"training never reached the end of epoch {epoch}"
            time.sleep(0.1)

    def kill(self, proc):
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        return out

    def backup_files(self):
        return sorted(p.relative_to(self.backups).as_posix() for p in self.backups.rglob("*") if p.is_file()
                      and not p.name.endswith(".lock")) if self.backups.exists() else []


@pytest.fixture
def trainer(tmp_path, monkeypatch):
    build = tmp_path / "build"
    monkeypatch.setenv("COURSE_BUILD_DIR", str(build))
    t = Trainer(tmp_path, build)
    yield t
    for proc in t.procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_killed_training_resumes_only_with_its_own_settings_and_a_finished_one_starts_fresh(trainer):
    # 1. Start, and kill -9 the process (like a Colab disconnect) once epoch 2 has finished.
    first = trainer.start(EPOCH_PAUSE=2)
    trainer.wait_until_epoch_ends(first, 2)
    trainer.kill(first)
    killed_at = max(trainer.ends(first))
    weights_at_kill = np.load(trainer.weights / f"end{killed_at}.npy")

    # 2. Another learning rate: a different run, which must start from epoch 0, not continue the killed one.
    other, out = trainer.run(LEARNING_RATE=0.001)
    assert trainer.ends(other) == list(range(6)) and "Resuming" not in out, out

    # 3. The same settings again: continue after the last completed epoch, with that epoch's weights.
    second, out = trainer.run()
    events = trainer.events(second)
    assert events[0]["begin"] == killed_at + 1, f"did not resume: {events[:2]}"
    assert trainer.ends(second) == list(range(killed_at + 1, 6))
    assert f"Resuming 'fit' from its backup after epoch {killed_at + 1}" in out
    np.testing.assert_array_equal(np.load(trainer.weights / f"start{second.pid}.npy"), weights_at_kill)

    # 4. The run finished, so its backup is gone: a new run starts from epoch 0, not a stale state.
    assert trainer.backup_files() == [], "backup left behind"
    third, _ = trainer.run()
    assert trainer.events(third)[0]["begin"] == 0 and trainer.ends(third) == list(range(6))


def test_two_trainings_at_once_never_share_a_backup(trainer, tmp_path):
    hold = tmp_path / "hold"
    hold.write_text("")
    first = trainer.start(HOLD_WHILE_EXISTS=hold)
    trainer.wait_until_epoch_ends(first, 1)  # the first has a backup (after epoch 1) and holds it
    second, out = trainer.run()  # same settings, while the first is still training
    assert trainer.ends(second) == list(range(6)), "the second run took over the first one's backup"
    (line,) = [line for line in out.splitlines() if "Another live run" in line]
    assert f"(pid {first.pid}," in line and "keeps its own backup in fit-" in line and "epoch 0" in line, line
    hold.unlink()
    out, _ = first.communicate(timeout=300)
    assert first.returncode == 0 and trainer.ends(first) == list(range(6)), out[-2000:]
    assert [e["begin"] for e in trainer.events(first) if "begin" in e] == list(range(6)), "the first was disturbed"


def test_a_backup_half_written_when_the_process_was_killed_is_set_aside_never_loaded(trainer):
    dying = trainer.start(KILL_WHILE_SAVING_EPOCH=2)  # killed while writing the backup of epoch 2
    out, _ = dying.communicate(timeout=300)
    assert dying.returncode == -signal.SIGKILL, out[-2000:]
    assert max(trainer.ends(dying)) == 1 and any(f.endswith("latest.weights.h5") for f in trainer.backup_files())
    rerun, out = trainer.run()
    assert trainer.ends(rerun) == list(range(6)) and trainer.events(rerun)[0]["begin"] == 0
    (line,) = [line for line in out.splitlines() if "damaged" in line]
    assert line.startswith("The training backup in ") and "moved it to" in line and "epoch 0" in line, line
    (aside,) = [p for p in trainer.backups.iterdir() if ".damaged-" in p.name]
    assert aside.name in line and (aside / "latest.weights.h5").exists(), "the damaged copy is kept, named"


def test_a_backup_cut_short_by_a_full_disk_is_set_aside_and_the_rerun_works(trainer, tmp_path):
    from _mounts import tmpfs

    with tmpfs(tmp_path / "build", size="2m"):
        full = trainer.start(FILL_AT_EPOCH=0)  # the disk fills up just before the first backup is written
        out, _ = full.communicate(timeout=300)
        assert full.returncode != 0 and "No space left on device" in out, out[-2000:]
        assert trainer.backup_files()[0].endswith("/latest.weights.h5"), "h5py left a cut-short weights file"
        (tmp_path / "build" / "filler").unlink()  # the learner frees some space and runs again
        rerun, out = trainer.run()
        assert trainer.events(rerun)[0]["begin"] == 0 and trainer.ends(rerun) == list(range(6))
        (line,) = [line for line in out.splitlines() if "is damaged" in line]
        assert "latest.weights.h5 has no training_metadata.json beside it" in line, line


REPEATABLE = ["01_mnist_dense", "04_hotdog_fine_tuning"]


@pytest.mark.parametrize("name", REPEATABLE)
def test_two_smoke_runs_record_identical_metrics(name, tmp_path, monkeypatch):
    path = paths.REPO_ROOT / "notebooks" / f"{name}.ipynb"
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
BAD_NOTEBOOK_PARAMETERS = [  # utils.start, in the cell right after the parameters cell, says these
    ("06_hub_transfer_learning", {"MODEL_NAME": "efficientnet-b0"},
     "MODEL_NAME='efficientnet-b0' (str) is not one of the choices (did you mean 'efficientnetv2-b0'"),
    ("06_hub_transfer_learning", {"IMAGE_SIZE": 16}, "IMAGE_SIZE=16 (int) is too small"),
    ("06_hub_transfer_learning", {"DATA_DIR": "/no/such/photos"}, "/no/such/photos does not exist"),
    ("04_hotdog_fine_tuning", {"BACKBONE": "vgg16"}, "BACKBONE='vgg16' (str) is not one of the choices"),
    ("04_hotdog_fine_tuning", {"IMAGE_SIZE": 16}, "IMAGE_SIZE=16 (int) is too small"),
    ("05_grocery_retrain", {"BACKBONE": "inception"},
     "BACKBONE='inception' (str) is not one of the choices (did you mean 'inception_v3'?)"),
    ("02_fashion_mnist_cnns", {"BACKBONE": "vgg16"}, "BACKBONE='vgg16' (str) is not one of the choices (did you mean 'vgg19'?)"),
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
    path = paths.REPO_ROOT / "notebooks" / f"{name}.ipynb"
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "build"))
    import papermill

    assert set(params) <= set(papermill.inspect_notebook(str(path))), "the notebook has these parameters"
    # `python -m course run` refuses most of these before a kernel starts (course.params); the notebook itself
    # must stop too, for a learner who edits its parameters cell: execute it without the runner's check.
    record = runner.execute(path, params, full=False)
    assert words in record.get("error", ""), record.get("error")
    completed, traceback = _ran_before_the_error(tmp_path / "build" / path.name)
    # a cell that calls, or defines, something that trains (conservative: a definition counts)
    trained = [c for c in completed if re.search(r"\b\w+\.fit\(|\btrain(?:_head)?\(", c)]  # 02: train(), 05: train_head()
    assert not trained, f"{name} trained before it stopped:\n{trained[0][:300]}"
    assert ".fit(" not in traceback, f"{name} failed inside training:\n{traceback[-1000:]}"
