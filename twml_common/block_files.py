"""Writing whole DataRecord block files, atomically (a temporary name, then a rename), so a
reader never sees a partial file. (Streaming writes with the original's side-file semantics are
twml.BlockFormatWriter's job.)"""

import gzip
import os
import tempfile
from typing import Sequence

from libtwml import _core

#: The proto_class_name the block headers of DataRecord files carry.
RECORD_CLASS_NAME = "com.twitter.ml.api.DataRecord"

#: Block-file compressions the writers know; the file extension is "." + the name ("" for raw).
COMPRESSIONS = ("", "gz", "lzo")


def write_file_atomically(path: str, data: bytes) -> None:
    """Write `data` to a temporary file beside `path` and rename it over `path`."""
    handle, temporary = tempfile.mkstemp(
        dir=os.path.dirname(os.path.abspath(path)), prefix=".%s." % os.path.basename(path)
    )
    try:
        with os.fdopen(handle, "wb") as output:
            output.write(data)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


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
