"""One switch for every device: `--strategy`, `--devices`, `--precision` and `--jit`.

    default      one device: the first GPU if there is one, else the CPU.
    mirrored     synchronous data parallelism over this machine's devices: tf.distribute's
                 MirroredStrategy on TensorFlow, keras.distribution.DataParallel on JAX.
    multiworker  the same over several processes or machines listed in TF_CONFIG (or written from
                 --cluster and --task-index): MultiWorkerMirroredStrategy. TensorFlow only.
    auto         multiworker when the cluster lists more than one worker, mirrored when this
                 machine has more than one GPU (or --devices names several), else default.

training.batch_size is the global batch: each step splits it evenly across the replicas, so the
same config trains the same model on one device or on many. The learning rate is left as it is;
to fill more devices with a bigger batch, scale training.learning_rate with the batch (k times
the batch, k times the rate) and keep a warm-up (training.warmup_epochs).

The decisions live in plan.py; the backend-specific parts in tensorflow.py, jax.py and torch.py.
"""

import os

from nnkit.distribution.plan import (  # noqa: F401  the package's public names
    STRATEGIES,
    PRECISIONS,
    Plan,
    parse_devices,
    cpu_device_count,
    read_cluster,
    write_cluster,
    choose_plan,
    weights_digest,
    Distribution,
)
from nnkit.errors import UsageError


def start(strategy="auto", devices=(), precision="float32", jit=None):
    """The Distribution for these options on the current backend. Call it before any model or
    tensor exists: TensorFlow fixes its devices and cluster at its first operation."""
    import keras

    backend = keras.backend.backend()
    workers, worker_index, chief = read_cluster()
    runtime = _runtime()
    if cpu_device_count(devices) > 1:
        runtime.split_cpu(cpu_device_count(devices))
    accelerators = tuple(device for device in runtime.visible_devices() if device.startswith("gpu:"))
    plan = choose_plan(strategy, devices, backend, accelerators, workers, worker_index, chief, precision, jit)
    if plan.strategy == "default":
        return Distribution(plan)
    return runtime.distribution(plan)


def _runtime():
    """The module that speaks to the current backend's devices."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        from nnkit.distribution import tensorflow as runtime
    elif backend == "jax":
        from nnkit.distribution import jax as runtime
    else:
        from nnkit.distribution import torch as runtime
    return runtime


def describe_system():
    """What `nnkit env` prints: backend, versions, devices, what --strategy auto picks, and the
    backend measured fastest for each task."""
    from nnkit.reproducibility import hardware, versions

    found = {"versions": versions(), "hardware": hardware(), "devices": list(_runtime().visible_devices()),
             "TF_CONFIG": os.environ.get("TF_CONFIG")}
    from nnkit.distribution.speed import fastest_backends

    found["fastest_backend"] = fastest_backends()
    try:
        found["auto_strategy"] = start("auto").plan.record()
    except UsageError as error:
        found["auto_strategy"] = f"error: {error}"
    return found
