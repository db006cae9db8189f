"""Arrow IPC frames read before decoding: how many rows and decoded bytes a stream's record
batches claim, from each message's metadata and the 8-byte length that prefixes every compressed
buffer, so a compressed body that would unpack past the limits is refused before it is unpacked.

The metadata is a FlatBuffers `Message` (format/Message.fbs); pyarrow verifies it when it reads a
message but exposes neither a batch's row count nor its buffers, so the few fields needed are read
here.
"""

import struct

import pyarrow as pa

HEADER, RECORD_BATCH, DICTIONARY_BATCH = 2, 3, 2
"""Field numbers: Message.header; MessageHeader union types RecordBatch and DictionaryBatch."""


def _table(data: bytes, at: int) -> tuple[int, int]:
    """(position, vtable position) of the table at `at`."""
    return at, at - struct.unpack_from("<i", data, at)[0]


def _field(data: bytes, table: tuple[int, int], index: int) -> int | None:
    """The position of field `index` of a table, or None when absent (its default)."""
    at, vtable = table
    vtable_size = struct.unpack_from("<H", data, vtable)[0]
    if 4 + 2 * index + 2 > vtable_size:
        return None
    offset = struct.unpack_from("<H", data, vtable + 4 + 2 * index)[0]
    return at + offset if offset else None


def _child(data: bytes, table: tuple[int, int], index: int) -> tuple[int, int] | None:
    where = _field(data, table, index)
    return None if where is None else _table(data, where + struct.unpack_from("<I", data, where)[0])


def claims(message: pa.ipc.Message) -> tuple[int, int]:
    """(rows, decoded bytes) a record or dictionary batch message claims (pure); (0, 0) for others.
    struct.error if its metadata is shorter than its offsets say."""
    data = message.metadata.to_pybytes()
    root = _table(data, struct.unpack_from("<I", data, 0)[0])
    kind = _field(data, root, 1)
    kind = data[kind] if kind is not None else 0
    header = _child(data, root, HEADER)
    if header is None or kind not in (RECORD_BATCH, DICTIONARY_BATCH):
        return 0, 0
    batch = header if kind == RECORD_BATCH else _child(data, header, 1)
    if batch is None:
        return 0, 0
    length = _field(data, batch, 0)
    rows = struct.unpack_from("<q", data, length)[0] if length is not None else 0
    return (rows if kind == RECORD_BATCH else 0), _decoded_bytes(data, batch, message)


def _decoded_bytes(data: bytes, batch: tuple[int, int], message: pa.ipc.Message) -> int:
    """The bytes a batch's buffers take once decoded: a compressed buffer (the batch names a codec)
    opens with its decompressed length, -1 when it was stored as is."""
    where = _field(data, batch, 2)
    if where is None:
        return 0
    vector = where + struct.unpack_from("<I", data, where)[0]
    count = struct.unpack_from("<I", data, vector)[0]
    compressed, body = _field(data, batch, 3) is not None, message.body
    total = 0
    for i in range(count):
        offset, size = struct.unpack_from("<qq", data, vector + 4 + 16 * i)
        if compressed and size >= 8:
            prefix = struct.unpack(
                "<q", body.slice(offset, 8).to_pybytes() if 0 <= offset <= body.size - 8 else b"\0" * 8
            )[0]
            size = size - 8 if prefix == -1 else prefix
        total += max(size, 0)
    return total
