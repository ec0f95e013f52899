"""The internal-only names (issue 11 item 4): importable, and using them raises an error naming the
missing dependency and the local alternative, never a silent no-op (ZooKeeper, EventBus, ML Metastore
dashboard); the portable parts of those modules work on real records."""

import json
import os
from argparse import Namespace
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import libtwml.ops
import twml
from twml import constants
from twml.contrib.eventbus import input_fn, reader
from twml.contrib.feature_importances.feature_importances import write_feature_importances_to_ml_dash
from twml_common import idl
from twml_common.serialize import serialize

X_ID = int(twml.feature_id("x.value")[0])
EB_PARAMS = Namespace(
    jar_file="/opt/eb.jar", num_eb_threads=2, subscriber_id="sub", filter_str=None, debug=False, train_batch_size=4
)


def test_zookeeper_ordered_dataset_names_kazoo_and_the_local_alternative():
    try:  # kazoo is not a twml dependency
        import kazoo  # noqa: F401

        pytest.skip("kazoo is installed here")
    except ImportError:
        pass
    with pytest.raises(ImportError) as caught:
        twml.zookeeper_ordered_dataset(["a", "b"], lambda x: x, 2, "counter")
    message = str(caught.value)
    assert "kazoo" in message and "ZooKeeper" in message
    assert "DEFAULT_ZOOKEEPER_HOST" in message and "stream_block_format_dataset" in message and "shard_index" in message
    assert twml.cx_zk_path("jobs/7") == constants.DEFAULT_ZOOKEEPER_BASE_ZNODE + "/jobs/7"
    with pytest.raises(ValueError):
        twml.cx_zk_path(None)


def test_eventbus_reader_and_train_input_fn_raise_naming_eventbus():
    eb = reader.EventBusPipedBinaryRecordReader("/opt/eb.jar", 2, "sub", filter_str="x", debug=True)
    assert (eb.jar_file, eb.num_eb_threads, eb.subscriber_id, eb.filter_str, eb.buffer_size, eb.debug) == (
        "/opt/eb.jar",
        2,
        "sub",
        "x",
        32768,
        True,
    )
    assert eb.RECORD_SEPARATOR == bytes.fromhex("29d8d50658cd4c29b2bc57992171bdff")
    assert eb.RECORD_SEPARATOR_LENGTH == 16 and eb.CHUNK_SIZE == 8192
    for call in (eb.initialize, eb.read, lambda: input_fn.get_train_input_fn(None, EB_PARAMS)):
        with pytest.raises(RuntimeError) as caught:
            call()
        message = str(caught.value)
        assert "EventBus" in message and "data_record_input_fn" in message and "BinaryRecordReader" in message


def test_binary_record_reader_base_and_readable_wrapper():
    base = reader.BinaryRecordReader()
    base.initialize()
    base.close()
    with pytest.raises(NotImplementedError):
        base.read()
    inner = SimpleNamespace(read=lambda n=-1: b"abc", name="pipe")
    wrapped = reader.ReadableWrapper(inner)
    assert wrapped.readable() is True and wrapped.read() == b"abc" and wrapped.name == "pipe"


class ListReader(reader.BinaryRecordReader):
    """Serves serialized DataRecords from a list, then repeats the last (an endless stream)."""

    def __init__(self, records, debug=False):
        self.records = list(records)
        self.debug = debug
        self.initialized = 0
        self.position = 0

    def initialize(self):
        self.initialized += 1

    def read(self):
        record = self.records[min(self.position, len(self.records) - 1)]
        self.position += 1
        return record


def data_records(values):
    return [serialize(idl.data.DataRecord(continuousFeatures={X_ID: v})) for v in values]


def test_eventbus_dataset_over_any_binary_record_reader(tmp_path, monkeypatch):
    values = [0.5, 1.5, 2.5, 3.5, 4.5]
    records = data_records(values)
    source = ListReader(records, debug=True)
    monkeypatch.chdir(tmp_path)  # debug dumps tmp_record_<i>.bin into the working directory

    def parse(serialized):  # the records' x.value, read as a label column by the decode op
        handle = libtwml.ops.decode_data_record(
            serialized, keep_features=[], keep_codes=[], label_features=[X_ID], weight_features=[]
        )
        return libtwml.ops.get_labels_from_data_record(handle, default_label=-1.0)[:, 0]

    with tf.Graph().as_default():
        dataset = input_fn.get_eventbus_data_record_dataset(source, parse, batch_size=2)
        batch = tf.data.make_one_shot_iterator(dataset).get_next()
        with tf.Session() as session:
            first, second = session.run(batch), session.run(batch)
    np.testing.assert_allclose(first, values[:2])
    np.testing.assert_allclose(second, values[2:4])
    assert source.initialized == 1
    with open(tmp_path / "tmp_record_0.bin", "rb") as handle:
        assert handle.read() == records[0]


def test_ml_dash_writes_the_importances_next_to_the_model(tmp_path):
    trainer = SimpleNamespace(save_dir=str(tmp_path), experiment_tracker=SimpleNamespace(name="run-3"))
    importances = {"individual": {"a.x": {"roc_auc": np.float32(0.25)}, "None": {"roc_auc": 0.5}}}
    config = SimpleNamespace(features={"b.y": 1, "a.x": 2})
    path = write_feature_importances_to_ml_dash(trainer, importances, config)
    assert path == os.path.join(str(tmp_path), "feature_importances.json")
    with open(path) as handle:
        written = json.load(handle)
    assert written == {
        "run": "run-3",
        "features": ["a.x", "b.y"],
        "importances": {"individual": {"a.x": {"roc_auc": 0.25}, "None": {"roc_auc": 0.5}}},
    }
    # a failure is logged, never raised (it must not fail the training job)
    blocked = tmp_path / "file"
    blocked.write_text("")
    trainer.save_dir = str(blocked)
    write_feature_importances_to_ml_dash(trainer, importances)
