"""twml.BlockFormatWriter: the §4 bytes, side-file behaviour, and reading back with BlockFormatDataset."""

import gc
import os

import pytest
import tensorflow as tf

import twml
from libtwml import _core

CLASS = "com.twitter.ml.api.DataRecord"
MARKER = bytes.fromhex("29d8d50658cd4c29b2bc57992171bdff")
HEADER = b"\x08\x01\x12\x1d" + CLASS.encode()
REFERENCE_FILE = (
    MARKER
    + b"\x2a\x00\x00\x00"
    + HEADER
    + b"\x1a\x02\x0b\x00"
    + b"\x1a\x03XYZ"
    + MARKER
    + b"\x24\x00\x00\x00"
    + HEADER
    + b"\x1a\x01Q"
)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def test_writes_the_reference_example(tmp_path):
    path = str(tmp_path / "part-00000")
    writer = twml.BlockFormatWriter(path, records_per_block=2)
    for record in [b"\x0b\x00", b"XYZ", b"Q"]:
        writer.write(CLASS, record)
    # Two records made block 1 (length 42); the third waits in the side file.
    assert read_bytes(path) == REFERENCE_FILE[:62]
    assert REFERENCE_FILE[16:20] == (42).to_bytes(4, "little")
    assert os.path.exists(path + ".block")
    writer.flush()
    assert read_bytes(path) == REFERENCE_FILE
    assert REFERENCE_FILE[62 + 16 : 62 + 20] == (36).to_bytes(4, "little")
    assert not os.path.exists(path + ".block")
    writer.flush()  # nothing pending: no empty block
    assert read_bytes(path) == REFERENCE_FILE
    assert _core.read_block_file(path) == [b"\x0b\x00", b"XYZ", b"Q"]


def test_default_records_per_block_is_100(tmp_path):
    path = str(tmp_path / "part")
    writer = twml.BlockFormatWriter(path)
    assert writer.records_per_block == 100 and writer.file_name == path
    records = [b"r%d" % i for i in range(250)]
    for record in records:
        writer.write(CLASS, record)
    writer.flush()
    writer.close()
    expected = b"".join(_core.encode_block(CLASS, records[i : i + 100]) for i in (0, 100, 200))
    assert read_bytes(path) == expected


def test_destruction_does_not_flush_and_a_new_writer_continues_the_block(tmp_path):
    path = str(tmp_path / "part")
    writer = twml.BlockFormatWriter(path, records_per_block=2)
    for record in [b"\x0b\x00", b"XYZ", b"Q"]:
        writer.write(CLASS, record)
    del writer
    gc.collect()
    assert os.path.exists(path + ".block")
    assert read_bytes(path) == REFERENCE_FILE[:62]
    writer = twml.BlockFormatWriter(path, records_per_block=2)
    writer.flush()
    assert read_bytes(path) == REFERENCE_FILE


def test_written_files_read_back_with_block_format_dataset(tmp_path):
    path = str(tmp_path / "part")
    records = [bytes([i % 256]) * (i % 50) for i in range(37)]
    writer = twml.BlockFormatWriter(path, records_per_block=5)
    for record in records:
        writer.write(CLASS, record)
    writer.flush()
    with tf.Graph().as_default():
        batch = tf.compat.v1.data.make_one_shot_iterator(twml.dataset.BlockFormatDataset(path).batch(100)).get_next()
        with tf.compat.v1.Session() as session:
            assert session.run(batch).tolist() == records


def test_bad_records_per_block_is_an_error(tmp_path):
    with pytest.raises(ValueError):
        twml.BlockFormatWriter(str(tmp_path / "part"), records_per_block=0)
