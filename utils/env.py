"""The setup cell's call: quiet TensorFlow logs, seeds, precision, and a banner saying what runs where.

TensorFlow is imported lazily so that importing `utils` stays fast.
"""

from __future__ import annotations

import os
import platform
import sys
from contextlib import contextmanager

from course.paths import in_colab, is_offline, is_smoke, mode

#: The seed every notebook uses unless told otherwise (issue: runs must repeat).
SEED = 42


def set_seed(seed: int = SEED, deterministic: bool | None = None) -> None:
    """Seed Python, NumPy and TensorFlow in one call (`keras.utils.set_random_seed`).

    `deterministic=None` turns on TensorFlow's deterministic ops when no GPU is present, so two runs on
    a CPU give identical numbers; on a GPU it stays off (several GPU kernels have no deterministic form
    and would be slower).
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if deterministic is None:
        deterministic = not tf.config.list_physical_devices("GPU")
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def accelerator() -> str:
    """A short description of the accelerator TensorFlow sees: "GPU (NVIDIA ...)" or "CPU only"."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU only ({os.cpu_count()} cores)"
    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
    return f"{len(gpus)} GPU: " + ", ".join(names)


#: The values `COURSE_PRECISION` accepts (unset: automatic, mixed_float16 on a GPU and float32 elsewhere).
PRECISIONS = ("mixed_float16", "float32")


def precision_choice() -> tuple[str | None, str]:
    """(forced policy or None for automatic, why) from `COURSE_PRECISION`; refuses any other value."""
    value = os.environ.get("COURSE_PRECISION", "").strip()
    if not value:
        return None, "automatic"
    if value not in PRECISIONS:
        raise ValueError(
            f"COURSE_PRECISION={value!r} is not a precision the course knows. Set it to 'mixed_float16' "
            f"(float16 maths, float32 weights: what a GPU uses), 'float32' (everything in float32: the first "
            f"thing to try when a GPU run misbehaves), or unset it for the automatic choice (mixed_float16 "
            f"on a GPU, float32 elsewhere)."
        )
    return value, f"forced by COURSE_PRECISION={value}"


def use_fast_gpu_settings() -> bool:
    """Mixed precision on a GPU (float16 maths, float32 weights); float32 on a CPU, where float16 is slower.

    `COURSE_PRECISION=mixed_float16` or `=float32` forces the policy whatever the device (mixed precision
    on a CPU reproduces a GPU's numerics and export problems; float32 on a GPU rules them out).
    Returns True when mixed precision is on. Models then need a float32 output layer
    (`Dense(..., dtype="float32")`), which every notebook in this course uses anyway. XLA needs no
    switch: Keras' `compile(jit_compile="auto")` turns it on when a GPU is present and off on a CPU.
    """
    import keras
    import tensorflow as tf

    forced, _ = precision_choice()
    policy = forced or ("mixed_float16" if tf.config.list_physical_devices("GPU") else "float32")
    keras.mixed_precision.set_global_policy(policy)
    return policy == "mixed_float16"


def _precision_line(mixed: bool, gpu: bool) -> str:
    """The banner's precision part: which policy, and why (automatic, or forced by COURSE_PRECISION)."""
    forced, why = precision_choice()
    # compile(jit_compile="auto") uses XLA on a GPU, except for models it cannot compile (random augmentation
    # layers: RandomRotation, RandomZoom, RandomTranslation, RandomCrop), so the banner does not promise it
    xla = "XLA where Keras can compile the model" if gpu else "no XLA"
    if not forced:
        if mixed:
            return f"mixed precision + {xla} (automatic on a GPU; COURSE_PRECISION=float32 turns mixed precision off)"
        return "float32, no XLA (both pay off only on a GPU)"
    if mixed:
        return f"mixed precision (float16 maths) {why}, {xla}" + ("" if gpu else "; slower on a CPU, for checking GPU behaviour")
    return f"float32 {why}, {xla}"


#: What TensorFlow's C++ core prints to stderr on import whatever TF_CPP_MIN_LOG_LEVEL says, and a learner
#: cannot act on (the banner already says which device and precision run).
_IMPORT_NOISE = ("oneDNN custom operations are on", "Could not find cuda drivers", "failed call to cuInit",
                 "TF-TRT Warning", "Unable to register cu", "computation placer already registered",
                 "This TensorFlow binary is optimized to use available CPU instructions",
                 "To enable the following instructions", "WARNING: All log messages before absl::InitializeLog")


@contextmanager
def _native_logs_held_back():
    """Hold back TensorFlow's known start-up log lines (`_IMPORT_NOISE`) for a `with` block; show every other line.

    The lines come from C++ straight to file descriptor 2, so they are caught there, not in `sys.stderr`.
    Both `import tensorflow` and the first look at the devices (the CUDA probe: "failed call to cuInit" on
    a machine without a GPU) print them.
    """
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            lines = caught.read().decode(errors="replace").splitlines(keepends=True)
            kept = [line for line in lines if not any(noise in line for noise in _IMPORT_NOISE)]
            if kept:
                sys.stderr.write("".join(kept))


def start(lesson: str, namespace: dict):
    """The cell after the parameters cell: `lesson = utils.start("01_mnist_dense", globals())`.

    Checks every parameter above (a value out of range, or a name the lesson does not have, stops here
    with a message naming it and what it accepts), and returns this run of the lesson, which knows its
    folders and records its results:

        keras.callbacks.BackupAndRestore(lesson.backup_dir("train"))   # resume an interrupted training
        lesson.folder("model")                                          # build/runs/<lesson>/<mode>/model
        lesson.record(test_accuracy=acc)                                # what `python -m course run` reports

    In the course's test runs (`COURSE_SMOKE=1`) it also replaces the sizes with tiny ones, and says so.
    """
    from course import record

    return record.start(lesson, namespace)


def setup(seed: int = SEED) -> None:
    """The first call of every notebook: quiet logs, seeds, plotting defaults, and a banner.

    The banner says which versions run, on which device, in which mode, and where data comes from,
    so a screenshot of it answers most "it does not work for me" questions.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++ log lines; real failures still raise in Python
    with _native_logs_held_back():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # the CUDA probe logs once, here
    import keras
    import matplotlib as mpl

    from course import record

    precision_choice()  # a wrong COURSE_PRECISION stops here, before anything slow
    set_seed(seed)
    record.current().seed = seed
    record.current().device = accelerator()
    mixed = use_fast_gpu_settings()
    if is_smoke():
        # A smoke run takes one or two steps per fit: tracing a graph costs more than it saves (a MobileNet
        # fit + evaluate + predict: 14.5 s traced, 2.2 s eager). Full runs always build graphs.
        import warnings

        tf.config.run_functions_eagerly(True)
        warnings.filterwarnings("ignore", message="Even though the `tf.config.experimental_run_functions_eagerly`")
    mpl.rcParams.update({"figure.dpi": 100, "axes.grid": False, "image.cmap": "gray"})

    where = "Colab" if in_colab() else "local"
    lines = [
        f"Python {platform.python_version()} | TensorFlow {tf.__version__} | Keras {keras.__version__} ({where})",
        f"Device: {accelerator()} | {_precision_line(mixed, bool(tf.config.list_physical_devices('GPU')))}",
        f"Mode: {mode().upper()}"
        + (" (tiny subsets, 1-2 epochs: numbers are not meaningful)" if is_smoke() else "")
        + (" | offline" if is_offline() else ""),
        f"Data: {record.current().describe_sources()}",
    ]
    print("\n".join(lines))
