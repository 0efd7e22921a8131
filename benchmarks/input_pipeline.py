"""Input-pipeline benchmark: images per second on a folder of real JPEGs (a script, not a test).

    python benchmarks/input_pipeline.py                      # flower_photos from the mirror/cache
    python benchmarks/input_pipeline.py --data ~/my_photos --images 1000 --repeats 7

Three pipelines deliver the same thing, float32 batches of augmented RGB images at --size pixels:

  (a) decode + resize only, in parallel: the ceiling, no augmentation at all;
  (b) `ImageDataGenerator.flow_from_directory` with the augmentation policy (legacy Keras);
  (c) a `tf.data` pipeline with the same policy: parallel decode, decoded images cached in memory,
      augmentation on whole batches, prefetch.

The policy is notebook 03's: horizontal flip, zoom in by up to 20%, brightness +-20%; (c) applies it to
whole batches with `tf.image` ops. Passes are interleaved (a, b, c, a, b, c, ...) after one warm-up pass
each (which also fills (c)'s cache), and the median of --repeats passes is reported with the ratios, the
same method as notebook 03's `time_pipelines`. Goals on a 2-core CPU: (c)/(b) >= 4, (c)/(a) >= 0.7.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ZOOM, BRIGHTNESS = 0.2, 0.2
SEED = 42


def time_pipelines(pipelines, n_images, repeats, warmup=1):
    """Images per second of each pipeline: warm-up rounds, then timed rounds taking turns (notebook 03's method).

    Returns {name: [images/s of each timed pass]}.
    """
    def one_pass(make):
        seen, start = 0, time.perf_counter()
        for batch in make():
            seen += len(batch[0])
            if seen >= n_images:
                return seen / (time.perf_counter() - start)
        raise ValueError(f"the pipeline ran out after {seen} images; asked to time {n_images}")

    for _ in range(warmup):
        for make in pipelines.values():
            one_pass(make)
    runs = {name: [] for name in pipelines}
    for _ in range(repeats):
        for name, make in pipelines.items():
            runs[name].append(one_pass(make))
    return runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder with one sub-folder per class (default: flower_photos)")
    parser.add_argument("--images", type=int, default=500, help="images per timed pass (default 500)")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per pipeline (default 5)")
    parser.add_argument("--size", type=int, default=224, help="output image size in pixels (default 224)")
    parser.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    import pandas as pd
    import tensorflow as tf

    import utils

    keras.utils.set_random_seed(SEED)  # no op determinism: a speed measurement lets TensorFlow use its fastest kernels
    root = Path(args.data).expanduser() if args.data else utils.locate("flower_photos")
    folder = utils.scan_image_folder(root)
    size = (args.size, args.size)
    n = min(args.images, len(folder.files))
    print(f"{n} images per pass from {root} ({len(folder.files)} usable), {args.size} px, batch {args.batch}, "
          f"{args.repeats} passes, {os.cpu_count()} CPU cores, TensorFlow {tf.__version__}")

    def policy(images):
        """The policy on a whole batch: one crop_and_resize call zooms and flips every image.

        A box whose x1 > x2 comes out mirrored, so the flip costs nothing extra.
        """
        n = tf.shape(images)[0]
        sides = tf.random.uniform([n, 2], 1 - ZOOM, 1.0)  # keep 80-100% of the height and width
        y1, x1 = tf.unstack(tf.random.uniform([n, 2]) * (1 - sides), axis=1)
        y2, x2 = y1 + sides[:, 0], x1 + sides[:, 1]
        flip = tf.random.uniform([n]) < 0.5
        boxes = tf.stack([y1, tf.where(flip, x2, x1), y2, tf.where(flip, x1, x2)], axis=1)
        images = tf.image.crop_and_resize(images, boxes, tf.range(n), size)
        brightness = tf.random.uniform([n, 1, 1, 1], 1 - BRIGHTNESS, 1 + BRIGHTNESS)  # as brightness_range does
        return tf.clip_by_value(images * brightness, 0, 255)
    datagen = tf.keras.preprocessing.image.ImageDataGenerator(
        horizontal_flip=True, zoom_range=(1 - ZOOM, 1.0), brightness_range=(1 - BRIGHTNESS, 1 + BRIGHTNESS))

    def load(path, label):
        return tf.image.resize(tf.io.decode_jpeg(tf.io.read_file(path), channels=3), size), label

    def tfdata(augment):
        ds = tf.data.Dataset.from_tensor_slices((list(folder.files), list(folder.labels)))
        if augment:
            ds = ds.shuffle(len(folder.files), seed=SEED, reshuffle_each_iteration=False)  # the cache keeps one order
            ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).cache()
            ds = ds.batch(args.batch).map(lambda x, y: (policy(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        else:
            ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).batch(args.batch)
        return ds.prefetch(tf.data.AUTOTUNE)

    ceiling, course = tfdata(augment=False), tfdata(augment=True)
    pipelines = {
        "(a) decode + resize only": lambda: ceiling,
        "(b) ImageDataGenerator": lambda: datagen.flow_from_directory(
            root, target_size=size, batch_size=args.batch, class_mode="sparse", seed=SEED),
        "(c) tf.data + tf.image": lambda: course,
    }
    runs = time_pipelines(pipelines, n_images=n, repeats=args.repeats, warmup=1)
    base = np.median(runs["(b) ImageDataGenerator"])
    table = pd.DataFrame({name: {"images/s (median)": np.median(r), "slowest pass": min(r), "fastest pass": max(r),
                                 "x (b)": np.median(r) / base} for name, r in runs.items()}).T.round(2)
    print(table.to_string())
    a, b, c = (np.median(runs[k]) for k in pipelines)
    print(f"\n(c)/(b) = {c / b:.2f}x  (goal >= 4)\n(c)/(a) = {c / a:.2f}   (goal >= 0.70)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
