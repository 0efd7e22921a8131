"""`lesson.record(...)`: what a lesson reports reaches the runner intact."""

import json

import pytest

from course import record


def test_record_writes_mode_data_and_rounded_metrics(course_env, capsys):
    run = record.Run(notebook="01_mnist_dense")
    run.note_source("mnist", "real, mirror /m/mnist")
    written = run.record(test_accuracy=0.981234, seconds=12)
    saved = json.loads(record.metrics_path("01_mnist_dense").read_text())
    assert saved == written
    assert saved["mode"] == "smoke"
    assert saved["data"] == "mnist: real, mirror /m/mnist"
    assert saved["sources"] == {"mnist": "real, mirror /m/mnist"}
    assert saved["metrics"] == {"test_accuracy": 0.9812, "seconds": 12.0}
    assert set(saved) >= {"device", "started"}, "what the site shows about the run comes from the record"
    assert "test_accuracy  0.9812" in capsys.readouterr().out


def test_metrics_must_be_numbers(course_env):
    with pytest.raises(TypeError, match="accuracy"):
        record.Run(notebook="01_x").record(accuracy="high")
    assert not record.metrics_path("01_x").exists()


def test_full_mode_is_recorded(course_env, monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "0")
    assert record.Run(notebook="01_x").record(a=1)["mode"] == "full"


def test_a_run_records_under_its_own_name_only(course_env):
    with pytest.raises(RuntimeError, match="utils.start"):
        record.Run().record(a=1)
