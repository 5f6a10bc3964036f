"""JAX's side of `--strategy`: keras.distribution.DataParallel over this machine's devices.
Imported only when the backend is JAX."""

import jax
import keras

from nnkit.distribution.plan import Distribution
from nnkit.errors import UsageError


def _devices(kind):
    try:
        return jax.devices(kind)
    except RuntimeError:  # no such platform here
        return []


def visible_devices():
    return (*(f"cpu:{index}" for index, _ in enumerate(_devices("cpu"))),
            *(f"gpu:{index}" for index, _ in enumerate(_devices("gpu"))))


def split_cpu(count):
    """Make the CPU `count` JAX devices; JAX allows it only before its first computation."""
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:
        pass  # already started: the check below says whether it has enough devices anyway
    if len(_devices("cpu")) < count:
        raise UsageError(f"cannot split the CPU into {count} devices: JAX has already started in this process "
                         "(run the command in a fresh process)")


class WaitForEachStep(keras.callbacks.Callback):
    """Waits for each step's results before the next step is dispatched.

    JAX queues steps asynchronously. On XLA:CPU, the replicas of every queued step share one
    thread pool, and on a long epoch the pool's threads can all end up waiting in one step's
    all-reduce for a replica that no thread is left to run: XLA's rendezvous times out after 40 s
    and aborts the process (seen on a 60,000-image MNIST epoch on 2 cores; the same run with this
    callback finishes). One step in flight at a time removes the wait. GPUs have their own
    streams and do not need it."""

    def _wait(self, batch, logs=None):
        jax.block_until_ready(logs)

    on_train_batch_end = on_test_batch_end = on_predict_batch_end = _wait


def distribution(plan):
    kind_devices = {"cpu": _devices("cpu"), "gpu": _devices("gpu")}
    devices = [kind_devices[kind][int(index)] for kind, index in (name.split(":") for name in plan.devices)]
    data_parallel = keras.distribution.DataParallel(devices=devices)
    on_cpu = all(name.startswith("cpu:") for name in plan.devices)
    return Distribution(plan, data_parallel.scope, [WaitForEachStep()] if on_cpu and len(devices) > 1 else [])
