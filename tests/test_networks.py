"""course/networks.py's table of what each network's weights files hold, checked against the networks Keras builds.

The table tells a file of another network saved under this one's name (`course.backbones.check_weights_file`).
Building all fourteen networks (seven, with and without their classifier) takes a minute on a 2-core CPU,
so this runs with the slow tests.
"""

import io

import h5py
import pytest

from course import backbones, networks

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", list(networks.BACKBONES))
def test_the_table_holds_what_keras_writes_for_each_network(name):
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    spec = networks.BACKBONES[name]
    for top in (False, True):
        size = spec.image_size
        model = getattr(keras.applications, spec.constructor)(include_top=top, weights=None,
                                                              input_shape=(size, size, 3), **dict(spec.kwargs))
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)
        with h5py.File(buffer, "r") as f:
            assert backbones.held_shapes(f) == spec.shapes[top], (name, top)
        keras.backend.clear_session()
