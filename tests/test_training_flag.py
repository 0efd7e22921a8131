"""What notebook 06 teaches about batch normalisation while fine-tuning, checked against the installed Keras.

Keras 3 passes `fit`'s `training=True` to every layer of a Sequential or functional model, over a
`training=False` written when the model was built (keras-team/keras#20285). A trainable BatchNormalization
then runs in training mode and its statistics move. A layer whose `call` has no `training` argument, and
that calls what it wraps with `training=False` itself (notebook 06's `InferenceMode`), keeps them.
If a Keras release changes this, these tests fail and the lesson's text must change with it.
"""

import ast

import numpy as np
import pytest
from notebook_code import code_cell

keras = pytest.importorskip("keras")


def _notebook_inference_mode():
    """Notebook 06's own `InferenceMode` class, run from its cell."""
    source = code_cell("06_hub_transfer_learning", "class InferenceMode")
    keep = [n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "InferenceMode"]
    namespace = {"keras": keras}
    exec(compile(ast.Module(body=keep, type_ignores=[]), "<notebook 06>", "exec"), namespace)
    return namespace["InferenceMode"]


def _base():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), keras.layers.BatchNormalization()], name="base")


def _fit(model):
    model.compile(keras.optimizers.SGD(0.01), "mse")
    model.fit(np.random.default_rng(0).random((32, 8)) * 5, np.zeros((32, 2)), epochs=1, batch_size=8, verbose=0)


def _moving_mean(base):
    return base.layers[-1].moving_mean.numpy().copy()


def test_training_false_in_a_graph_does_not_survive_fit():
    base = _base()
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(2)(base(inputs, training=False)))
    base.trainable = True  # unfrozen for fine-tuning, as the TF guide does
    before = _moving_mean(base)
    _fit(model)
    assert not np.allclose(before, _moving_mean(base)), "Keras kept training=False: update notebook 06, section 6"


def test_a_wrapper_without_a_training_argument_keeps_inference_mode():
    InferenceMode = _notebook_inference_mode()
    base = _base()
    model = keras.Sequential([keras.Input((8,)), InferenceMode(base), keras.layers.Dense(2)])
    base.trainable = True
    before = _moving_mean(base)
    kernel = base.layers[0].kernel.numpy().copy()
    _fit(model)
    np.testing.assert_array_equal(before, _moving_mean(base))  # statistics untouched: never recomputed
    assert not np.allclose(kernel, base.layers[0].kernel.numpy()), "the wrapped weights must still learn"
