"""utils.projector: the Embedding Projector folder that notebook 02 writes is consistent."""

import numpy as np
import pytest
from PIL import Image

from utils import projector


def _points(n=10, dims=5, size=28):
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(n, dims)).astype("float32")
    images = rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)
    labels = [f"class {i % 3}" for i in range(n)]
    return embeddings, images, labels


def test_make_sprite_is_a_square_grid_filled_row_by_row():
    images = np.stack([np.full((2, 3), v, np.uint8) for v in (10, 20, 30, 40, 50)])
    sprite = projector.make_sprite(images)
    assert sprite.shape == (3 * 2, 3 * 3) and sprite.dtype == np.uint8  # 5 images -> 3x3 grid of 2x3 tiles
    assert sprite[0, 0] == 10 and sprite[0, 3] == 20 and sprite[0, 6] == 30 and sprite[2, 0] == 40
    assert (sprite[4:, :] == 255).all()  # the unused last row stays white
    inverted = projector.make_sprite(images, invert=True)
    assert inverted[0, 0] == 245
    floats = projector.make_sprite(np.full((1, 2, 2, 1), 0.5, np.float32))
    assert floats.shape == (2, 2) and floats[0, 0] == 128  # [0, 1] floats are scaled, channel dropped


def test_make_sprite_refuses_what_the_projector_cannot_show():
    with pytest.raises(ValueError, match="wider than"):
        projector.make_sprite(np.broadcast_to(np.zeros((1, 28, 28), np.uint8), (300**2, 28, 28)))
    with pytest.raises(ValueError, match="non-empty"):
        projector.make_sprite(np.zeros((0, 28, 28)))


def test_written_folder_is_consistent(tmp_path):
    import tensorflow as tf

    embeddings, images, labels = _points(n=10)
    folder = projector.write_projector(tmp_path / "projector", embeddings, {"label": labels, "index": range(10)},
                                       images=images, invert_sprite=True)
    for name in (projector.CONFIG_FILE, projector.METADATA_FILE, projector.SPRITE_FILE):
        assert (folder / name).is_file()
    assert list(folder.glob("events.out.tfevents.*")), "an event file makes the folder a TensorBoard run"

    # the checkpoint loads and holds exactly the embeddings
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(folder)))
    np.testing.assert_array_equal(reader.get_tensor(projector.TENSOR_NAME), embeddings)
    # metadata rows = embedding rows (two columns: a header line, then one row per point)
    lines = (folder / projector.METADATA_FILE).read_text().splitlines()
    assert lines[0] == "label\tindex" and len(lines) - 1 == len(embeddings)
    # sprite size = grid size: 10 points -> 4x4 grid of 28x28 thumbnails
    assert Image.open(folder / projector.SPRITE_FILE).size == (4 * 28, 4 * 28)

    summary = projector.check_projector(folder)
    assert summary == {"points": 10, "dimensions": 5, "metadata_rows": 10, "metadata_columns": ["label", "index"],
                       "sprite_px": (112, 112), "grid": 4}


def test_one_column_metadata_has_no_header_and_no_sprite_is_fine(tmp_path):
    embeddings, _, labels = _points(n=7)
    folder = projector.write_projector(tmp_path, embeddings, {"label": labels})
    assert len((folder / projector.METADATA_FILE).read_text().splitlines()) == 7
    summary = projector.check_projector(folder)
    assert summary["metadata_rows"] == 7 and "sprite_px" not in summary


def test_check_finds_folders_that_do_not_belong_together(tmp_path):
    embeddings, images, labels = _points(n=10)
    folder = projector.write_projector(tmp_path, embeddings, {"label": labels, "i": range(10)}, images=images)
    metadata = folder / projector.METADATA_FILE
    good = metadata.read_text()
    metadata.write_text("\n".join(good.splitlines()[:-1]) + "\n")  # one row lost
    with pytest.raises(ValueError, match="9 rows for 10 embedding rows"):
        projector.check_projector(folder)
    metadata.write_text(good)
    Image.fromarray(projector.make_sprite(images[:4])).save(folder / projector.SPRITE_FILE)  # a 2x2 sprite
    with pytest.raises(ValueError, match="sprite is 56x56"):
        projector.check_projector(folder)
    with pytest.raises(ValueError, match="no projector_config"):
        projector.check_projector(tmp_path / "empty")
    for event_file in folder.glob("events.out.tfevents.*"):
        event_file.unlink()
    with pytest.raises(ValueError, match="no event file"):
        projector.check_projector(folder)


def test_write_refuses_mismatched_inputs(tmp_path):
    embeddings, images, labels = _points(n=10)
    with pytest.raises(ValueError, match="has 9 rows"):
        projector.write_projector(tmp_path, embeddings, {"label": labels[:9]})
    with pytest.raises(ValueError, match="9 sprite images"):
        projector.write_projector(tmp_path, embeddings, {"label": labels}, images=images[:9])
    with pytest.raises(ValueError, match="2-D"):
        projector.write_projector(tmp_path, embeddings[0], {"label": labels[:1]})


@pytest.mark.slow
def test_tensorboard_serves_the_folder(tmp_path):
    """End to end: a real TensorBoard lists the folder as a projector run and serves its four parts.

    TensorBoard runs in its own process, as `%tensorboard` runs it in the notebook. Launched in this
    process, its reload threads are still inside TensorFlow's C++ file code when pytest exits, and
    the interpreter's shutdown then aborts the whole run ("FATAL: exception not rethrown").
    """
    import json
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    embeddings, images, labels = _points(n=10)
    projector.write_projector(tmp_path / "logs" / "projector", embeddings, {"label": labels, "i": range(10)},
                              images=images)
    with socket.socket() as probe:  # a free port for the server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(tmp_path / "logs"), "--host", "127.0.0.1",
         "--port", str(port), "--reload_interval", "1", "--load_fast", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/data/plugin/projector/"

    def get(path):
        with urllib.request.urlopen(url + path, timeout=10) as response:
            return response.read()

    try:
        deadline = time.monotonic() + 120
        runs = []
        while not runs and time.monotonic() < deadline:
            assert server.poll() is None, "TensorBoard exited before serving the folder"
            try:
                runs = json.loads(get("runs"))
            except (urllib.error.URLError, ConnectionError):
                pass  # still starting
            time.sleep(0.5)
        assert runs == ["projector"]
        query = "?run=projector&name=" + projector.TENSOR_NAME
        info = json.loads(get("info?run=projector"))
        assert info["embeddings"][0]["tensorShape"] == [10, 5]
        assert len(get("tensor" + query)) == embeddings.nbytes
        assert len(get("metadata" + query).decode().splitlines()) == 1 + 10
        assert get("sprite_image" + query).startswith(b"\x89PNG")
    finally:
        server.terminate()
        server.wait(timeout=30)
