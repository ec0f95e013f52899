"""twml.dataset's skip_corrupt: corrupt blocks of synthetic files are dropped, not fatal."""

import pytest
import tensorflow as tf

from libtwml import _core
from tools.light_ranker import synthetic_data
from twml.dataset import BlockFormatDataset, stream_block_format_dataset

MARKER = bytes.fromhex("29d8d50658cd4c29b2bc57992171bdff")
PER_BLOCK = 10


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two files of 4 blocks; the first has its second block's version byte corrupted."""
    paths = synthetic_data.write_dataset(
        str(tmp_path_factory.mktemp("skip")), num_files=2, records_per_file=40, records_per_block=PER_BLOCK
    )
    with open(paths[0], "rb") as f:
        data = bytearray(f.read())
    second = data.find(MARKER, data.find(MARKER) + 1)
    data[second + 16 + 4 + 1] = 7  # after marker and length: the version varint
    with open(paths[0], "wb") as f:
        f.write(bytes(data))
    return paths


def records_of(path, **kwargs):
    return list(_core.BlockFileReader(path, **kwargs))


def run_all(make_dataset):
    """Every element of the dataset make_dataset() builds, read in a graph session (twml is
    graph-mode)."""
    with tf.Graph().as_default():
        element = tf.compat.v1.data.make_one_shot_iterator(make_dataset()).get_next()
        out = []
        with tf.compat.v1.Session() as session:
            while True:
                try:
                    out.append(session.run(element))
                except tf.errors.OutOfRangeError:
                    return out


def test_block_format_dataset_skip_corrupt(files):
    with pytest.raises(tf.errors.DataLossError, match="unsupported version 7"):
        run_all(lambda: BlockFormatDataset(files[0]))
    expected = records_of(files[0], skip_corrupt=True) + records_of(files[1])
    assert len(expected) == 70
    assert run_all(lambda: BlockFormatDataset(files, skip_corrupt=True)) == expected
    # The keyword comes last: positional callers keep their meaning.
    assert run_all(lambda: BlockFormatDataset(files, "auto", 4096, True)) == expected


def test_stream_block_format_dataset_skip_corrupt(files):
    def parse(batch):
        return batch

    def read(**kwargs):
        batches = run_all(
            lambda: stream_block_format_dataset(
                files,
                parse,
                batch_size=8,
                num_threads=1,
                shuffle=False,
                shuffle_files=False,
                interleave=False,
                **kwargs,
            )
        )
        return [r for batch in batches for r in batch]

    with pytest.raises(tf.errors.DataLossError):
        read()
    assert read(skip_corrupt=True) == records_of(files[0], skip_corrupt=True) + records_of(files[1])
