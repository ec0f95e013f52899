"""skip_corrupt: corrupt blocks dropped and counted by BlockFileReader and BlockFormatDatasetV2.

Files are written by the project's own BlockWriter; the tests then corrupt their bytes.
"""

import pytest
import tensorflow as tf

import libtwml
from libtwml import _core

CLASS = "test.Bytes"  # records that are not DataRecords: skip mode checks only DataRecord blocks
MARKER = bytes.fromhex("29d8d50658cd4c29b2bc57992171bdff")
RECORDS = [b"record %d" % i * (i + 1) for i in range(20)]  # 4 blocks of 5


def write_file(path, records=RECORDS, per_block=5):
    writer = _core.BlockWriter(str(path), per_block)
    for record in records:
        writer.write(CLASS, record)
    writer.flush()
    writer.close()
    with open(str(path), "rb") as f:
        return f.read()


def markers(data):
    offsets, at = [], data.find(MARKER)
    while at >= 0:
        offsets.append(at)
        at = data.find(MARKER, at + 1)
    return offsets


def write_bytes(path, data):
    with open(str(path), "wb") as f:
        f.write(data)
    return str(path)


def huge_length_file(tmp_path, name="huge"):
    """Block 2's length field says 2 GiB: it swallows blocks 3 and 4, which a rescan finds.

    Block 2's own records are intact: they are delivered before the damage is reported."""
    data = bytearray(write_file(tmp_path / (name + ".src")))
    second = markers(bytes(data))[1]
    data[second + 16 : second + 20] = b"\xff\xff\xff\x7f"
    return write_bytes(tmp_path / name, bytes(data))


def dataset(filenames, compression_type="auto", buffer_size=0, **attrs):
    variant = libtwml.ops.block_format_dataset_v2(filenames, compression_type, buffer_size, **attrs)
    return tf.data.experimental.from_variant(variant, structure=tf.TensorSpec([], tf.string))


def test_block_file_reader_skips_and_counts(tmp_path):
    path = huge_length_file(tmp_path)
    with pytest.raises(libtwml.Error, match="truncated block at byte"):
        list(_core.BlockFileReader(path))
    reader = _core.BlockFileReader(path, skip_corrupt=True)
    assert reader.skip_corrupt and reader.skipped_blocks == 0
    assert list(reader) == RECORDS
    assert (reader.skipped_blocks, reader.skipped_records, reader.skipped_bytes) == (1, 0, 0)
    assert "declares 2147483647 bytes" in reader.last_skip_message
    with pytest.raises(AttributeError):
        reader.skipped_blocks = 0
    # Positional arguments keep their meaning.
    assert list(_core.BlockFileReader(path, "", 4096, True)) == RECORDS
    # Without skip mode the intact records come first, then the error.
    strict = _core.BlockFileReader(path)
    assert [next(strict) for _ in range(10)] == RECORDS[:10]
    with pytest.raises(libtwml.Error, match="truncated block at byte"):
        next(strict)


def test_read_batch_reads_as_iteration_does(tmp_path):
    path = write_bytes(tmp_path / "good", write_file(tmp_path / "src"))
    reader = _core.BlockFileReader(path)
    assert reader.read_batch(7) == RECORDS[:7]
    assert reader.read_batch(100) == RECORDS[7:]
    assert reader.read_batch(5) == []
    strict = _core.BlockFileReader(huge_length_file(tmp_path))
    assert strict.read_batch(15) == RECORDS[:10]  # the intact records, then the damage
    with pytest.raises(libtwml.Error, match="truncated block"):
        strict.read_batch(10)


def test_read_request_packs_the_records_into_a_batch_prediction_request(tmp_path):
    path = write_bytes(tmp_path / "good", write_file(tmp_path / "src"))
    reader = _core.BlockFileReader(path)
    request, count = reader.read_request(7)
    assert count == 7 and request == _core.encode_batch_prediction_request(RECORDS[:7])
    request, count = reader.read_request(100)
    assert count == 13 and request == _core.encode_batch_prediction_request(RECORDS[7:])
    assert reader.read_request(5) == (_core.encode_batch_prediction_request([]), 0)


def test_block_file_reader_ends_a_corrupt_gzip_stream(tmp_path):
    data = write_file(tmp_path / "src", [b"%06d" % i * 40 for i in range(2000)], 10)
    gz = _core.gzip_compress(data, 1)
    path = write_bytes(tmp_path / "cut.gz", gz[: len(gz) // 2])
    reader = _core.BlockFileReader(path, skip_corrupt=True)
    records = list(reader)
    assert 0 < len(records) < 2000
    assert records == [b"%06d" % i * 40 for i in range(len(records))]
    assert reader.skipped_blocks == 1
    assert reader.last_skip_message.startswith(path + ": truncated gzip data")


def test_dataset_fails_by_default_and_skips_when_asked(tmp_path, capfd):
    path = huge_length_file(tmp_path)
    with pytest.raises(tf.errors.DataLossError, match="truncated block"):
        list(dataset(path))
    good = write_bytes(tmp_path / "good", write_file(tmp_path / "good.src"))
    got = [r.numpy() for r in dataset([path, good], skip_corrupt=True)]
    assert got == RECORDS + RECORDS
    err = capfd.readouterr().err
    assert (
        "BlockFormatDatasetV2: skipped 1 damaged blocks (after their intact records), 0 records that do not "
        "decode and 0 bytes outside blocks in '%s'; the last: %s: truncated block at byte" % (path, path)
    ) in err
    assert "'%s'" % good not in err


def test_skip_corrupt_survives_graph_serialization(tmp_path):
    path = huge_length_file(tmp_path)
    variant = libtwml.ops.block_format_dataset_v2(path, "auto", 0, skip_corrupt=True)
    serialized = tf.raw_ops.DatasetToGraphV2(input_dataset=variant)
    graph_def = tf.compat.v1.GraphDef.FromString(serialized.numpy())
    (node,) = [n for n in graph_def.node if n.op == "BlockFormatDatasetV2"]
    assert node.attr["skip_corrupt"].b
    spec = tf.TensorSpec([], tf.string)
    restored = tf.raw_ops.DatasetFromGraph(graph_def=serialized)
    records = [r.numpy() for r in tf.data.experimental.from_variant(restored, structure=spec)]
    assert records == RECORDS

    # A graph from before the attr existed (no skip_corrupt on the node) still loads, strict.
    del node.attr["skip_corrupt"]
    old = tf.raw_ops.DatasetFromGraph(graph_def=graph_def.SerializeToString())
    with pytest.raises(tf.errors.DataLossError):
        list(tf.data.experimental.from_variant(old, structure=spec))


def test_checkpoint_restores_in_skip_mode(tmp_path):
    path = huge_length_file(tmp_path)
    iterator = iter(dataset(path, skip_corrupt=True))
    checkpoint = tf.train.Checkpoint(iterator=iterator)
    for _ in range(12):  # past the damaged block
        next(iterator)
    saved = checkpoint.save(str(tmp_path / "ckpt"))
    expected = RECORDS[12:]
    assert [r.numpy() for r in iterator] == expected
    checkpoint.restore(saved)
    assert [r.numpy() for r in iterator] == expected


def data_record_file(tmp_path, name, records, per_block=4):
    writer = _core.BlockWriter(str(tmp_path / name), per_block)
    for record in records:
        writer.write("com.twitter.ml.api.DataRecord", record)
    writer.flush()
    writer.close()
    return str(tmp_path / name)


def test_skip_mode_drops_data_records_that_do_not_decode(tmp_path, capfd):
    good = [_core.encode_data_record({"binary": [i]}) for i in range(8)]
    bad = b"\x0e\x00\x01\x0a\x7f\xff\xff\xff"  # a set declaring 2^31 - 1 ids in 4 bytes
    path = data_record_file(tmp_path, "records", good[:3] + [bad] + good[3:])
    # Without skip mode the bytes are records; decoding the bad one is the decoder's error.
    assert len(list(_core.BlockFileReader(path))) == 9
    reader = _core.BlockFileReader(path, skip_corrupt=True)
    assert list(reader) == good
    assert (reader.skipped_blocks, reader.skipped_records) == (0, 1)
    assert reader.last_skip_message.startswith(path + ": record 4 of the block at byte 0 (its bytes at byte ")
    assert "is not a valid DataRecord: binaryFeatures: 2147483647 elements cannot fit" in reader.last_skip_message
    assert [r.numpy() for r in dataset(path, skip_corrupt=True)] == good
    assert "1 records that do not decode" in capfd.readouterr().err


def test_a_flipped_marker_bit_is_reported_and_skipped(tmp_path):
    data = bytearray(write_file(tmp_path / "src"))
    second = markers(bytes(data))[1]
    data[second + 5] ^= 0x04
    path = write_bytes(tmp_path / "flipped", bytes(data))
    with pytest.raises(libtwml.Error, match="bytes at byte %d are not part of any block" % second):
        list(_core.BlockFileReader(path))
    with pytest.raises(tf.errors.DataLossError, match="are not part of any block"):
        list(dataset(path))
    reader = _core.BlockFileReader(path, skip_corrupt=True)
    assert list(reader) == RECORDS[:5] + RECORDS[10:]
    assert reader.skipped_bytes == markers(bytes(data))[1] - second


def test_a_file_that_is_no_block_file_is_an_error(tmp_path):
    for name, content in [("zeros", bytes(1 << 16)), ("png", b"\x89PNG\r\n\x1a\n" + bytes(100))]:
        path = write_bytes(tmp_path / name, content)
        for skip in (False, True):
            with pytest.raises(libtwml.Error, match="no block in its %d bytes: not a block file" % len(content)):
                list(_core.BlockFileReader(path, skip_corrupt=skip))
        with pytest.raises(tf.errors.DataLossError, match="not a block file"):
            list(dataset(path, skip_corrupt=True))


def test_gzip_data_without_its_extension_is_read_by_its_magic_bytes(tmp_path):
    path = write_bytes(tmp_path / "part-00000", _core.gzip_compress(write_file(tmp_path / "src"), 6))
    assert list(_core.BlockFileReader(path)) == RECORDS
    assert [r.numpy() for r in dataset(path)] == RECORDS
