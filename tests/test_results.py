"""`record_results`: what a notebook reports reaches the runner intact."""

import json

import pytest

from course import data, results


def test_record_results_writes_mode_data_and_rounded_metrics(course_env, capsys):
    data.note_source("mnist", "real, mirror /m/mnist")
    record = results.record_results("01_mnist_dense", test_accuracy=0.981234, seconds=12)
    saved = json.loads(results.metrics_path("01_mnist_dense").read_text())
    assert saved == record
    assert saved["mode"] == "smoke"
    assert saved["data"] == "mnist: real, mirror /m/mnist"
    assert saved["metrics"] == {"test_accuracy": 0.9812, "seconds": 12.0}
    assert "test_accuracy  0.9812" in capsys.readouterr().out


def test_metrics_must_be_numbers(course_env):
    with pytest.raises(TypeError, match="accuracy"):
        results.record_results("x", accuracy="high")
    assert not results.metrics_path("x").exists()


def test_full_mode_is_recorded(course_env, monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "0")
    assert results.record_results("x", a=1)["mode"] == "full"
