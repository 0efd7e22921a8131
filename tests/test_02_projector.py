"""utils.projector.check_projector: an Embedding Projector folder written the TF2 way is found consistent,
and every way such a folder can silently not belong together is named. Notebook 02 writes the folder
itself (the lesson); `_write_folder` below writes one with the same TF2 calls."""

import json
import math
import re

import numpy as np
import pytest
from PIL import Image

from course import paths
from utils import projector

NOTEBOOK = paths.REPO_ROOT / "notebooks" / "02_fashion_mnist_cnns.ipynb"


def _points(n=10, dims=5, size=28):
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(n, dims)).astype("float32")
    images = rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)
    labels = [f"class {i % 3}" for i in range(n)]
    return embeddings, images, labels


def _write_folder(folder, embeddings, columns, images=None, attribute="embedding",
                  tensor_name=projector.TENSOR_NAME):
    """A projector folder: checkpoint, metadata.tsv, sprite.png (optional), config and an event file."""
    import tensorflow as tf
    from tensorboard.plugins import projector as tb_projector

    folder.mkdir(parents=True, exist_ok=True)
    tf.train.Checkpoint(**{attribute: tf.Variable(embeddings)}).save(str(folder / "embedding.ckpt"))
    names = list(columns)
    lines = ([] if len(names) == 1 else ["\t".join(names)]) + ["\t".join(map(str, r)) for r in zip(*columns.values())]
    (folder / "metadata.tsv").write_text("\n".join(lines) + "\n")
    config = tb_projector.ProjectorConfig()
    info = config.embeddings.add()
    info.tensor_name = tensor_name
    info.metadata_path = "metadata.tsv"
    if images is not None:
        side, (h, w) = math.ceil(math.sqrt(len(images))), images.shape[1:3]
        sprite = np.full((side * h, side * w), 255, np.uint8)
        for i, image in enumerate(images):
            row, col = divmod(i, side)
            sprite[row * h:(row + 1) * h, col * w:(col + 1) * w] = image
        Image.fromarray(sprite).save(folder / "sprite.png")
        info.sprite.image_path = "sprite.png"
        info.sprite.single_image_dim.extend([w, h])
    tb_projector.visualize_embeddings(str(folder), config)
    with tf.summary.create_file_writer(str(folder)).as_default():
        tf.summary.text("embedding", "test", step=0)
    return folder


def test_a_consistent_folder_passes_and_is_summarised(tmp_path):
    embeddings, images, labels = _points(n=10)
    folder = _write_folder(tmp_path / "projector", embeddings, {"label": labels, "index": range(10)}, images=images)
    summary = projector.check_projector(folder)
    assert summary == {"points": 10, "dimensions": 5, "metadata_rows": 10, "metadata_columns": ["label", "index"],
                       "sprite_px": (112, 112), "grid": 4}  # 10 points -> a 4x4 grid of 28x28 thumbnails


def test_one_column_metadata_has_no_header_and_no_sprite_is_fine(tmp_path):
    embeddings, _, labels = _points(n=7)
    folder = _write_folder(tmp_path, embeddings, {"label": labels})
    summary = projector.check_projector(folder)
    assert summary["metadata_rows"] == 7 and summary["metadata_columns"] == ["(one unnamed column)"]
    assert "sprite_px" not in summary


@pytest.mark.parametrize("attribute, tensor_name", [
    ("emb", projector.TENSOR_NAME),          # saved under another attribute than the config names
    ("embedding", "embedding"),              # the TF1 habit: the variable's own name
    ("embedding", "embedding:0"),
])
def test_a_tensor_name_that_the_checkpoint_does_not_hold_is_named_with_the_fix(tmp_path, attribute, tensor_name):
    embeddings, _, labels = _points(n=4)
    folder = _write_folder(tmp_path, embeddings, {"label": labels}, attribute=attribute, tensor_name=tensor_name)
    with pytest.raises(ValueError) as error:
        projector.check_projector(folder)
    message = str(error.value)
    assert f"no tensor {tensor_name!r}" in message
    assert f"'{attribute}/.ATTRIBUTES/VARIABLE_VALUE'" in message  # what the checkpoint does hold
    assert projector.TENSOR_NAME in message


def test_folders_that_do_not_belong_together_are_refused(tmp_path):
    embeddings, images, labels = _points(n=10)
    folder = _write_folder(tmp_path / "p", embeddings, {"label": labels, "i": range(10)}, images=images)
    metadata = folder / "metadata.tsv"
    good = metadata.read_text()
    metadata.write_text("\n".join(good.splitlines()[:-1]) + "\n")  # one row lost
    with pytest.raises(ValueError, match="9 rows for 10 embedding rows"):
        projector.check_projector(folder)
    metadata.unlink()
    with pytest.raises(ValueError, match="names metadata 'metadata.tsv', which is not a file"):
        projector.check_projector(folder)
    metadata.write_text(good)
    Image.fromarray(np.zeros((56, 56), np.uint8)).save(folder / "sprite.png")  # a 2x2 grid for 10 points
    with pytest.raises(ValueError, match="sprite is 56x56 px, but 10 thumbnails of 28x28 in a 4x4 grid need 112x112"):
        projector.check_projector(folder)
    for event_file in folder.glob("events.out.tfevents.*"):
        event_file.unlink()
    with pytest.raises(ValueError, match="no event file"):
        projector.check_projector(folder)
    with pytest.raises(ValueError, match="no projector_config.pbtxt"):
        projector.check_projector(tmp_path / "empty")


def test_a_sprite_too_large_for_the_projector_is_refused(tmp_path):
    embeddings, _, labels = _points(n=2)
    images = np.zeros((2, 1, projector.MAX_SPRITE_SIDE // 2 + 1), np.uint8)  # 2 thumbnails of 4097x1 px
    folder = _write_folder(tmp_path, embeddings, {"label": labels}, images=images)
    with pytest.raises(ValueError, match="at most 8192x8192"):
        projector.check_projector(folder)


def test_notebook_02_writes_the_projector_files_itself():
    """The seed's lesson is the projector code: it must stay visible in the notebook, not move into utils."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    for snippet in ("tf.train.Checkpoint(embedding=", "projector.ProjectorConfig()", "metadata.tsv", "sprite.png",
                    "single_image_dim", "projector.visualize_embeddings(", "check_projector("):
        assert snippet in code, snippet
    named = re.findall(r'tensor_name = "([^"]+)"', code)
    assert named == [projector.TENSOR_NAME]


@pytest.mark.slow
def test_tensorboard_serves_the_folder(tmp_path):
    """End to end: a real TensorBoard lists the folder as a projector run and serves its four parts.

    TensorBoard runs in its own process, as `%tensorboard` runs it in the notebook. Launched in this
    process, its reload threads are still inside TensorFlow's C++ file code when pytest exits, and
    the interpreter's shutdown then aborts the whole run ("FATAL: exception not rethrown").
    """
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    embeddings, images, labels = _points(n=10)
    _write_folder(tmp_path / "logs" / "projector", embeddings, {"label": labels, "i": range(10)}, images=images)
    projector.check_projector(tmp_path / "logs" / "projector")
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
