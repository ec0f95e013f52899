"""skip_corrupt: corrupt blocks dropped and counted by BlockFileReader and BlockFormatDatasetV2.

Files are written by the project's own BlockWriter; the tests then corrupt their bytes.
"""

import sys

import pytest
import tensorflow as tf

import libtwml
from libtwml import _core

CLASS = "com.twitter.ml.api.DataRecord"
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
    """Block 2's length field says 2 GiB: it swallows blocks 3 and 4, which a rescan finds."""
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
    assert list(reader) == RECORDS[:5] + RECORDS[10:]
    assert (reader.skipped_blocks, reader.skipped_records) == (1, 5)
    assert "declares 2147483647 bytes" in reader.last_skip_message
    with pytest.raises(AttributeError):
        reader.skipped_blocks = 0
    # Positional arguments keep their meaning.
    assert list(_core.BlockFileReader(path, "", 4096, True)) == RECORDS[:5] + RECORDS[10:]


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
    assert got == RECORDS[:5] + RECORDS[10:] + RECORDS
    err = capfd.readouterr().err
    assert "BlockFormatDatasetV2: skipped 1 corrupt blocks (5 records known to be in them) in '%s'" % path in err
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
    assert records == RECORDS[:5] + RECORDS[10:]

    # A graph from before the attr existed (no skip_corrupt on the node) still loads, strict.
    del node.attr["skip_corrupt"]
    old = tf.raw_ops.DatasetFromGraph(graph_def=graph_def.SerializeToString())
    with pytest.raises(tf.errors.DataLossError):
        list(tf.data.experimental.from_variant(old, structure=spec))


def test_checkpoint_restores_in_skip_mode(tmp_path):
    path = huge_length_file(tmp_path)
    iterator = iter(dataset(path, skip_corrupt=True))
    checkpoint = tf.train.Checkpoint(iterator=iterator)
    for _ in range(7):  # past the dropped block
        next(iterator)
    saved = checkpoint.save(str(tmp_path / "ckpt"))
    expected = (RECORDS[:5] + RECORDS[10:])[7:]
    assert [r.numpy() for r in iterator] == expected
    checkpoint.restore(saved)
    assert [r.numpy() for r in iterator] == expected


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-p", "no:cacheprovider", "-q"]))
