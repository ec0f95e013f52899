"""Block-format files: the pybind11 core API and the BlockFormatDatasetV2 op (reference §4, §5.10).

Fixtures are written by the project's own writers (libtwml._core), never downloaded.
"""

import os
import re

import pytest
import tensorflow as tf

import libtwml
from libtwml import _core

CLASS = "com.twitter.ml.api.DataRecord"
MARKER = bytes.fromhex("29d8d50658cd4c29b2bc57992171bdff")

# Reference §4: the published writer with records_per_block=2 and records 0b 00, XYZ, Q.
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


def make_records(count, tag):
    # Sizes from 0 to a few KiB, so that varint lengths take one and two bytes.
    return [(tag + ":%d:" % i).encode() * (i % 300) for i in range(count)]


def write_raw(path, records, records_per_block=7):
    writer = _core.BlockWriter(str(path), records_per_block)
    for record in records:
        writer.write(CLASS, record)
    writer.flush()
    writer.close()
    return str(path)


def block_bytes(records, per_block=5):
    return b"".join(_core.encode_block(CLASS, records[i : i + per_block]) for i in range(0, len(records), per_block))


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def dataset(filenames, compression_type="auto", buffer_size=1 << 20):
    variant = libtwml.ops.block_format_dataset_v2(filenames, compression_type, buffer_size)
    return tf.data.experimental.from_variant(variant, structure=tf.TensorSpec([], tf.string))


def read(filenames, compression_type="auto", buffer_size=1 << 20):
    return [record.numpy() for record in dataset(filenames, compression_type, buffer_size)]


# --- The core through pybind11 ----------------------------------------------------------------


def test_encode_block_matches_the_reference_example():
    assert _core.encode_block(CLASS, [b"\x0b\x00", b"XYZ"]) + _core.encode_block(CLASS, [b"Q"]) == REFERENCE_FILE


def test_block_writer_writes_the_reference_example_and_keeps_unflushed_records(tmp_path):
    path = str(tmp_path / "reference")
    writer = _core.BlockWriter(path, records_per_block=2)
    assert writer.side_path == path + ".block"
    for record in [b"\x0b\x00", b"XYZ", b"Q"]:
        writer.write(CLASS, record)
    # The third record waits in the side file until flush().
    assert os.path.exists(path + ".block")
    with open(path, "rb") as f:
        assert f.read() == REFERENCE_FILE[:62]
    writer.close()  # closing does not flush
    assert os.path.exists(path + ".block")
    writer = _core.BlockWriter(path, records_per_block=2)
    writer.flush()
    writer.close()
    with open(path, "rb") as f:
        assert f.read() == REFERENCE_FILE
    assert not os.path.exists(path + ".block")
    with pytest.raises(libtwml.Error, match="closed"):
        writer.write(CLASS, b"x")


def test_block_file_reader_iterates_records_of_any_compression(tmp_path):
    records = make_records(50, "r")
    data = block_bytes(records)
    raw = write_bytes(tmp_path / "part", data)
    gz = write_bytes(tmp_path / "part.gz", _core.gzip_compress(data))
    lzo = write_bytes(tmp_path / "part.lzo", _core.lzop_compress(data, block_size=1000))
    for path in (raw, gz, lzo):
        reader = _core.BlockFileReader(path)
        assert iter(reader) is reader
        assert list(reader) == records
        assert reader.records_read == 50 and reader.class_name == CLASS.encode()
        assert _core.read_block_file(path) == records
    assert _core.decompress(_core.lzop_compress(data), "lzo") == data
    assert _core.decompress(_core.gzip_compress(data), "gz") == data


def test_core_errors_are_libtwml_errors(tmp_path):
    missing = str(tmp_path / "missing")
    with pytest.raises(libtwml.Error, match="cannot open '%s': No such file or directory" % re.escape(missing)):
        _core.BlockFileReader(missing)
    truncated = write_bytes(tmp_path / "truncated", REFERENCE_FILE[:-1])
    with pytest.raises(libtwml.Error, match="truncated block at byte 62: its length field declares 36 bytes"):
        _core.read_block_file(truncated)
    with pytest.raises(libtwml.Error, match="unknown compression_type 'zip'"):
        _core.BlockFileReader(truncated, "zip")
    with pytest.raises(libtwml.Error, match="not an lzop file"):
        _core.decompress(b"plain", "lzo")


# --- The BlockFormatDatasetV2 op ----------------------------------------------------------------


def test_reads_a_raw_file_written_by_the_block_writer(tmp_path):
    records = make_records(40, "raw")
    path = write_raw(tmp_path / "part-00000", records)
    assert read(path) == records
    assert read([path], "") == records


def test_reads_the_reference_example(tmp_path):
    path = write_bytes(tmp_path / "reference", REFERENCE_FILE)
    assert read(path) == [b"\x0b\x00", b"XYZ", b"Q"]


def test_reads_gzip_files(tmp_path):
    records = make_records(60, "gz")
    data = block_bytes(records)
    path = write_bytes(tmp_path / "part.gz", _core.gzip_compress(data))
    assert read(path) == records
    assert read(path, "gz", buffer_size=100) == records
    # Concatenated gzip members read as one stream.
    two = write_bytes(tmp_path / "two", _core.gzip_compress(data[:1000]) + _core.gzip_compress(data[1000:]))
    assert read(two, "gz") == records


def test_reads_lzo_files(tmp_path):
    records = make_records(60, "lzo")
    data = block_bytes(records)
    path = write_bytes(tmp_path / "part.lzo", _core.lzop_compress(data, block_size=4096))
    assert read(path) == records
    assert read(path, "lzo", buffer_size=0) == records
    crc = write_bytes(tmp_path / "crc", _core.lzop_compress(data, crc32=True, checksum_compressed=False))
    assert read(crc, "lzo") == records


def test_reads_several_files_in_order(tmp_path):
    raw_records = make_records(30, "a")
    gz_records = make_records(20, "b")
    lzo_records = make_records(25, "c")
    files = [
        write_raw(tmp_path / "0", raw_records),
        write_bytes(tmp_path / "1.gz", _core.gzip_compress(block_bytes(gz_records))),
        write_bytes(tmp_path / "2.lzo", _core.lzop_compress(block_bytes(lzo_records))),
        write_bytes(tmp_path / "3", b""),  # an empty file has no records
        write_raw(tmp_path / "4", raw_records[:3]),
    ]
    assert read(files) == raw_records + gz_records + lzo_records + raw_records[:3]
    assert read(tf.constant(files)) == raw_records + gz_records + lzo_records + raw_records[:3]


def test_composes_with_tf_data(tmp_path):
    records = make_records(23, "t")
    files = [write_raw(tmp_path / "a", records), write_raw(tmp_path / "b", records)]
    batches = [batch.numpy().tolist() for batch in dataset(files).batch(10)]
    assert [len(b) for b in batches] == [10, 10, 10, 10, 6]
    assert sum(batches, []) == records + records
    # One dataset per file inside a tf.data function, as stream_block_format_dataset does.
    per_file = tf.data.Dataset.from_tensor_slices(files).interleave(
        lambda f: dataset(f), cycle_length=1, block_length=1
    )
    assert [r.numpy() for r in per_file] == records + records


def test_graph_mode_session(tmp_path):
    records = make_records(5, "g")
    path = write_raw(tmp_path / "g", records)
    with tf.Graph().as_default():
        iterator = tf.compat.v1.data.make_initializable_iterator(dataset(path))
        record = iterator.get_next()
        assert record.shape.as_list() == [] and record.dtype == tf.string
        with tf.compat.v1.Session() as session:
            session.run(iterator.initializer)
            assert [session.run(record) for _ in records] == records
            with pytest.raises(tf.errors.OutOfRangeError):
                session.run(record)


def test_iterator_checkpoint_resumes_at_the_same_record(tmp_path):
    records = make_records(12, "k")
    files = [write_raw(tmp_path / "a", records, 5), write_raw(tmp_path / "b", records, 5)]
    iterator = iter(dataset(files))
    checkpoint = tf.train.Checkpoint(iterator=iterator)
    for _ in range(15):
        next(iterator)
    saved = checkpoint.save(str(tmp_path / "ckpt"))
    rest = [r.numpy() for r in iterator]
    assert rest == records[3:]
    checkpoint.restore(saved)
    assert [r.numpy() for r in iterator] == records[3:]


def test_dataset_round_trips_through_its_graph_def(tmp_path):
    # tf.data's graph rewrites and tf.data service serialize datasets with AsGraphDef.
    records = make_records(9, "s")
    path = write_bytes(tmp_path / "s.gz", _core.gzip_compress(block_bytes(records)))
    variant = libtwml.ops.block_format_dataset_v2(path, "auto", 123)
    serialized = tf.raw_ops.DatasetToGraphV2(input_dataset=variant)
    graph_def = tf.compat.v1.GraphDef.FromString(serialized.numpy())
    assert "BlockFormatDatasetV2" in {node.op for node in graph_def.node}
    restored = tf.raw_ops.DatasetFromGraph(graph_def=serialized)
    spec = tf.TensorSpec([], tf.string)
    assert [r.numpy() for r in tf.data.experimental.from_variant(restored, structure=spec)] == records


def test_bad_compression_type_is_invalid_argument(tmp_path):
    path = write_raw(tmp_path / "part", [b"x"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="unknown compression_type 'zip': expected \"auto\""):
        read(path, "zip")
    txt = write_raw(tmp_path / "part.txt", [b"x"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown extension 'txt'"):
        read(txt)
    assert read(txt, "") == [b"x"]


def test_bad_arguments_are_invalid_argument(tmp_path):
    path = write_raw(tmp_path / "part", [b"x"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="buffer_size must be >= 0"):
        read(path, "", -1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="filenames must be a scalar or a vector, not of shape"):
        read([[path]])
    # In a graph the shape function refuses it first.
    with tf.Graph().as_default(), pytest.raises(ValueError, match="must be at most rank 1"):
        libtwml.ops.block_format_dataset_v2([[path]], "", 0)


def test_missing_file_is_not_found(tmp_path):
    good = write_raw(tmp_path / "good", [b"x"])
    missing = str(tmp_path / "missing")
    it = iter(dataset([good, missing]))
    assert next(it).numpy() == b"x"
    with pytest.raises(tf.errors.NotFoundError, match="BlockFormatDatasetV2 cannot open '%s'" % re.escape(missing)):
        next(it)


def test_corrupt_files_are_data_loss(tmp_path):
    truncated = write_bytes(tmp_path / "truncated", REFERENCE_FILE[:-1])
    it = iter(dataset(truncated))
    # The first block is whole; the second is cut short.
    assert [next(it).numpy() for _ in range(2)] == [b"\x0b\x00", b"XYZ"]
    with pytest.raises(
        tf.errors.DataLossError,
        match="%s: truncated block at byte 62: its length field declares 36 bytes, but the data ends after 35"
        % re.escape(truncated),
    ):
        next(it)

    gz = _core.gzip_compress(REFERENCE_FILE)
    corrupt_gz = write_bytes(tmp_path / "corrupt.gz", gz[:20] + bytes([gz[20] ^ 0xFF]) + gz[21:])
    with pytest.raises(tf.errors.DataLossError, match="%s: corrupt gzip data in member 1" % re.escape(corrupt_gz)):
        read(corrupt_gz)

    lzo = bytearray(_core.lzop_compress(REFERENCE_FILE))
    lzo[46] ^= 1  # the adler32 of the first block's data
    corrupt_lzo = write_bytes(tmp_path / "corrupt.lzo", bytes(lzo))
    message = "%s: adler32 checksum mismatch in the lzop block" % re.escape(corrupt_lzo)
    with pytest.raises(tf.errors.DataLossError, match=message):
        read(corrupt_lzo)

    bad_version = write_bytes(tmp_path / "bad_version", MARKER + b"\x05\x00\x00\x00\x08\x02\x12\x01c")
    with pytest.raises(tf.errors.DataLossError, match="corrupt block at byte 0: unsupported version 2"):
        read(bad_version)
