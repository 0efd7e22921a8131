"""Where the course runs and how: smoke/full mode, offline flag, seeding, devices, run folders.

Everything here is plumbing that every notebook needs in its first cell; none of it is a lesson.
TensorFlow is imported lazily so that `python -m utils ...` and the unit tests start fast.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import time
from pathlib import Path

#: The seed every notebook uses unless told otherwise (issue: runs must repeat).
SEED = 42

#: Where the course lives on GitHub (Colab clones it; the notebooks' buttons point at it).
REPO_SLUG = "image-classification-course/tensorflow-keras-course"

#: Root of the course repository (the folder that holds `utils/` and `notebooks/`).
REPO_ROOT = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def is_smoke() -> bool:
    """True when `COURSE_SMOKE=1`: tiny subsets and one or two epochs (tests and `python -m utils run`)."""
    return _flag("COURSE_SMOKE")


def is_offline() -> bool:
    """True when `COURSE_OFFLINE=1`: nothing may touch the network (the test suite sets it).

    Learners never need it: without network a download fails within seconds and the course falls back
    (mirror, cache, another network, a stand-in) by what it can actually find.
    """
    return _flag("COURSE_OFFLINE")


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def mode() -> str:
    """`"smoke"` or `"full"`, as recorded in `build/results.json`."""
    return "smoke" if is_smoke() else "full"


def build_dir() -> Path:
    """Where executed notebooks, metrics and run folders go (`COURSE_BUILD_DIR`, default `<repo>/build`).

    Always absolute: a relative `COURSE_BUILD_DIR` means the folder it was typed in (`data.resolve_environment`),
    and the runner hands kernels (which run in `notebooks/`) the absolute path.
    """
    from . import data

    return data._env_folder("COURSE_BUILD_DIR") or REPO_ROOT / "build"


_RUN_PARAMETERS: dict = {}


def set_run_parameters(parameters: dict) -> None:
    """Remember this run's checked parameters (`utils.check_parameters` calls it): they key its backups."""
    _RUN_PARAMETERS.clear()
    _RUN_PARAMETERS.update(parameters)


def run_parameters() -> dict:
    """The parameters this run was checked with (empty before `utils.check_parameters`)."""
    return dict(_RUN_PARAMETERS)


_RUN_ROOTS: dict[tuple, Path] = {}  # (build folder, notebook, mode) -> the run folder this process holds


def _run_root(notebook: str) -> Path:
    """`build/runs/<notebook>/<mode>`, or `<mode>-2`, ... when another live process holds that one."""
    from . import runs

    parent = build_dir() / "runs" / notebook
    key = (str(parent), mode())
    if key not in _RUN_ROOTS:
        for n in range(1, 100):
            name = mode() if n == 1 else f"{mode()}-{n}"
            if runs.try_lock(parent / f".{name}.lock"):
                break
        if n > 1:
            owner = runs.lock_owner(parent / f".{mode()}.lock")
            print(f"Another live run of {notebook}{f' ({owner})' if owner else ''} is using {parent / mode()}; "
                  f"this run uses {parent / name} so that neither overwrites the other's files.", flush=True)
        _RUN_ROOTS[key] = parent / name
    return _RUN_ROOTS[key]


def run_dir(notebook: str, *parts: str, fresh: bool = False) -> Path:
    """A notebook's own folder for saved models, logs and caches: `build/runs/<notebook>/<mode>/<parts>`.

    Smoke and full runs get separate folders so that a smoke run never resumes from, or overwrites,
    an hour of full-mode training. The folder belongs to this process while it lives: a second run of
    the same notebook at the same time gets `<mode>-2` (announced), so two runs never write into, or
    empty, each other's folder. `fresh=True` empties the folder first. Training backups have their own
    folders: `utils.backup_dir`.
    """
    from . import runs

    path = _run_root(notebook).joinpath(*parts)
    if fresh and path.exists():
        aside = path.with_name(f".{path.name}.old-{os.getpid()}-{time.time_ns()}")
        try:
            os.replace(path, aside)  # out of the way at once, even if deleting takes a while or fails
        except OSError as err:
            raise runs.storage_error(path.parent, err) from None
        shutil.rmtree(aside, ignore_errors=True)
    return runs.make_dir(path)


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


def get_strategy():
    """The `tf.distribute` strategy for this machine: TPU if present, several GPUs, else the default.

    Build and compile models inside `with strategy.scope():` and the same code scales from a laptop to
    a Colab TPU.
    """
    import tensorflow as tf

    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError, ImportError, tf.errors.NotFoundError):
        pass
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


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
    xla = "XLA on" if gpu else "no XLA"
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


def _import_tensorflow_quietly() -> None:
    """`import tensorflow` with its known start-up log lines held back; every other line is shown.

    The lines come from C++ straight to file descriptor 2, so they are caught there, not in `sys.stderr`.
    """
    if "tensorflow" in sys.modules:
        return
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            lines = caught.read().decode(errors="replace").splitlines(keepends=True)
            kept = [line for line in lines if not any(noise in line for noise in _IMPORT_NOISE)]
            if kept:
                sys.stderr.write("".join(kept))


def setup(seed: int = SEED) -> None:
    """The first call of every notebook: quiet logs, seeds, plotting defaults, and a banner.

    The banner says which versions run, on which device, in which mode, and where data comes from,
    so a screenshot of it answers most "it does not work for me" questions.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++ log lines; real failures still raise in Python
    _import_tensorflow_quietly()
    import keras
    import matplotlib as mpl
    import tensorflow as tf

    precision_choice()  # a wrong COURSE_PRECISION stops here, before anything slow
    set_seed(seed)
    mixed = use_fast_gpu_settings()
    if is_smoke():
        # A smoke run takes one or two steps per fit: tracing a graph costs more than it saves (a MobileNet
        # fit + evaluate + predict: 14.5 s traced, 2.2 s eager). Full runs always build graphs.
        import warnings

        tf.config.run_functions_eagerly(True)
        warnings.filterwarnings("ignore", message="Even though the `tf.config.experimental_run_functions_eagerly`")
    mpl.rcParams.update({"figure.dpi": 100, "axes.grid": False, "image.cmap": "gray"})

    from . import data

    where = "Colab" if in_colab() else "local"
    lines = [
        f"Python {platform.python_version()} | TensorFlow {tf.__version__} | Keras {keras.__version__} ({where})",
        f"Device: {accelerator()} | {_precision_line(mixed, bool(tf.config.list_physical_devices('GPU')))}",
        f"Mode: {mode().upper()}"
        + (" (tiny subsets, 1-2 epochs: numbers are not meaningful)" if is_smoke() else "")
        + (" | offline" if is_offline() else ""),
        f"Data: {data.describe_sources()}",
    ]
    print("\n".join(lines))
