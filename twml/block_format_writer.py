"""twml.BlockFormatWriter: writes block-format record files (reference §4)."""

from libtwml import _core


class BlockFormatWriter:
    """Appends serialized records to a block-format file, like the original's writer.

    Records of the current block wait in a side file ``<file_name>.block``; every
    ``records_per_block`` records, or on :meth:`flush`, they become one block of ``file_name``
    (sync marker, little-endian length, ``SerializedBlock`` payload) and the side file is deleted.

    **Destroying the writer does not flush**, as in the original: call :meth:`flush` when done.
    Unflushed records stay in the side file, and a later writer of the same file continues that
    block.

    Args:
      file_name: path of the block file (opened for appending; local file system).
      records_per_block: records per block, > 0 (default 100).

    Raises:
      libtwml.Error (a ValueError): the file cannot be opened, or records_per_block is invalid.
    """

    def __init__(self, file_name: str, records_per_block: int = 100) -> None:
        self.file_name = file_name
        self.records_per_block = records_per_block
        self._writer = _core.BlockWriter(str(file_name), int(records_per_block))

    def write(self, class_name: str, record: bytes) -> None:
        """Adds one serialized record (e.g. a Thrift DataRecord) of class ``class_name``.

        Args:
          class_name: the record class written into each block header, e.g.
            ``"com.twitter.ml.api.DataRecord"``.
          record: the serialized record, ``bytes``.
        """
        self._writer.write(class_name, record)

    def flush(self) -> None:
        """Writes the records of the side file, if any, as one block, and deletes the side file."""
        self._writer.flush()

    def close(self) -> None:
        """Closes the file without flushing (unflushed records stay in the side file)."""
        self._writer.close()


__all__ = ["BlockFormatWriter"]
