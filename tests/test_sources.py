"""course/sources.py: every kind of recorded source, in plain words the runner's table and the site share."""

import pytest

from course import record, sources

CASES = [  # (name, recorded text, kind, words the plain text holds, words it never holds)
    ("mnist", "real, mirror $COURSE_DATA_DIR/mnist (60,000 train / 10,000 test)", "real",
     ["real data", "offline mirror", "60,000 train / 10,000 test"], ["$COURSE_DATA_DIR"]),
    ("fashion_mnist", "STAND-IN (scikit-learn's handwritten digits (NOT garments))", "stand-in", ["STAND-IN"], []),
    ("hotdog", "real, cache $COURSE_CACHE_DIR/hotdog", "real", ["download cache"], ["$COURSE"]),
    ("imagenet:mobilenet_025", "RANDOM weights (stand-in: no ImageNet weights here: not in Keras' cache)",
     "random-weights", ["random weights"], ["Keras' cache"]),
    ("imagenet:mobilenet_100:top", "ImageNet weights with its ImageNet top, mirror $COURSE_DATA_DIR/keras_home/x.h5",
     "pretrained", ["MobileNet 1.0 with its ImageNet classifier", "ImageNet weights"], ["x.h5"]),
    ("choice:vgg19", "mobilenet_100 instead: vgg19's weights cannot be had (the download failed (<urlopen error "
                     "[Errno -2] Name or service not known>))", "fallback", ["MobileNet 1.0 instead of VGG19"],
     ["urlopen", "Errno"]),
    ("choice:efficientnetv2-b0-21k-ft1k", "mobilenet_025 with RANDOM weights instead: efficientnetv2-b0-21k-ft1k "
                                          "cannot be loaded (COURSE_OFFLINE=1: no download tried)",
     "random-weights", ["random weights instead of efficientnetv2-b0-21k-ft1k"], ["COURSE_OFFLINE"]),
    ("photos", "500 photos in 5 classes, $COURSE_DATA_DIR/flower_photos", "real", ["500 photos in 5 classes",
                                                                                    "offline mirror"], ["$COURSE"]),
]


@pytest.mark.parametrize("name, text, kind, words, never", CASES, ids=[c[0] for c in CASES])
def test_each_recorded_source_in_plain_words(name, text, kind, words, never):
    (source,) = sources.plain_sources(f"{name}: {text}")
    assert source.kind == kind, source
    for word in words:
        assert word in source.words, (word, source.words)
    for word in never:
        assert word not in source.words, (word, source.words)


def test_a_record_with_sources_is_read_from_them_and_an_old_one_from_its_text():
    run = record.Run(notebook="02_x")
    run.note_source("fashion_mnist", "STAND-IN (digits)")
    run.note_source("imagenet:mobilenet_025", "RANDOM weights (stand-in: none here)")
    new = {"sources": dict(run.sources), "data": "ignored when sources are there"}
    old = {"data": run.describe_sources()}
    assert [s.kind for s in sources.from_record(new)] == [s.kind for s in sources.from_record(old)] == [
        "stand-in", "random-weights"]
    assert sources.real_or_not(new) == "stand-in data"
    assert sources.real_or_not({"data": "mnist: real, mirror $COURSE_DATA_DIR/mnist"}) == "real"
    assert sources.real_or_not({"sources": {"imagenet:x": "RANDOM weights (none)"}}) == "random weights"
