"""DataRecord block files, read and written whole: the records of files (raw, gzip or lzop; damage
an error naming the file and byte offset, or skipped and reported), and files written atomically
from serialized records. (Streaming writes with the original's side-file semantics are
twml.BlockFormatWriter's job; the tf.data source is twml.dataset.)"""

import gzip
import os
import sys
from typing import Iterable, Iterator, Optional, Sequence, TextIO

from libtwml import _core
from twml_common.atomic_files import write_file_atomically

#: The proto_class_name the block headers of DataRecord files carry.
RECORD_CLASS_NAME = "com.twitter.ml.api.DataRecord"

#: Block-file compressions the writers know; the file extension is "." + the name ("" for raw).
COMPRESSIONS = ("", "gz", "lzo")


def read_records(
    paths: Iterable[str], compression: str = "auto", skip_corrupt: bool = False, report: Optional[TextIO] = None
) -> Iterator[bytes]:
    """Records of block files; compression "auto" (by extension, or magic bytes), "" (raw), "gz" or "lzo".

    Without skip_corrupt, damage raises libtwml.Error (a ValueError) naming the file and byte
    offset, after every intact record before it. With skip_corrupt, damaged blocks, DataRecords
    that do not decode and bytes outside blocks are skipped, and each file with skips is reported
    on ``report`` (default stderr), also when the caller stops early and closes the generator.
    """
    for path in paths:
        if os.path.isdir(path):  # never "skipped" as damage: a directory is a usage error
            raise ValueError("%s: is a directory; give the files in it (e.g. %s)" % (path, os.path.join(path, "*")))
        reader = _core.BlockFileReader(path, compression, skip_corrupt=skip_corrupt)
        try:
            yield from reader
        finally:
            if reader.last_skip_message:
                (report or sys.stderr).write(
                    "skipped in %s: %d damaged blocks (after their intact records), %d records that do not "
                    "decode, %d bytes outside blocks; the last: %s\n"
                    % (
                        path,
                        reader.skipped_blocks,
                        reader.skipped_records,
                        reader.skipped_bytes,
                        reader.last_skip_message,
                    )
                )


def decode_records(paths: Iterable[str], compression: str = "auto", skip_corrupt: bool = False) -> Iterator[dict]:
    """The record dicts of block files of DataRecords (read as read_records reads them).

    A record that does not decode raises ValueError naming the file, the record's number and its
    block's offset (with skip_corrupt the reader has already dropped and counted such records).
    """
    for path in paths:
        records = read_records([path], compression, skip_corrupt)
        try:
            for number, data in enumerate(records, 1):
                try:
                    yield _core.decode_data_record(data)
                except ValueError as error:
                    raise ValueError("%s: record %d: %s" % (path, number, error)) from None
        finally:
            records.close()


def encode_block_file(records: Sequence[bytes], records_per_block: int = 100) -> bytes:
    """The bytes of a block file holding serialized `records`, `records_per_block` to a block."""
    return b"".join(
        _core.encode_block(RECORD_CLASS_NAME, list(records[i : i + records_per_block]))
        for i in range(0, len(records), records_per_block)
    )


def write_block_file(path: str, records: Sequence[bytes], records_per_block: int = 100, compression: str = "") -> None:
    """Write serialized records as a block file, atomically; compression "" (raw), "gz" or "lzo"
    (the lzop container real DataRecord files use)."""
    if compression not in COMPRESSIONS:
        raise ValueError("compression must be one of %s, not %r" % (", ".join(map(repr, COMPRESSIONS)), compression))
    data = encode_block_file(records, records_per_block)
    if compression == "gz":
        data = gzip.compress(data, mtime=0)
    elif compression == "lzo":
        data = _core.lzop_compress(data)
    write_file_atomically(path, data)
