"""TensorFlow's side of `--strategy`: tf.distribute strategies, a CPU split into logical devices,
and a guarded fix that lets Keras 3 `fit` run under MultiWorkerMirroredStrategy.
Imported only when the backend is TensorFlow."""

import tensorflow as tf

from nnkit.distribution.plan import Distribution
from nnkit.errors import UsageError

# The Keras releases the multi-worker fix below was checked against (pyproject pins keras <3.16).
PATCHED_KERAS = ((3, 10), (3, 15))


def visible_devices():
    # Physical devices and the CPU's configuration: listing logical devices would start
    # TensorFlow's runtime, after which neither a CPU split nor a cluster can be set up.
    cpu = tf.config.list_physical_devices("CPU")[0]
    cpus = [f"cpu:{index}" for index in range(len(tf.config.get_logical_device_configuration(cpu) or [cpu]))]
    return (*cpus, *(f"gpu:{index}" for index, _ in enumerate(tf.config.list_physical_devices("GPU"))))


def split_cpu(count):
    """Make the CPU `count` logical devices. TensorFlow allows it only before its first operation."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    if len(tf.config.get_logical_device_configuration(cpu) or [cpu]) >= count:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        raise UsageError(f"cannot split the CPU into {count} devices: TensorFlow has already started in this "
                         "process (run the command in a fresh process)")


def distribution(plan):
    if plan.strategy == "mirrored":
        strategy = tf.distribute.MirroredStrategy([f"/{device}" for device in plan.devices])
    else:
        patch_keras_for_multi_worker()
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    return Distribution(plan, strategy.scope)


def patch_keras_for_multi_worker():
    """Let Keras 3's `fit` run under MultiWorkerMirroredStrategy (keras-team/keras#20585,
    tensorflow/tensorflow#72388). Without it both workers fail before the first step:

    1. `_maybe_symbolic_build` all-reduces the first batch only to learn its shapes; across
       workers the batch is a PerReplica value the collective op cannot take. One replica's part
       of the batch has the shapes it needs.
    2. `reduce_per_replica` averages each step's loss and metrics across workers with `axis=0`,
       which a scalar does not have. Scalars are averaged with `axis=None`.

    Both replacements change nothing for other strategies. Other Keras releases are refused
    rather than patched blind."""
    import keras
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    version = tuple(int(part) for part in keras.__version__.split(".")[:2])
    if not PATCHED_KERAS[0] <= version <= PATCHED_KERAS[1]:
        raise UsageError(f"--strategy multiworker is checked with Keras {PATCHED_KERAS[0][0]}.{PATCHED_KERAS[0][1]} to "
                         f"{PATCHED_KERAS[1][0]}.{PATCHED_KERAS[1][1]}, not {keras.__version__}")
    if getattr(trainer, "_nnkit_patched", False):
        return
    multi_worker = trainer._collective_all_reduce_multi_worker
    reduce_per_replica = trainer.reduce_per_replica
    symbolic_build = trainer.TensorFlowTrainer._maybe_symbolic_build

    def first_replica(strategy):
        def local(value):
            if isinstance(value, tf.distribute.DistributedValues):
                return strategy.experimental_local_results(value)[0]
            return value
        return local

    def reduce_scalars_too(values, strategy, reduction):
        if not (multi_worker(strategy) and reduction in ("auto", "mean")):
            return reduce_per_replica(values, strategy, reduction)

        def reduce(value):
            if first_replica(strategy)(value).shape.rank == 0:
                return strategy.reduce("MEAN", value, axis=None)
            return reduce_per_replica(value, strategy, reduction)
        return tree.map_structure(reduce, values)

    def build_from_one_replica(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if strategy is None or iterator is None or not multi_worker(strategy):
            return symbolic_build(self, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            data_batch = tree.map_structure(first_replica(strategy), next(batches))
            break
        return symbolic_build(self, data_batch=data_batch)

    trainer.reduce_per_replica = reduce_scalars_too
    trainer.TensorFlowTrainer._maybe_symbolic_build = build_from_one_replica
    trainer._nnkit_patched = True
