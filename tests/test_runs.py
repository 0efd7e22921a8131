"""Saved state that belongs to one run: locks, atomic writes, training backups, the results store.

Fast tests (no TensorFlow): backups are made with h5py in the layout Keras' BackupAndRestore writes.
The slow fault tests (real kills, full and read-only disks, races) are in test_faults.py and
test_reliability.py.
"""

import errno
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from course import backups, paths, record, runner, storage, store


@pytest.fixture
def build(course_env, monkeypatch):
    record.current().notebook = "01_x"
    return course_env["tmp"] / "build"


def _keras_like_backup(folder, epoch=2, values=(1.0, 2.0)):
    """What BackupAndRestore leaves after an epoch: latest.weights.h5, then training_metadata.json."""
    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(folder / "latest.weights.h5", "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.array(values, dtype="float32"))
        f.create_dataset("optimizer/vars/0", data=np.arange(1000, dtype="float32"))
    time.sleep(0.01)
    (folder / "training_metadata.json").write_text(json.dumps({"epoch": epoch, "batch": 0}))
    return folder


# --- backup_dir: one run setting, never shared, checked --------------------------------------------------


def test_backup_folder_is_keyed_by_parameters_extra_mode_and_data(build, monkeypatch):
    record.current().parameters = {"LEARNING_RATE": 0.01, "EPOCHS": 6}
    first = record.current().backup_dir("head")
    assert first == record.current().backup_dir("head"), "the same setting gets the same folder"
    assert first.startswith(str(build / "runs" / "01_x" / "backups" / "head-smoke-"))
    record.current().parameters = {"LEARNING_RATE": 0.001, "EPOCHS": 6}
    other_rate = record.current().backup_dir("head")
    record.current().parameters = {"LEARNING_RATE": 0.01, "EPOCHS": 3}
    fewer_epochs = record.current().backup_dir("head")
    record.current().parameters = {"LEARNING_RATE": 0.01, "EPOCHS": 6}
    extra = record.current().backup_dir("head", fine_tune_at=100)
    phase = record.current().backup_dir("fine")
    record.current().note_source("mnist", "STAND-IN: digits")
    other_data = record.current().backup_dir("head")
    monkeypatch.setenv("COURSE_SMOKE", "0")
    full = record.current().backup_dir("head")
    folders = [first, other_rate, fewer_epochs, extra, phase, other_data, full]
    assert len(set(folders)) == len(folders), folders
    assert "-full-" in full


def test_a_run_without_a_lesson_name_says_to_call_start_first(course_env):
    with pytest.raises(RuntimeError, match=r"utils\.start\(\"NN_name\", globals\(\)\)"):
        record.current().backup_dir("head")
    with pytest.raises(RuntimeError, match="utils.start"):
        record.current().folder("logs")


HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {repo!r})
    from course import record
    run = record.Run(notebook="01_x", parameters={{"EPOCHS": 6}})
    print(run.backup_dir("head"), flush=True)
    print(run.folder(), flush=True)
    time.sleep(60)
""")


def _start_holder(tmp_path):
    script = tmp_path / "holder.py"
    script.write_text(HOLDER.format(repo=str(paths.REPO_ROOT)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    backup, run_folder = proc.stdout.readline().strip(), proc.stdout.readline().strip()
    assert backup and run_folder, "the holder process did not start"
    return proc, backup, run_folder


def test_a_second_live_run_gets_its_own_fresh_backup_and_run_folder(build, tmp_path, capsys):
    proc, theirs, their_run = _start_holder(tmp_path)
    try:
        _keras_like_backup(Path(theirs))
        record.current().parameters = {"EPOCHS": 6}
        ours = record.current().backup_dir("head")
        assert ours == theirs + "-2" and os.listdir(ours) == [], "fresh, not theirs"
        out = capsys.readouterr().out
        assert f"Another live run (pid {proc.pid}" in out and "keeps its own backup in" in out
        assert out.count("\n") == 1, "one line"
        assert str(record.current().folder()) == their_run + "-2"
        assert "Another live run of 01_x" in capsys.readouterr().out
        assert (Path(theirs) / "latest.weights.h5").exists(), "their backup is untouched"
    finally:
        proc.kill()
        proc.wait()
    # the holder is dead (kill -9 like): its lock is gone with it, and a new process resumes its backup
    code = (f"import sys; sys.path.insert(0, {str(paths.REPO_ROOT)!r}); from course import record; "
            "print(record.Run(notebook='01_x', parameters={'EPOCHS': 6}).backup_dir('head'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [f"Resuming 'head' from its backup after epoch 2 ({theirs}).", theirs]


def _truncate(path):
    data_ = path.read_bytes()
    path.write_bytes(data_[: len(data_) // 2])


DAMAGE = {
    "weights cut in half": lambda f: _truncate(f / "latest.weights.h5"),
    "weights emptied": lambda f: (f / "latest.weights.h5").write_bytes(b""),
    "metadata cut": lambda f: (f / "training_metadata.json").write_text('{"epoch": '),
    "metadata without epoch": lambda f: (f / "training_metadata.json").write_text('{"batch": 0}'),
    "weights without metadata": lambda f: (f / "training_metadata.json").unlink(),
    "metadata without weights": lambda f: (f / "latest.weights.h5").unlink(),
    "weights newer than metadata": lambda f: os.utime(f / "latest.weights.h5",
                                                      ns=(time.time_ns(), time.time_ns() + 10**9)),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_backup_is_moved_aside_announced_and_never_given_to_keras(build, damage, capsys):
    record.current().parameters = {"EPOCHS": 6}
    folder = record.current().backup_dir("head")
    _keras_like_backup(Path(folder))
    DAMAGE[damage](Path(folder))
    capsys.readouterr()
    again = record.current().backup_dir("head")
    assert again == folder and os.listdir(folder) == [], "Keras gets an empty folder: it starts from epoch 0"
    (aside,) = [p for p in os.listdir(os.path.dirname(folder)) if ".damaged-" in p]
    out = capsys.readouterr().out
    assert f"The training backup in {folder} is damaged" in out and aside in out and "epoch 0" in out
    assert out.count("\n") == 1


def test_a_sound_backup_is_resumed_and_announced(build, capsys):
    record.current().parameters = {"EPOCHS": 6}
    folder = record.current().backup_dir("head")
    _keras_like_backup(Path(folder), epoch=3)
    assert backups.check_backup(Path(folder)) is None
    capsys.readouterr()
    assert record.current().backup_dir("head") == folder
    assert capsys.readouterr().out == f"Resuming 'head' from its backup after epoch 3 ({folder}).\n"


def test_stale_backups_are_deleted_live_and_recent_ones_kept(build, tmp_path):
    proc, theirs, _ = _start_holder(tmp_path)  # a live run's backup, however old, is never touched
    try:
        root = build / "runs" / "01_x" / "backups"
        old = time.time() - (backups.STALE_DAYS + 1) * 86400
        for name in ("old", "recent", "finished"):
            (root / f"{name}.lock").write_text("")
        _keras_like_backup(root / "old")
        _keras_like_backup(root / "recent")
        _keras_like_backup(root / "old.damaged-20200101-000000")
        _keras_like_backup(Path(theirs))
        for folder in (root / "old", root / "old.damaged-20200101-000000", Path(theirs)):
            os.utime(folder, (old, old))
        removed = backups.clean_stale_backups(root)
        names = sorted(p.name for p in removed)
        assert names == ["finished.lock", "old", "old.damaged-20200101-000000"], names
        assert (root / "recent" / "latest.weights.h5").exists() and os.path.exists(theirs)
        assert sorted(p.name for p in root.iterdir()) == sorted(
            ["recent", "recent.lock", os.path.basename(theirs), os.path.basename(theirs) + ".lock"])
    finally:
        proc.kill()
        proc.wait()


def test_run_dir_fresh_empties_only_its_own_folder(build):
    logs = record.current().folder("logs")
    (logs / "events").write_text("x")
    (record.current().folder() / "model.keras").write_text("x")
    assert not any(record.current().folder("logs", fresh=True).iterdir())
    assert (record.current().folder() / "model.keras").exists()
    assert sorted(p.name for p in record.current().folder().iterdir()) == ["logs", "model.keras"]


def test_relative_build_and_results_folders_are_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWD", str(tmp_path))
    monkeypatch.setenv("COURSE_BUILD_DIR", "some/build")
    assert paths.build_dir() == tmp_path / "some" / "build"
    monkeypatch.setenv("COURSE_RESULTS_DIR", "some/metrics")
    assert record.metrics_dir() == tmp_path / "some" / "metrics"


# --- writes: atomic, and a full or read-only disk is one clear message ------------------------------------


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_failed_write_leaves_the_old_file_whole_and_says_what_to_do(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    storage.write_atomic(target, "old")
    monkeypatch.setattr(os, "replace", _enospc)  # the write itself is real; the final step fails as on a full disk
    with pytest.raises(storage.StorageError) as err:
        storage.write_atomic(target, "new")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["results.json"], "no temporary file left"
    assert str(err.value).startswith(f"the disk is full: no space left to write {tmp_path}. Free some space")
    assert "choose a folder" in str(err.value), "a folder outside the course's own: no setting to name"
    build = paths.build_dir()
    message = storage.storage_message(build, OSError(errno.EROFS, "Read-only file system"))
    assert message == (f"{build} is read-only (Read-only file system): point COURSE_BUILD_DIR at a folder on a disk "
                       f"with space that you can write to (e.g. COURSE_BUILD_DIR=/tmp/course-build).")


def test_record_results_on_a_full_disk_is_a_storage_error(course_env, monkeypatch):
    monkeypatch.setattr(os, "replace", _enospc)
    with pytest.raises(storage.StorageError, match="the disk is full: no space left to write .*COURSE_BUILD_DIR"):
        record.Run(notebook="01_x").record(accuracy=0.5)


# --- the results store -----------------------------------------------------------------------------------

GOOD = {"notebook": "01_x", "mode": "smoke", "data": "mnist: real", "metrics": {"test_accuracy": 0.9}, "seconds": 20.0}
FAILED = {"notebook": "01_x", "mode": "smoke", "data": "", "metrics": {}, "seconds": 3.0, "status": "failed",
          "error": "ValueError: boom"}
INTERRUPTED = {**FAILED, "status": "interrupted", "error": "interrupted by Ctrl-C"}


def test_a_failed_or_interrupted_attempt_goes_beside_the_last_good_record(build):
    store.save_attempt({**GOOD, "saved": "2024-01-01 10:00:00"})
    entry, message = store.save_attempt({**INTERRUPTED, "saved": "2024-01-02 10:00:00"})
    assert message is None
    assert entry["metrics"] == {"test_accuracy": 0.9} and entry["saved"] == "2024-01-01 10:00:00"
    assert entry["last_attempt"] == {"status": "interrupted", "error": "interrupted by Ctrl-C", "seconds": 3.0,
                                     "saved": "2024-01-02 10:00:00"}
    store.save_attempt({**FAILED, "saved": "2024-01-03 10:00:00"})
    (stored,) = store.load_results()
    assert stored["metrics"] == {"test_accuracy": 0.9} and stored["last_attempt"]["error"] == "ValueError: boom"
    store.save_attempt({**GOOD, "metrics": {"test_accuracy": 0.95}})
    (stored,) = store.load_results()
    assert stored["metrics"] == {"test_accuracy": 0.95} and "last_attempt" not in stored
    store.save_attempt({**FAILED, "notebook": "02_y"})
    store.save_attempt({**INTERRUPTED, "notebook": "02_y"})
    assert store.load_results()[1]["error"] == "interrupted by Ctrl-C", "no good record: the latest failure"


def test_markdown_and_the_results_command_publish_the_good_numbers(build, capsys, monkeypatch, tmp_path):
    lesson = {"notebook": "01_mnist_dense"}  # `results` publishes the course's own lessons only
    store.save_attempt({**GOOD, **lesson, "saved": "2024-01-01 10:00:00"})
    store.save_attempt({**INTERRUPTED, **lesson, "saved": "2024-01-02 10:00:00"})
    row = runner.markdown_table(store.load_results()).splitlines()[2]
    assert row == ("| 01_mnist_dense | smoke | MNIST handwritten digits: real data | 20 s | test_accuracy 0.9 (a later "
                   "attempt, 2024-01-02 10:00:00, was interrupted: interrupted by Ctrl-C) |")
    readme = tmp_path / "README.md"
    readme.write_text(f"{runner.README_START}\n{runner.README_END}\n")
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    assert runner.results_command(readme=True) == 0
    assert "test_accuracy 0.9" in readme.read_text() and "failed" not in readme.read_text()
    assert "the latest attempt (2024-01-02 10:00:00) interrupted" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "not a list"])
def test_a_damaged_results_file_is_set_aside_and_every_saved_record_recovered(build, damage, capsys):
    for n in range(1, 5):
        store.save_attempt({**GOOD, "notebook": f"0{n}_x", "saved": f"2024-01-0{n} 10:00:00"})
    path = store.results_path()
    text = path.read_text()
    path.write_text({"truncated": text[: len(text) // 2], "garbage": "\x00\x00{[", "empty": "",
                     "not a list": '{"notebook": 1}'}[damage])
    entry, message = store.save_attempt({**GOOD, "notebook": "05_x"})
    aside = [p.name for p in path.parent.iterdir() if p.name.startswith("results.json.damaged-")]
    assert len(aside) == 1 and message.startswith(f"{path} ") and aside[0] in message
    stored = json.loads(path.read_text())
    assert [r["notebook"] for r in stored] == ["01_x", "02_x", "03_x", "04_x", "05_x"]
    assert (path.parent / aside[0]).read_text() != text, "the damaged file is kept as it was, to look at"


def test_results_survive_a_deleted_results_file(build):
    store.save_attempt(GOOD)
    store.results_path().unlink()
    assert [r["metrics"] for r in store.load_results()] == [GOOD["metrics"]]


RACER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from course import store
    for i in range({count}):
        store.save_attempt({{"notebook": "n{{}}-{{}}".format(sys.argv[1], i), "mode": "smoke", "metrics": {{"i": i}},
                              "seconds": 0.0, "data": ""}})
""")


def test_processes_saving_at_once_keep_every_record(build, tmp_path):
    script = tmp_path / "racer.py"
    script.write_text(RACER.format(repo=str(paths.REPO_ROOT), count=25))
    procs = [subprocess.Popen([sys.executable, str(script), str(n)]) for n in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    stored = json.loads(store.results_path().read_text())
    assert len(stored) == 100 and len({r["notebook"] for r in stored}) == 100


SAME_KEY = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from course import store
    good = sys.argv[1] == "good"
    for i in range(30):
        attempt = {{"notebook": "01_x", "mode": "smoke", "metrics": {{"i": i}} if good else {{}}, "seconds": 0.0,
                   "data": ""}}
        store.save_attempt(attempt if good else {{**attempt, "status": "failed", "error": "E%d" % i}})
""")


def test_a_failure_saved_at_the_same_time_as_a_success_never_hides_it(build, tmp_path):
    script = tmp_path / "same_key.py"
    script.write_text(SAME_KEY.format(repo=str(paths.REPO_ROOT)))
    procs = [subprocess.Popen([sys.executable, str(script), kind]) for kind in ("good", "failed")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    (stored,) = json.loads(store.results_path().read_text())
    assert stored["metrics"] == {"i": 29}, "the last good record was replaced by an older one"
