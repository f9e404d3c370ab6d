"""TensorBoard event files written whole from tensorboard's own protos, for runs written after
the fact (a sweep's mean runs and summary): what torch's SummaryWriter writes for add_scalar,
add_text, add_figure and add_custom_scalars, without importing torch and without its writer
thread (tensorboard's writer without TensorFlow opens the file once per event); and the records'
checksums computed in C, for every event file this process writes or reads."""

from __future__ import annotations

import io
import itertools
import os
import socket
import time
from pathlib import Path

from tensorboard.compat.proto import types_pb2
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow
from tensorboard.summary.writer.record_writer import RecordWriter

try:
    import google_crc32c
except ImportError:  # an image without it (a GPU node's): tensorboard's own checksums
    google_crc32c = None

_files = itertools.count()


def native_checksums() -> None:
    """tensorboard without TensorFlow computes each record's CRC-32C in pure Python, byte by
    byte, where it writes and where it reads (a third of reading a run); google-crc32c gives
    the same value in C (300x faster). Without it or its C extension, Python's it stays."""
    if google_crc32c is not None and google_crc32c.implementation == "c":
        pywrap_tensorflow.crc32c = google_crc32c.value


native_checksums()


def scalar_value(tag: str, value: float) -> Summary.Value:
    """A scalar as SummaryWriter.add_scalar writes it (TensorBoard's legacy simple value)."""
    return Summary.Value(tag=tag, simple_value=float(value))


def string_tensor(data: bytes) -> TensorProto:
    """One string as the tensor that the text and custom-scalars plugins read."""
    shape = TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)])
    return TensorProto(dtype=types_pb2.DT_STRING, string_val=[data], tensor_shape=shape)


def records(events: list[Event]) -> bytes:
    """Events in an event file's framing (length, checksums), to write in one go."""
    out = io.BytesIO()
    framing = RecordWriter(out)
    for event in events:
        framing.write(event.SerializeToString())
    return out.getvalue()


def scalar_records(events: list[tuple[float, int, dict[str, float]]]) -> bytes:
    """Scalar events (wall time, step, {tag: value}: one event each, TensorBoard reads each of
    its values as add_scalar's), framed."""
    return records([
        Event(wall_time=wall_time, step=step,
              summary=Summary(value=[scalar_value(t, v) for t, v in scalars.items()]))
        for wall_time, step, scalars in events
    ])  # fmt: skip


class EventFile:
    """One run's events, held until `close` writes them as a new event file in `folder`."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.events = [Event(wall_time=time.time(), file_version="brain.Event:2")]

    def add_summary(self, summary: Summary, step: int = 0) -> None:
        self.events.append(Event(wall_time=time.time(), step=step, summary=summary))

    def add_scalars(self, scalars: dict[str, float], step: int) -> None:
        """Scalars of one step, in one event (TensorBoard reads each as add_scalar's)."""
        values = [scalar_value(tag, value) for tag, value in scalars.items()]
        self.add_summary(Summary(value=values), step)

    def add_text(self, tag: str, text: str) -> None:
        """Markdown for TensorBoard's TEXT tab, under `<tag>/text_summary` as add_text's."""
        from tensorboard.plugins.text.metadata import create_summary_metadata

        metadata = create_summary_metadata(display_name=tag, description="")
        value = Summary.Value(
            tag=f"{tag}/text_summary", metadata=metadata, tensor=string_tensor(text.encode())
        )
        self.add_summary(Summary(value=[value]))

    def add_figure(self, tag: str, figure) -> None:
        """A matplotlib Figure as a PNG for the IMAGES tab, at the figure's own dpi."""
        png = io.BytesIO()
        figure.savefig(png, format="png", dpi=figure.dpi)
        width, height = (round(side) for side in figure.get_size_inches() * figure.dpi)
        image = Summary.Image(
            height=height, width=width, colorspace=4, encoded_image_string=png.getvalue()
        )
        self.add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]))

    def add_custom_scalars(self, layout: dict[str, dict[str, list]]) -> None:
        """A Custom Scalars layout, {category: {chart: ["Margin" | "Multiline", tags]}}."""
        from tensorboard.plugins.custom_scalar import layout_pb2, metadata

        categories = []
        for title, charts in layout.items():
            made = []
            for chart, (kind, tags) in charts.items():
                if kind == "Margin":
                    series = layout_pb2.MarginChartContent.Series(
                        value=tags[0], lower=tags[1], upper=tags[2]
                    )
                    content = {"margin": layout_pb2.MarginChartContent(series=[series])}
                else:
                    content = {"multiline": layout_pb2.MultilineChartContent(tag=tags)}
                made.append(layout_pb2.Chart(title=chart, **content))
            categories.append(layout_pb2.Category(title=title, chart=made))
        layout = layout_pb2.Layout(category=categories).SerializeToString()
        value = Summary.Value(
            tag=metadata.CONFIG_SUMMARY_TAG,
            metadata=metadata.create_summary_metadata(),
            tensor=string_tensor(layout),
        )
        self.add_summary(Summary(value=[value]))

    def close(self) -> Path:
        """Write the event file (named as TensorBoard's writers name theirs)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}"
        path = self.folder / f"{name}.{os.getpid()}.{next(_files)}"
        path.write_bytes(records(self.events))
        return path
