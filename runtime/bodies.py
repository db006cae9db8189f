"""Request bodies within the gateway's limits: bytes counted as they stream in, Arrow IPC decoded
batch by batch, .npy checked against its header, so no body costs more memory than the limits allow
before it is refused (413) or found malformed (400).
"""

import io
import math
import struct
from collections.abc import AsyncIterator
from tokenize import TokenError

import numpy as np
import pyarrow as pa

from runtime.arrowframes import claims
from runtime.errors import BadRequest, TooLarge

NUMBER_KINDS = {"i": "integer", "u": "unsigned integer", "f": "float"}
"""NumPy dtype kinds that hold numbers; booleans, complex, dates, text and objects are refused."""


def check_size(size: int, limit: int, what: str = "body") -> None:
    """TooLarge if `size` bytes are over `limit` (pure)."""
    if size > limit:
        raise TooLarge(f"{what} of {size:,} bytes is over the limit of {limit:,}; send smaller batches")


async def read_body(chunks: AsyncIterator[bytes], declared: str | None, limit: int) -> bytes:
    """The whole body, refused as soon as its declared length or the bytes received so far pass
    `limit` (a chunked body declares no length: it is counted as it arrives)."""
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise BadRequest(f"Content-Length {declared[:40]!r} is not a number of bytes")
        check_size(int(declared), limit)
    received, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        check_size(size, limit)
        received.append(chunk)
    return b"".join(received)


def read_arrow(body: bytes, max_rows: int, max_bytes: int) -> pa.Table:
    """The table of an Arrow IPC stream, or TooLarge at the first record batch that takes the rows
    or the decoded bytes past the limits: what each batch claims is checked before any is decoded, so
    a small compressed body that would unpack to gigabytes is refused without being unpacked."""
    try:
        _check_claims(body, max_rows, max_bytes)
        reader = pa.ipc.open_stream(body)
        batches, rows, decoded = [], 0, 0
        for batch in reader:
            rows, decoded = rows + batch.num_rows, decoded + batch.nbytes
            if rows > max_rows:
                raise TooLarge(f"over {max_rows:,} rows per request; send smaller batches")
            check_size(decoded, max_bytes, "decoded Arrow data")
            batches.append(batch)
        return pa.Table.from_batches(batches, reader.schema)
    except (pa.ArrowException, ValueError, OSError, EOFError, struct.error, IndexError) as e:
        raise BadRequest(f"the body is not a valid Arrow IPC stream: {e}") from None


def _check_claims(body: bytes, max_rows: int, max_bytes: int) -> None:
    """TooLarge at the first message that takes the rows or decoded bytes the stream's batches
    claim past the limits (nothing is decoded)."""
    rows, decoded = 0, 0
    for message in pa.ipc.MessageReader.open_stream(body):
        batch_rows, batch_bytes = claims(message)
        rows, decoded = rows + batch_rows, decoded + batch_bytes
        if rows > max_rows:
            raise TooLarge(f"over {max_rows:,} rows per request; send smaller batches")
        check_size(decoded, max_bytes, "decoded Arrow data")


def read_npy(body: bytes) -> np.ndarray:
    """The array of a .npy body whose header matches its length and holds numbers, or BadRequest:
    the header is checked before anything is allocated (it can claim any shape)."""
    stream = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise BadRequest(f".npy format version {version} is not supported; use 1.0 or 2.0 (np.save)")
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)  # fmt: skip
        shape, _, dtype = read_header(stream)
    except (ValueError, OSError, EOFError, SyntaxError, TokenError, RecursionError) as e:
        # NumPy parses the header as a Python literal: a malformed one fails as Python would
        raise BadRequest(f"the body is not a valid .npy array: {e}") from None
    if dtype.kind not in NUMBER_KINDS or dtype.hasobject:
        raise BadRequest(
            f"the .npy array holds {dtype} values; every feature must be a number: "
            "send an integer or float array (e.g. X.astype('float64'))"
        )
    if len(shape) != 2:  # a 0-d array has no rows to count
        raise BadRequest(f"the .npy array has shape {shape}; expected a 2-D array (rows, features)")
    claimed, present = math.prod(shape) * dtype.itemsize, len(body) - stream.tell()
    if claimed != present:
        raise BadRequest(
            f"the .npy header claims shape {shape} ({claimed:,} bytes) but the body holds {present:,} bytes"
        )
    stream.seek(0)
    return np.load(stream, allow_pickle=False)
