"""Import Keras (and TensorFlow, when it is the backend) without the screen of C++ start-up logs.

TensorFlow prints oneDNN, CUDA-probing and absl lines on import and when it
first lists its devices, before any work starts. Both happen here with
stderr muted, unless `TF_CPP_MIN_LOG_LEVEL` is set (the user chose a log
level) or `--verbose` is on the command line (`dml --verbose ...`).
"""

import os
import sys


def wanted():
    return "TF_CPP_MIN_LOG_LEVEL" not in os.environ and "--verbose" not in sys.argv[1:] and "tensorflow" not in sys.modules


def import_backend_quietly():
    """Import Keras and its backend with stderr (file descriptor 2) muted; errors still propagate."""
    if not wanted():
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            import keras

            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
