"""Import TensorFlow lazily, quietly and with bounded threads.

Only the trainer imports TensorFlow, and only when it trains: `fraudstream --help` and the
scorer never pay for it. The machine is shared, so thread pools are capped and the C++
log noise is silenced before the first import.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from types import ModuleType


@cache
def tensorflow(threads: int = 2) -> ModuleType:
    """The `tensorflow` module, configured once per process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # deterministic float sums
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised by an earlier import in this process
        pass
    tf.config.experimental.enable_op_determinism()  # same seed, same metrics
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    return tf
