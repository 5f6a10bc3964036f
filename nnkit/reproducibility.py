"""One seed for every random source, and the system facts recorded with each model."""

import os
import platform
import sys


def set_seed(seed):
    """Seed Python, NumPy and the backend; on TensorFlow also make its kernels deterministic,
    so the same seed gives the same metrics on CPU."""
    import keras

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def versions():
    import keras
    import numpy

    backend = keras.backend.backend()
    found = {
        "python": platform.python_version(),
        "nnkit": sys.modules["nnkit"].__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "backend": backend,
    }
    backend_module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend)
    if backend_module:
        found[backend_module] = __import__(backend_module).__version__
    return found


def hardware():
    return {"machine": platform.machine(), "system": platform.system(), "cpu_count": os.cpu_count()}
