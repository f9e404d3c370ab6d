"""Event files written whole (`dl101.results.event_files`: a sweep's mean runs and summary) read
back in TensorBoard as what torch's SummaryWriter writes for the same calls."""

from __future__ import annotations

import io
import random

import google_crc32c
from matplotlib.figure import Figure
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow as stub
from tensorboard.plugins.custom_scalar import layout_pb2
from torch.utils.tensorboard import SummaryWriter

from dl101.results.event_files import EventFile

LAYOUT = {"seed means": {"val/acc": ["Margin", ["val/acc", "lo", "hi"]],
                         "both": ["Multiline", ["val/acc", "lo"]]}}  # fmt: skip


def figure() -> Figure:
    drawn = Figure(figsize=(2, 1.5), dpi=50)
    drawn.add_subplot().bar(["a", "b"], [1, 2])
    return drawn


def read(folder) -> EventAccumulator:
    return EventAccumulator(str(folder), size_guidance={"images": 0, "tensors": 0}).Reload()


def test_what_tensorboard_reads_is_what_a_summary_writer_wrote(tmp_path):
    ours = EventFile(tmp_path / "ours")
    theirs = SummaryWriter(str(tmp_path / "theirs"))
    for step, value in ((0, 0.25), (10, 0.5)):
        ours.add_scalars({"val/acc": value, "lo": value - 0.1}, step)
        theirs.add_scalar("val/acc", value, step)
        theirs.add_scalar("lo", value - 0.1, step)
    ours.add_text("summary/table", "| a | b |")
    theirs.add_text("summary/table", "| a | b |")
    ours.add_figure("summary/bars", figure())
    theirs.add_figure("summary/bars", figure())
    ours.add_custom_scalars(LAYOUT)
    theirs.add_custom_scalars(LAYOUT)
    ours.close()
    theirs.close()
    mine, expected = read(tmp_path / "ours"), read(tmp_path / "theirs")
    for kind in ("scalars", "tensors", "images"):
        assert sorted(mine.Tags()[kind]) == sorted(expected.Tags()[kind]), kind
    for tag in expected.Tags()["scalars"]:
        got, want = mine.Scalars(tag), expected.Scalars(tag)
        assert [(e.step, e.value) for e in got] == [(e.step, e.value) for e in want]
    (text,) = mine.Tensors("summary/table/text_summary")
    assert text.tensor_proto.string_val == [b"| a | b |"]
    (layout,) = mine.Tensors("custom_scalars__config__")
    (their_layout,) = expected.Tensors("custom_scalars__config__")
    assert layout_pb2.Layout.FromString(layout.tensor_proto.string_val[0]) == (
        layout_pb2.Layout.FromString(their_layout.tensor_proto.string_val[0])
    )
    (image,) = mine.Images("summary/bars")
    (their_image,) = expected.Images("summary/bars")
    png = Image.open(io.BytesIO(image.encoded_image_string))
    assert png.size == (image.width, image.height) == (their_image.width, their_image.height)


def test_records_checksums_are_tensorboards_own_computed_in_c():
    def python_crc32c(data: bytes) -> int:  # the stub's own, byte by byte
        return stub.crc_finalize(stub.crc_update(stub.CRC_INIT, data))

    assert stub.crc32c is google_crc32c.value  # what every record's checksum goes through
    rng = random.Random(0)
    for size in (0, 1, 7, 64, 1000, 4099):
        data = rng.randbytes(size)
        assert stub.crc32c(data) == python_crc32c(data)
