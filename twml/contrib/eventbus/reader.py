"""Binary record readers: the abstract :class:`BinaryRecordReader`, :class:`ReadableWrapper`, and the
internal-only :class:`EventBusPipedBinaryRecordReader`."""

import logging
from typing import Any, Optional

_LOG = logging.getLogger(__name__)


class BinaryRecordReader:
    """A source of serialized records: ``initialize()``, ``read()`` -> one record's bytes, ``close()``."""

    def initialize(self) -> None:
        """Prepares the source (nothing by default)."""

    def read(self) -> bytes:
        """The bytes of the next record.

        Raises:
          NotImplementedError: in this abstract class.
        """
        raise NotImplementedError("BinaryRecordReader.read must be implemented by a subclass")

    def close(self) -> None:
        """Releases the source (nothing by default)."""


class ReadableWrapper:
    """Forwards every attribute to ``internal`` and answers ``readable() -> True`` (so that
    ``io.BufferedReader`` can wrap a pipe)."""

    def __init__(self, internal: Any) -> None:
        self.internal = internal

    def readable(self) -> bool:
        """Always True."""
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.internal, name)


class EventBusPipedBinaryRecordReader(BinaryRecordReader):
    """Twitter-internal: records from an EventBus subscriber (a Java jar) through a pipe.

    Records are separated by :data:`RECORD_SEPARATOR` (16 bytes). Constructing it works; using it
    raises, because the EventBus subscriber and its JVM are Twitter-internal.
    """

    JAVA = "java"
    RECORD_SEPARATOR_HEX = [
        0x29,
        0xD8,
        0xD5,
        0x06,
        0x58,
        0xCD,
        0x4C,
        0x29,
        0xB2,
        0xBC,
        0x57,
        0x99,
        0x21,
        0x71,
        0xBD,
        0xFF,
    ]
    RECORD_SEPARATOR = bytes(RECORD_SEPARATOR_HEX)
    RECORD_SEPARATOR_LENGTH = len(RECORD_SEPARATOR)
    CHUNK_SIZE = 8192

    def __init__(
        self,
        jar_file: str,
        num_eb_threads: int,
        subscriber_id: str,
        filter_str: Optional[str] = None,
        buffer_size: int = 32768,
        debug: bool = False,
    ) -> None:
        self.jar_file = jar_file
        self.num_eb_threads = num_eb_threads
        self.subscriber_id = subscriber_id
        self.filter_str = filter_str
        self.buffer_size = buffer_size
        self.debug = debug

    def unavailable_error(self) -> RuntimeError:
        return RuntimeError(
            "EventBusPipedBinaryRecordReader needs Twitter's internal EventBus subscriber (a Java jar and its "
            "pub/sub service), which is not available outside Twitter; read DataRecord block files with "
            "twml.input_fns.data_record_input_fn, or subclass twml.contrib.eventbus.reader.BinaryRecordReader "
            "for your own record stream"
        )

    def initialize(self) -> None:
        """Raises RuntimeError naming EventBus (internal-only)."""
        raise self.unavailable_error()

    def read(self) -> bytes:
        """Raises RuntimeError naming EventBus (internal-only)."""
        raise self.unavailable_error()


__all__ = ["BinaryRecordReader", "EventBusPipedBinaryRecordReader", "ReadableWrapper"]
