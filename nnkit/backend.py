"""Importing Keras (and so its backend) for the CLI.

TensorFlow 2.21 writes C++ start-up lines to stderr on import whatever TF_CPP_MIN_LOG_LEVEL
says. The CLI promises one clear line on stderr for a user's mistake, so it imports Keras with
file descriptor 2 pointed at /dev/null; NNKIT_DEBUG=1 shows everything.
"""

import os
import sys


def import_keras_quietly():
    if "keras" in sys.modules or os.environ.get("NNKIT_DEBUG"):
        import keras

        return keras
    # 3, not 2: at run time TF also logs notices at error level ("oneDNN supports DT_BOOL only
    # on platforms with AVX-512 ...") that are not errors of the user's.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    if keras.backend.backend() != "tensorflow":
        # On the other backends Keras imports an installed TensorFlow later, with stderr open
        # again (to recognise TF types when it serializes layers), and TF announces its oneDNN
        # kernels. They compute nothing of the model here: off, and the notice with them.
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    return keras
