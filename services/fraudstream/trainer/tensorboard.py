"""TensorBoard logging: one directory per run, scalars per epoch, exactly one graph.

The seed's Estimators wrote a metagraph on every checkpoint and histograms of every
weight, so events files grew to hundreds of MB. Here one file writer per run writes the
model's forward graph once (at the start of training) and a few scalars per epoch, so a
20-epoch run stays in the tens of kilobytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fraudstream.trainer.tf_runtime import tensorflow


def _scalar_metadata() -> bytes:
    """TensorBoard's scalar-plugin metadata, built from TensorFlow's own protos.

    `tf.summary.scalar` is implemented by the `tensorboard` package, which tensorflow-cpu
    2.21 no longer installs; `tf.summary.write` with this metadata writes the identical
    event, so the logs open in TensorBoard either way.
    """
    from tensorflow.core.framework import summary_pb2

    meta = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
        data_class=summary_pb2.DATA_CLASS_SCALAR,
    )
    return bytes(meta.SerializeToString())


def TensorBoardLogger(log_dir: Path) -> Any:
    """A Keras callback writing to `log_dir` (created); import-time free of TensorFlow."""
    tf = tensorflow()
    import keras

    _SCALAR = _scalar_metadata()

    class _Logger(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            log_dir.mkdir(parents=True, exist_ok=True)
            self.writer = tf.summary.create_file_writer(str(log_dir))
            self.graph_written = False

        def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
            if self.graph_written:
                return
            n = self.model.inputs[0].shape[-1]
            fn = tf.function(lambda x: self.model(x, training=False))
            graph = fn.get_concrete_function(tf.TensorSpec([None, n], tf.float32)).graph
            with self.writer.as_default():
                tf.summary.graph(graph)
            self.writer.flush()
            self.graph_written = True

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            values = {f"epoch/{k}": float(v) for k, v in (logs or {}).items()}
            lr = getattr(self.model.optimizer, "learning_rate", None)
            if lr is not None:
                values["epoch/learning_rate"] = float(keras.ops.convert_to_numpy(lr))
            with self.writer.as_default(step=epoch):
                for tag, value in values.items():
                    tf.summary.write(tag, tf.constant(value, tf.float32), metadata=_SCALAR)
            self.writer.flush()

        def on_train_end(self, logs: dict[str, float] | None = None) -> None:
            self.writer.close()

    return _Logger()


def read_events(log_dir: Path) -> dict[str, Any]:
    """Summarise a run directory: graph events, scalar tags/steps, total bytes.

    Reads the files with TensorBoard's own event loader, as TensorBoard itself would.
    """
    files = sorted(p for p in log_dir.rglob("events.out.tfevents.*") if p.is_file())
    graphs = 0
    scalars: dict[str, list[int]] = {}
    for path in files:
        for event in _iter_events(path):
            if event.HasField("graph_def"):
                graphs += 1
            if event.HasField("summary"):
                for v in event.summary.value:
                    scalars.setdefault(v.tag, []).append(int(event.step))
    return {
        "files": [str(p) for p in files],
        "graph_events": graphs,
        "scalars": scalars,
        "bytes": sum(p.stat().st_size for p in files),
    }


def _iter_events(path: Path) -> Any:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    yield from EventFileLoader(str(path)).Load()
