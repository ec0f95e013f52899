"""twml.dataset and twml.input_fns over synthetic DataRecord files, in graph mode."""

import collections

import numpy as np
import pytest
import tensorflow as tf

import libtwml
import twml
from libtwml import _core
from tools.light_ranker import synthetic_data
from twml.dataset import BlockFormatDataset, downsample_dataset, stream_block_format_dataset
from twml.input_fns import data_record_input_fn, default_input_fn


@pytest.fixture(scope="module")
def raw_files(tmp_path_factory):
    return synthetic_data.write_dataset(str(tmp_path_factory.mktemp("raw")), num_files=4, records_per_file=60)


@pytest.fixture(scope="module")
def gz_files(tmp_path_factory):
    return synthetic_data.write_dataset(
        str(tmp_path_factory.mktemp("gz")), num_files=3, records_per_file=40, seed=1, compression="gz"
    )


def records_of(files):
    return [record for path in files for record in _core.read_block_file(path)]


def run_all(make_dataset):
    """Every element of the dataset make_dataset() builds, read in a graph session."""
    with tf.Graph().as_default():
        element = tf.compat.v1.data.make_one_shot_iterator(make_dataset()).get_next()
        out = []
        with tf.compat.v1.Session() as session:
            while True:
                try:
                    out.append(session.run(element))
                except tf.errors.OutOfRangeError:
                    return out


def flat(batches):
    return [record for batch in batches for record in batch.tolist()]


def identity(batch):
    return batch


def test_block_format_dataset_is_a_dataset_of_scalar_strings(raw_files):
    with tf.Graph().as_default():
        dataset = BlockFormatDataset(raw_files)
        assert isinstance(dataset, tf.data.Dataset)
        assert dataset.element_spec == tf.TensorSpec([], tf.string)
        assert tf.compat.v1.data.get_output_shapes(dataset).as_list() == []


def test_block_format_dataset_reads_exactly_the_records(raw_files, gz_files):
    assert run_all(lambda: BlockFormatDataset(raw_files[0])) == _core.read_block_file(raw_files[0])
    assert run_all(lambda: BlockFormatDataset(raw_files)) == records_of(raw_files)
    assert run_all(lambda: BlockFormatDataset(gz_files)) == records_of(gz_files)
    assert run_all(lambda: BlockFormatDataset(gz_files, compression_type="GZ", buffer_size=64)) == records_of(gz_files)
    assert run_all(lambda: BlockFormatDataset(tf.constant(raw_files[:2]), "")) == records_of(raw_files[:2])
    # The records are DataRecords of the generator.
    assert _core.decode_data_record(records_of(gz_files)[0])["binary"] is not None


def test_stream_without_shuffling_keeps_file_order(raw_files):
    kwargs = dict(parse_fn=identity, batch_size=25, num_threads=2, shuffle=False, shuffle_files=False)
    batches = run_all(lambda: stream_block_format_dataset(raw_files, interleave=False, **kwargs))
    assert [len(b) for b in batches] == [25] * 9 + [15]
    assert flat(batches) == records_of(raw_files)
    # Interleaving two files, block_length records at a time.
    batches = run_all(lambda: stream_block_format_dataset(raw_files[:2], block_length=10, **kwargs))
    a, b = (_core.read_block_file(f) for f in raw_files[:2])
    expected = [r for i in range(0, 60, 10) for r in a[i : i + 10] + b[i : i + 10]]
    assert flat(batches) == expected


def test_stream_with_shuffling_reads_every_record_once(raw_files, gz_files):
    files = raw_files + gz_files
    batches = run_all(lambda: stream_block_format_dataset(files, identity, batch_size=32, num_threads=2))
    records = flat(batches)
    assert collections.Counter(records) == collections.Counter(records_of(files))
    assert records != records_of(files)


def test_shards_are_disjoint_and_complete(raw_files):
    shards = [
        collections.Counter(
            flat(run_all(lambda i=i: stream_block_format_dataset(raw_files, identity, 16, 2, shards=3, shard_index=i)))
        )
        for i in range(3)
    ]
    for i in range(3):
        assert collections.Counter(records_of(raw_files[i::3])) == shards[i]
        for j in range(i):
            assert not set(shards[i]) & set(shards[j])
    assert sum(shards, collections.Counter()) == collections.Counter(records_of(raw_files))


def test_repeat_goes_on(raw_files):
    def make():
        return stream_block_format_dataset(raw_files[:1], identity, 50, 1, repeat=True).take(5)

    assert len(flat(run_all(make))) == 250


def test_keep_rate_and_parts_downsampling_change_counts(raw_files, tmp_path):
    records = len(records_of(raw_files))  # 240
    kept = len(flat(run_all(lambda: stream_block_format_dataset(raw_files, identity, 50, 2, keep_rate=0.5))))
    assert abs(kept - records * 0.5) < 5 * np.sqrt(records * 0.25)
    assert len(flat(run_all(lambda: stream_block_format_dataset(raw_files, identity, 50, 2, keep_rate=1.0)))) == records
    # 40 files of 5 records: whole files are kept or dropped.
    files = synthetic_data.write_dataset(str(tmp_path), num_files=40, records_per_file=5)
    kept = len(flat(run_all(lambda: stream_block_format_dataset(files, identity, 50, 2, parts_downsampling_rate=0.3))))
    assert kept % 5 == 0 and abs(kept / 5 - 12) < 5 * np.sqrt(40 * 0.21)
    kept = len(run_all(lambda: downsample_dataset(BlockFormatDataset(files), 0.25, "rate")))
    assert abs(kept - 50) < 5 * np.sqrt(200 * 0.1875)


@pytest.mark.parametrize("rate", [0, 0.0, -0.5, 1.5, "0.5", None, True])
def test_bad_rates_raise(raw_files, rate):
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="my_rate must be a number in \\(0, 1\\]"):
            downsample_dataset(BlockFormatDataset(raw_files), rate, "my_rate")
        if rate is not None:
            with pytest.raises(ValueError, match="keep_rate must be a number in \\(0, 1\\]"):
                stream_block_format_dataset(raw_files, identity, 10, 1, keep_rate=rate)
            with pytest.raises(ValueError, match="parts_downsampling_rate must be a number in \\(0, 1\\]"):
                stream_block_format_dataset(raw_files, identity, 10, 1, parts_downsampling_rate=rate)


def test_dataset_fn_replaces_batching_and_parsing(raw_files):
    calls = []

    def dataset_fn(dataset, parse_fn, batch_size):
        calls.append((parse_fn, batch_size))
        return dataset.batch(batch_size * 2)

    batches = run_all(lambda: stream_block_format_dataset(raw_files, identity, 7, 2, dataset_fn=dataset_fn))
    assert calls == [(identity, 7)]
    assert [len(b) for b in batches] == [14] * 17 + [2]


def test_empty_files_and_zookeeper_dataset_raise():
    with pytest.raises(ValueError, match="files list cannot be empty"):
        stream_block_format_dataset([], identity, 10, 1)
    # one implementation (twml.zookeeper), re-exported where the original had it
    assert twml.dataset.zookeeper_ordered_dataset is twml.zookeeper.zookeeper_ordered_dataset
    assert twml.dataset.cx_zk_path is twml.zookeeper.cx_zk_path is twml.cx_zk_path
    with pytest.raises(ImportError, match="kazoo"):
        twml.dataset.zookeeper_ordered_dataset(["f"], identity, 10, "/counter")


# --- data_record_input_fn ------------------------------------------------------------------------

DATA = synthetic_data.LightRankerData(0)
LABEL_IDS = [DATA.ids[name] for name in synthetic_data.LABELS]
KEEP = [
    i for name, i in sorted(DATA.ids.items()) if name not in synthetic_data.LABELS and name != synthetic_data.WEIGHT
]
CODES = [k % 3 for k in range(len(KEEP))]


def hashed_parse_fn(serialized):
    handle = libtwml.ops.decode_and_hash_data_record(
        serialized,
        keep_features=KEEP,
        keep_codes=CODES,
        label_features=LABEL_IDS,
        weight_features=[DATA.ids[synthetic_data.WEIGHT]],
    )
    ops = libtwml.ops
    features = {
        "ids": ops.get_ids_from_hashed_data_record(handle),
        "keys": ops.get_keys_from_hashed_data_record(handle),
        "values": ops.get_values_from_hashed_data_record(handle),
        "codes": ops.get_codes_from_hashed_data_record(handle),
        "types": ops.get_types_from_hashed_data_record(handle),
        "batch_size": ops.get_batch_size_from_hashed_data_record(handle),
        "weights": ops.get_weights_from_hashed_data_record(handle),
    }
    return features, ops.get_labels_from_hashed_data_record(handle, default_label=0.0)


def check_against_core(batches, records):
    row = 0
    for features, labels in batches:
        size = int(features["batch_size"])
        assert labels.shape == (size, len(LABEL_IDS))
        for i in range(size):
            expected = _core.decode_hashed_data_record(
                records[row], KEEP, CODES, LABEL_IDS, [DATA.ids[synthetic_data.WEIGHT]]
            )
            mine = features["ids"] == i
            assert mine.sum() == len(expected["keys"]) > 0
            for column in ("keys", "values", "codes", "types"):
                # The op's values are float32; the core's are the records' doubles.
                want = np.asarray(expected[column]).astype(features[column].dtype)
                np.testing.assert_array_equal(features[column][mine], want)
            # The core leaves missing labels NaN; the op writes default_label (0) there.
            np.testing.assert_array_equal(labels[i], np.nan_to_num(np.asarray(expected["labels"]).reshape(-1), nan=0.0))
            np.testing.assert_array_equal(features["weights"][i], np.asarray(expected["weights"]).reshape(-1))
            row += 1
    assert row == len(records)


@pytest.mark.parametrize("initializable", [False, True])
def test_data_record_input_fn_yields_the_decoded_records(gz_files, initializable):
    records = records_of(gz_files)
    with tf.Graph().as_default():
        features, labels = data_record_input_fn(
            gz_files,
            16,
            hashed_parse_fn,
            shuffle=False,
            shuffle_files=False,
            interleave=False,
            initializable=initializable,
        )
        assert features["keys"].dtype == tf.int64 and labels.dtype == tf.float32
        initializers = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.TABLE_INITIALIZERS)
        assert len(initializers) == (1 if initializable else 0)
        batches = []
        with tf.compat.v1.Session() as session:
            session.run(initializers)
            while True:
                try:
                    batches.append(session.run((features, labels)))
                except tf.errors.OutOfRangeError:
                    break
    assert [int(f["batch_size"]) for f, _ in batches] == [16] * 7 + [8]
    check_against_core(batches, records)


def test_default_input_fn_is_the_alias_and_shuffles(raw_files):
    assert default_input_fn is data_record_input_fn
    with tf.Graph().as_default():
        batch = default_input_fn(raw_files, 30, identity, keep_rate=1.0, shards=2, shard_index=1)
        records = []
        with tf.compat.v1.train.MonitoredSession() as session:
            while not session.should_stop():
                records.extend(session.run(batch).tolist())
    assert collections.Counter(records) == collections.Counter(records_of(raw_files[1::2]))


def test_log_tf_data_summaries_needs_initializable(raw_files):
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="initializable"):
            data_record_input_fn(raw_files, 10, identity, log_tf_data_summaries=True)
        data_record_input_fn(raw_files, 10, identity, log_tf_data_summaries=True, initializable=True)


def test_input_fn_trains_an_estimator(raw_files, tmp_path):
    def input_fn():
        features, labels = data_record_input_fn(raw_files, 20, hashed_parse_fn, repeat=True)
        return {
            "values": tf.reshape(
                tf.math.unsorted_segment_sum(
                    features["values"], tf.cast(features["ids"], tf.int32), tf.cast(features["batch_size"], tf.int32)
                ),
                [-1, 1],
            )
        }, labels[:, :1]

    def model_fn(features, labels, mode):
        logits = tf.compat.v1.layers.dense(features["values"], 1)
        loss = tf.compat.v1.losses.sigmoid_cross_entropy(labels, logits)
        train_op = tf.compat.v1.train.GradientDescentOptimizer(0.01).minimize(
            loss, tf.compat.v1.train.get_global_step()
        )
        return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

    estimator = tf.estimator.Estimator(model_fn, model_dir=str(tmp_path))
    estimator.train(input_fn, steps=3)
    assert estimator.get_variable_value("global_step") == 3
