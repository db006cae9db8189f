"""Bodies within the limits: a chunked body and a compressed Arrow bomb are refused as soon as they
pass a limit, before they are read or decoded whole."""

import asyncio
import io

import numpy as np
import pyarrow as pa
import pytest

from runtime.bodies import read_arrow, read_body
from runtime.errors import BadRequest, TooLarge


async def _chunks(sent: list[int], count: int, size: int = 1024):
    for _ in range(count):
        sent.append(size)
        yield b"x" * size


def test_a_chunked_body_is_refused_once_its_bytes_pass_the_limit():
    sent = []
    with pytest.raises(TooLarge, match="body of 5,120 bytes is over the limit of 4,096"):
        asyncio.run(read_body(_chunks(sent, 1000), None, 4096))
    assert len(sent) == 5  # the rest of the stream is never read


@pytest.mark.parametrize(
    ("declared", "error", "message"),
    [
        pytest.param("99999", TooLarge, "99,999 bytes is over", id="declared-over"),
        pytest.param("\u00b2", BadRequest, "not a number of bytes", id="not-ascii-digits"),
        pytest.param("12abc", BadRequest, "not a number of bytes", id="not-a-number"),
    ],
)
def test_a_declared_length_is_checked_before_reading(declared, error, message):
    with pytest.raises(error, match=message):
        asyncio.run(read_body(_chunks([], 1), declared, 4096))


def test_a_body_within_the_limit_is_read_whole():
    assert asyncio.run(read_body(_chunks([], 4), "4096", 4096)) == b"x" * 4096


def _bomb(batches: int, rows: int) -> bytes:
    """Zeros compressed with zstd, then junk: a reader that went past the limit to the end would
    fail on the junk instead of refusing the size."""
    zeros = pa.table({"a": np.zeros(rows), "b": np.zeros(rows)})
    sink = io.BytesIO()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, zeros.schema, options=options) as writer:
        for _ in range(batches):
            writer.write_table(zeros)
    return sink.getvalue()[:-8] + b"\xff" * 64


@pytest.mark.parametrize(
    ("max_rows", "max_bytes", "message"),
    [
        pytest.param(30_000, 2**40, "over 30,000 rows", id="rows"),
        pytest.param(2**40, 400_000, "decoded Arrow data of 640,000 bytes is over", id="decoded-bytes"),
    ],
)
def test_a_compressed_arrow_bomb_is_refused_before_it_is_decoded_whole(max_rows, max_bytes, message):
    body = _bomb(batches=100, rows=20_000)  # 32 MB decoded
    assert len(body) < 32_000  # 1,000 times smaller than decoded
    with pytest.raises(TooLarge, match=message):
        read_arrow(body, max_rows, max_bytes)
    with pytest.raises(BadRequest, match="not a valid Arrow IPC stream"):
        read_arrow(body, 2**40, 2**40)  # read to the end, it hits the junk
