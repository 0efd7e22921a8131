"""Pretrained networks, found offline too: which one can be had, and where its weights are.

The lesson builds the network itself with `keras.applications` (or `tensorflow_hub`); these helpers only
find what it needs: the network to use when the one asked for cannot be had here, and its weights file.
"""

from __future__ import annotations

from course import backbones


def choose_backbone(preferred: str, *, include_top: bool = False) -> str:
    """`preferred` ("resnet50", "vgg19", "inception_v3", ...) if its ImageNet weights can be had, else the best
    that can ("mobilenet_100", then "mobilenet_025"), said in one line and recorded with the results."""
    return backbones.choose_backbone(preferred, include_top=include_top)


def imagenet_weights(name: str, include_top: bool = False) -> str | None:
    """What to pass as `weights=` to network `name`'s `keras.applications` constructor: the path of its
    ImageNet weights file (with the 1000-class classifier when `include_top`), found in the mirror, Keras'
    cache or by a download. None (random weights, announced) only in the course's test runs."""
    return backbones.imagenet_weights(name, include_top)


def decode_predictions(predictions, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """`keras.applications.imagenet_utils.decode_predictions`, with ImageNet's class names found offline too:
    for each row of 1000 probabilities, the `top` classes as `(wordnet id, name, probability)`."""
    return backbones.decode_predictions(predictions, top)


def hub_model(name: str, image_size: int | None = None) -> tuple[str, int]:
    """`(handle, image_size)` for TF Hub model `name` of the course's catalogue: the address for
    `tensorflow_hub.load`, and the image size to feed it (`image_size`, or the size the model was trained
    at). Offline, a local hub-format export of MobileNet stands in, said in one line."""
    from course import hub  # imports TensorFlow

    return hub.hub_model(name, image_size)
