"""Notebook 02 keeps what the lesson is about in the lesson, and keeps its runs repeatable.

Static checks of the notebook's code cells (nbval runs them): the `keras.applications` call and its
`preprocess_input` are written out, every random thing is seeded, the augmentation layers draw from seeds of
their own, the reload check uses the course's one tolerance rule, and the recorded result comes from the
lesson's main line, not from the solutions.
"""

import ast
import json
import re

from course import paths

NOTEBOOK = paths.REPO_ROOT / "notebooks" / "02_fashion_mnist_cnns.ipynb"
CELLS = json.loads(NOTEBOOK.read_text())["cells"]
CODE_CELLS = ["".join(c["source"]) for c in CELLS if c["cell_type"] == "code"]
CODE = "\n".join(CODE_CELLS)
TREE = ast.parse(CODE)


def _calls(name):
    """Every call in the notebook whose function is written `name` (e.g. "network" or "ds.shuffle")."""
    return [node for node in ast.walk(TREE)
            if isinstance(node, ast.Call) and ast.unparse(node.func) == name]


def test_the_keras_applications_call_and_its_preprocess_input_are_in_the_lesson():
    for name in ("keras.applications.VGG19", "keras.applications.vgg19.preprocess_input",
                 "keras.applications.MobileNet", "keras.applications.mobilenet.preprocess_input"):
        assert name in CODE, name
    (call, *_) = _calls("network")  # the backbone built from the BACKBONES dictionary
    assert {k.arg for k in call.keywords} >= {"include_top", "weights", "input_shape", "pooling"}
    assert "utils.load_backbone" not in CODE and "utils.BACKBONES" not in CODE


def test_no_transitional_utils_names_and_at_most_eight():
    names = set(re.findall(r"(?<![\w.])utils\.(\w+)", CODE)) | set(re.findall(r"from utils\.\w+ import (\w+)", CODE))
    transitional = {"make_dataset", "split_validation", "take", "take_per_class", "FASHION_CLASSES",
                    "load_backbone", "check_backbone", "BACKBONES", "load_classifier", "SEED", "load_mnist"}
    assert not names & transitional, names & transitional
    assert len(names - {"projector"}) <= 8, sorted(names)


def test_every_shuffle_and_split_is_seeded_from_the_lesson():
    shuffles = _calls("ds.shuffle")
    assert shuffles and all(any(k.arg == "seed" for k in call.keywords) for call in shuffles)
    (split,) = _calls("train_test_split")
    assert ast.unparse(next(k.value for k in split.keywords if k.arg == "random_state")) == "lesson.seed"


def test_each_augmentation_layer_draws_from_its_own_seed_in_a_fresh_stage():
    stage = next(node for node in ast.walk(TREE)
                 if isinstance(node, ast.FunctionDef) and node.name == "augmentation_stage")
    seeds = [ast.unparse(k.value) for node in ast.walk(stage) if isinstance(node, ast.Call)
             for k in node.keywords if k.arg == "seed"]
    assert len(seeds) == 4 and len(set(seeds)) == 4, seeds  # equal seeds draw equal numbers: correlated layers
    maps = [node for node in ast.walk(TREE) if isinstance(node, ast.Call) and ast.unparse(node.func) == "ds.map"]
    assert maps and all(any(k.arg == "num_parallel_calls" for k in call.keywords) for call in maps)
    # the CNNs' augmented runs each build their own stage, so no run starts from another run's random state
    assert "augment=augmentation_stage(lesson.seed)" in CODE


def test_the_reload_check_uses_the_course_tolerance_rule():
    assert ('atol = 1e-4 if keras.mixed_precision.global_policy().compute_dtype == "float32" else 2e-2'
            in CODE)
    assert "np.testing.assert_allclose(again, test_probs, atol=atol)" in CODE


def test_the_recorded_result_comes_from_the_main_line():
    guard = next(i for i, src in enumerate(CODE_CELLS) if "lesson.stop_run_all()" in src)
    recorded = next(i for i, src in enumerate(CODE_CELLS) if "lesson.record(" in src)
    chosen = next(i for i, src in enumerate(CODE_CELLS) if re.search(r"^chosen(, \w+)* = ", src, re.M))
    assert chosen < recorded < guard
    after_guard = "\n".join(CODE_CELLS[guard:])
    assert "add_result(" not in after_guard, "a solution's model would join the comparison"
