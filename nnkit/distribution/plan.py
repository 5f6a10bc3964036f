"""The distribution plan: pure decisions about devices, workers and precision (no backend is
touched here), and `Distribution`, a plan put to work. The backend modules beside this one
(tensorflow.py, jax.py, torch.py) build a Distribution for their backend."""

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from nnkit.errors import UsageError

STRATEGIES = ("auto", "default", "mirrored", "multiworker")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclass(frozen=True)
class Plan:
    """What a training run uses: resolved strategy, this machine's devices, this worker's place."""

    strategy: str  # default | mirrored | multiworker
    devices: tuple  # this machine's devices, e.g. ("gpu:0", "gpu:1"); () for "whichever Keras picks"
    workers: int = 1
    worker_index: int = 0
    chief: bool = True  # the worker that evaluates and saves the model
    precision: str = "float32"
    jit: bool | None = None  # None: Keras decides (jit_compile="auto")

    @property
    def replicas(self):
        return max(1, len(self.devices)) * self.workers

    def record(self):
        """What the model's metadata says of how it was trained."""
        return {**asdict(self), "devices": list(self.devices), "replicas": self.replicas}


def parse_devices(text):
    """'gpu:0,gpu:1', '0,1' (GPU indexes) or 'cpu:0,cpu:1' -> ('gpu:0', 'gpu:1') ..."""
    if not text:
        return ()
    devices = []
    for part in text.replace(" ", "").lower().split(","):
        kind, _, index = part.rpartition(":")
        kind = kind or "gpu"
        if kind not in ("cpu", "gpu") or not index.isdigit():
            raise UsageError(f"--devices: '{part}' is not a device; write e.g. gpu:0,gpu:1 or cpu:0,cpu:1")
        devices.append(f"{kind}:{int(index)}")
    if len(set(devices)) != len(devices):
        raise UsageError(f"--devices names a device twice: {text}")
    if len({device.split(':')[0] for device in devices}) > 1:
        raise UsageError("--devices mixes CPUs and GPUs; name devices of one kind")
    return tuple(devices)


def cpu_device_count(devices):
    """How many logical CPU devices `devices` needs (0 when it names GPUs): naming cpu:0,cpu:1
    splits the CPU in two, to test mirrored training on a machine without GPUs."""
    indexes = [int(device.split(":")[1]) for device in devices if device.startswith("cpu:")]
    return max(indexes) + 1 if indexes else 0


def read_cluster():
    """(workers, this worker's index, chief?) from TF_CONFIG; (1, 0, True) without it."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return 1, 0, True
    try:
        tf_config = json.loads(text)
        cluster, task = tf_config.get("cluster", {}), tf_config.get("task", {})
        kinds = [kind for kind in ("chief", "worker") if cluster.get(kind)]
        members = [(kind, index) for kind in kinds for index in range(len(cluster[kind]))]
        me = members.index((task["type"], int(task["index"])))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UsageError("TF_CONFIG is not valid: it needs a cluster of workers and this process's task "
                         '(e.g. {"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
                         '"task": {"type": "worker", "index": 0}})')
    return len(members), me, me == 0  # the "chief" entry, else worker 0, saves


def write_cluster(cluster, task_index):
    """--cluster host:port,host:port --task-index N: the TF_CONFIG they stand for."""
    if not cluster and task_index is None:
        return
    if not cluster or task_index is None:
        raise UsageError("--cluster and --task-index go together")
    workers = [address for address in cluster.replace(" ", "").split(",") if address]
    if not 0 <= task_index < len(workers):
        raise UsageError(f"--task-index {task_index} is not in the cluster's 0..{len(workers) - 1}")
    os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": workers},
                                          "task": {"type": "worker", "index": task_index}})


def choose_plan(strategy, devices, backend, accelerators, workers=1, worker_index=0, chief=True,
                precision="float32", jit=None):
    """The plan for `--strategy` on this backend, given the accelerators found ('gpu:0', ...)."""
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy must be one of {', '.join(STRATEGIES)}, got '{strategy}'")
    if precision not in PRECISIONS:
        raise UsageError(f"--precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
    missing = [device for device in devices if device.startswith("gpu:") and device not in accelerators]
    if missing:
        found = ", ".join(accelerators) or "none"
        raise UsageError(f"--devices: {', '.join(missing)} not found (GPUs here: {found})")
    chosen = devices or accelerators[:1] or ("cpu:0",)
    if strategy == "auto":
        if workers > 1 and backend == "tensorflow":
            strategy = "multiworker"
        elif backend != "torch" and len(devices or accelerators) > 1:
            strategy, chosen = "mirrored", devices or accelerators
        else:
            strategy = "default"
    if strategy in ("mirrored", "multiworker") and backend == "torch":
        raise UsageError(f"--strategy {strategy} needs the TensorFlow or JAX backend: Keras has no "
                         "data-parallel training for torch (set KERAS_BACKEND)")
    if strategy == "multiworker":
        if backend != "tensorflow":
            raise UsageError("--strategy multiworker needs the TensorFlow backend (KERAS_BACKEND=tensorflow)")
        if workers < 2:
            raise UsageError("--strategy multiworker needs a cluster of at least 2 workers: set TF_CONFIG, "
                             "or give --cluster host:port,host:port and --task-index")
        return Plan("multiworker", tuple(chosen), workers, worker_index, chief, precision, jit)
    if strategy == "default" and len(chosen) > 1:
        raise UsageError("--strategy default trains on one device; use --strategy mirrored for several")
    return Plan(strategy, tuple(chosen), precision=precision, jit=jit)


def weights_digest(model):
    """A short fingerprint of the weights: workers that trained in sync print the same one."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(weight.tobytes())
    return digest.hexdigest()[:16]


class Distribution:
    """A plan put to work: the scope a model is built, compiled and trained in, the callbacks
    training needs, and a plain one-device copy of the trained model to evaluate and save."""

    def __init__(self, plan, scope=contextlib.nullcontext, callbacks=()):
        self.plan, self._scope, self.callbacks = plan, scope, list(callbacks)

    @contextlib.contextmanager
    def scope(self):
        import keras

        policy = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.plan.precision)
        try:
            with self._scope():
                yield
        finally:
            keras.config.set_dtype_policy(policy)

    def local_copy(self, model):
        """The trained model as a plain one-device model: evaluating it runs no collective ops
        (a multi-worker chief evaluates alone) and saving it holds nothing device-specific."""
        if self.plan.strategy == "default":
            return model
        import keras

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.keras"
            model.save(path)
            return keras.saving.load_model(path, compile=False)
