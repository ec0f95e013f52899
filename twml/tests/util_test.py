"""twml.util: feature_id (also twml.feature_id), the helpers against plain Python/numpy in graph
sessions, the TF-Hub helpers (a module spec with serving and train graphs, import, renaming
checkpoint scopes); and the import-time behaviour of twml."""

import argparse
import datetime
import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tensorflow_hub as hub

import twml
from twml import util
from twml.errors import CheckpointNotFoundError


def test_feature_id_of_one_name_indexes_with_zero():
    ids = twml.feature_id("ebd.has_diff_lang")
    assert isinstance(ids, np.ndarray) and ids.dtype == np.int64 and ids.shape == (1,)
    assert ids[0] == 2086305051125082499


def test_feature_id_of_several_names_keeps_their_order():
    names = ["recap.engagement.is_clicked", "a#b", "timelines.earlybird_score"]
    assert twml.feature_id(names).tolist() == [3425338249656043418, -3734086814676416176, -5842831742955753074]
    assert twml.feature_id(iter(names)).tolist() == twml.feature_id(names).tolist()
    assert twml.feature_id([]).shape == (0,)


def test_feature_id_rejects_invalid_utf8():
    with pytest.raises(ValueError, match="invalid UTF-8 at byte 1"):
        twml.feature_id(b"a\x80")


def test_import_switches_to_graph_mode_and_limits_omp_threads():
    assert not tf.executing_eagerly()
    assert os.environ.get("OMP_NUM_THREADS") == "1" or "MKL_NUM_THREADS" in os.environ


def run(fetches):
    with tf.Session() as session:
        return session.run(fetches)


def test_limit_bits():
    x = np.array([0, 1, 255, 256, 2**40 + 5, -1], dtype=np.int64)
    assert twml.limit_bits is util.limit_bits
    assert util.limit_bits(x, 8).tolist() == [int(v) & 255 for v in x]
    assert util.limit_bits(2**40 + 5, 3) == 5
    with tf.Graph().as_default():
        assert run(util.limit_bits(tf.constant(x), 8)).tolist() == [0, 1, 255, 0, 5, 255]
        assert run(util.limit_bits(tf.constant([7, 9], tf.int32), 2)).tolist() == [3, 1]
    with pytest.raises(ValueError):
        util.limit_bits(x, 64)


def test_convert_to_sparse_and_limit_sparse_tensor_size():
    features = {
        "ids": np.array([0, 0, 2], np.int64),
        "keys": np.array([5, 1030, -1], np.int64),
        "values": np.array([1.0, 2.0, 3.0], np.float32),
        "batch_size": np.int64(3),
    }
    with tf.Graph().as_default():
        sparse = util.convert_to_sparse({k: tf.constant(v) for k, v in features.items()}, 10)
        out = run(sparse)
        limited = run(util.limit_sparse_tensor_size(tf.SparseTensor([[0, 5], [1, 2000]], [1.0, 2.0], [2, 7]), 10))
        unmasked = run(
            util.limit_sparse_tensor_size(tf.SparseTensor([[1, 2000]], [2.0], [2, 7]), 10, mask_indices=False)
        )
    assert out.indices.tolist() == [[0, 5], [0, 1030 & 1023], [2, 1023]]
    assert out.values.tolist() == [1.0, 2.0, 3.0] and out.dense_shape.tolist() == [3, 1024]
    assert limited.indices.tolist() == [[0, 5], [1, 2000 & 1023]] and limited.dense_shape.tolist() == [2, 1024]
    assert unmasked.indices.tolist() == [[1, 2000]]


def test_multiplicative_hash_and_rehash():
    assert util.HASHING_PRIME == 2479700537
    assert util.multiplicative_hash(3) == 3 * 2479700537
    big = 2**40
    expected = (big * 2479700537) % 2**64
    assert util.multiplicative_hash(big) == (expected - 2**64 if expected >= 2**63 else expected)
    keys = np.array([0, 1, 2, 3, 12345, 2**31], np.int64)
    assert util.multiplicative_hash(keys).tolist() == [util.multiplicative_hash(int(k)) for k in keys]
    with tf.Graph().as_default():
        assert run(util.multiplicative_hash(tf.constant(keys))).tolist() == util.multiplicative_hash(keys).tolist()
        sp = tf.SparseTensor(np.stack([np.arange(6), keys], axis=1), np.arange(6, dtype=np.float32), [6, 2**32])
        out = run(util.rehash_sparse_features_nbits(sp, 12))
    expected = [((int(k) * 2479700537) % 2**32) >> 20 for k in keys]
    assert out.indices[:, 1].tolist() == expected and out.indices[:, 0].tolist() == list(range(6))
    assert out.dense_shape.tolist() == [6, 4096] and out.values.tolist() == list(range(6))
    with pytest.raises(ValueError):
        util.rehash_sparse_features_nbits(sp, 0)


def test_weighted_average_and_dynamic_partition():
    values = np.array([1.0, 2.0, 4.0], np.float32)
    weights = np.array([1.0, 0.5, 2.0], np.float32)
    with tf.Graph().as_default():
        average = run(util.weighted_average(tf.constant(values), tf.constant(weights)))
        partitions = tf.constant([1, 0, 1])
        x = tf.constant([[1, 1], [2, 2], [3, 3]])
        y = tf.constant([10, 20, 30])
        as_dict, as_list, as_tuple, single = run(
            (
                util.dynamic_partition({"x": x, "y": y}, partitions),
                util.dynamic_partition([x, y], partitions),
                util.dynamic_partition((x, y), partitions, name="p"),
                util.dynamic_partition(y, partitions),
            )
        )
    assert average == pytest.approx(float((values * weights).sum() / weights.sum()))
    assert as_dict[0]["y"].tolist() == [20] and as_dict[1]["y"].tolist() == [10, 30]
    assert as_dict[1]["x"].tolist() == [[1, 1], [3, 3]]
    assert as_list[1][1].tolist() == [10, 30] and isinstance(as_tuple[0], tuple)
    assert [p.tolist() for p in single] == [[20], [10, 30]]


def test_write_file_and_read_file(tmp_path):
    path = str(tmp_path / "data.bin")
    util.write_file(path, b"\x00\x01binary")
    assert util.read_file(path) == b"\x00\x01binary"
    util.write_file(path, "text é")
    assert util.read_file(path) == "text é".encode()
    value = {"a": [1, 2.5, None], "b": "x"}
    util.write_file(path, value, encode="json")
    assert util.read_file(path, decode="json") == value
    assert json.loads(open(path).read()) == value
    assert os.listdir(str(tmp_path)) == ["data.bin"]  # no temporary left behind
    with pytest.raises(tf.errors.NotFoundError, match="no such file: .*missing"):
        util.read_file(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="decode"):
        util.read_file(path, decode="yaml")
    with pytest.raises(ValueError, match="encode"):
        util.write_file(path, "x", encode=True)
    with pytest.raises(tf.errors.NotFoundError):
        util.write_file(str(tmp_path / "no_dir" / "f"), b"x")


def make_tree(root, hours, extension="lzo"):
    for moment in hours:
        directory = os.path.join(root, moment.strftime("%Y/%m/%d/%H"))
        os.makedirs(directory, exist_ok=True)
        for name in ("part-0." + extension, "part-1." + extension, "other.txt"):
            open(os.path.join(directory, name), "w").close()


def test_list_files_by_datetime(tmp_path):
    root = str(tmp_path)
    start = datetime.datetime(2020, 1, 1, 22)
    make_tree(root, [start + datetime.timedelta(hours=h) for h in (0, 1, 3)])  # 22h, 23h, 01h next day
    files = util.list_files_by_datetime(root, start, start + datetime.timedelta(hours=3), sort=True)
    expected = sorted(
        os.path.join(root, d, "part-%d.lzo" % i)
        for d in ("2020/01/01/22", "2020/01/01/23", "2020/01/02/01")
        for i in (0, 1)
    )
    assert files == expected
    unsorted = util.list_files_by_datetime(root, start, start + datetime.timedelta(hours=3), parallelism=4)
    assert sorted(unsorted) == expected and len(unsorted) == len(set(unsorted))
    assert util.list_files_by_datetime(root, start, sort=True) == expected[:2]  # end defaults to start
    every_other = util.list_files_by_datetime(
        root, start, start + datetime.timedelta(hours=3), hour_resolution=3, sort=True
    )
    assert every_other == [expected[0], expected[1], expected[4], expected[5]]
    by_day = util.list_files_by_datetime(
        root,
        start,
        start + datetime.timedelta(hours=3),
        datetime_prefix_format="%Y/%m/%d/*",
        extension="txt",
        sort=True,
    )
    assert by_day == sorted(
        os.path.join(root, d, "other.txt") for d in ("2020/01/01/22", "2020/01/01/23", "2020/01/02/01")
    )
    with pytest.raises(OSError, match="no files found"):
        util.list_files_by_datetime(root, datetime.datetime(2021, 1, 1))
    assert util.list_files_by_datetime(None, start) is None
    flat = os.path.join(root, "flat")
    os.makedirs(flat)
    for name in ("b.lzo", "a.lzo", "c.gz"):
        open(os.path.join(flat, name), "w").close()
    assert util.list_files_by_datetime(flat, None, sort=True) == [os.path.join(flat, n) for n in ("a.lzo", "b.lzo")]


def test_list_files_match_files_and_paths(tmp_path):
    root = str(tmp_path)
    for name in ("x.gz", "y.gz", "z.lzo"):
        open(os.path.join(root, name), "w").close()
    os.makedirs(os.path.join(root, "sub.gz"))
    assert util.list_files(root, "gz", sort=True) == [os.path.join(root, n) for n in ("x.gz", "y.gz")]
    assert len(util.list_files(root + "," + root)) == 6
    assert util.match_files(os.path.join(root, "*.lzo")) == [os.path.join(root, "z.lzo")]
    assert util.match_files(os.path.join(root, "nothing", "*")) == []
    assert util.sanitize_hdfs_path("hdfs://default/user/x/") == "hdfs:///user/x"
    assert util.preprocess_path("~/a/") == os.path.expanduser("~/a")


def test_file_helpers(tmp_path):
    root = str(tmp_path)
    util.touch_file_in_dir(os.path.join(root, "d"), "_SUCCESS")
    assert util.file_exist_in_dir(os.path.join(root, "d"), "_SUCCESS")
    assert not util.file_exist_in_dir(os.path.join(root, "d"), "missing")
    os.makedirs(os.path.join(root, "d", "e"))
    util.write_file(os.path.join(root, "d", "e", "f.json.tf"), b"{}")
    util.copy_recursive(os.path.join(root, "d"), os.path.join(root, "copy"))
    assert util.read_file(os.path.join(root, "copy", "e", "f.json.tf")) == b"{}"
    assert util.copy_to_local(os.path.join(root, "d"), os.path.join(root, "local"), "_SUCCESS") == os.path.join(
        root, "local", "_SUCCESS"
    )
    assert os.path.exists(os.path.join(root, "local", "_SUCCESS"))
    util.write_file(os.path.join(root, "phase.json.tf"), b"1")
    util.write_file(os.path.join(root, "other.json"), b"1")
    util.copy_phase_inputs(root, os.path.join(root, "dest"))
    assert os.listdir(os.path.join(root, "dest")) == ["phase.json.tf"]
    util.delete_file_or_dir(os.path.join(root, "copy"))
    util.delete_file_or_dir(os.path.join(root, "phase.json.tf"))
    util.delete_file_or_dir(os.path.join(root, "missing"))
    assert not os.path.exists(os.path.join(root, "copy")) and not os.path.exists(os.path.join(root, "phase.json.tf"))


def save_checkpoint(directory):
    with tf.Graph().as_default():
        with tf.variable_scope("model"):
            tf.get_variable("w", initializer=[1.0, 2.0])
            tf.get_variable("b", initializer=3.0)
        with tf.variable_scope("other"):
            tf.get_variable("v", initializer=4.0)
        tf.train.get_or_create_global_step()
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            return tf.train.Saver().save(session, os.path.join(directory, "model.ckpt"), global_step=7)


def test_checkpoint_helpers(tmp_path):
    prefix = save_checkpoint(str(tmp_path / "save"))
    names = util.get_checkpoint_variable_names(str(tmp_path / "save"))
    assert sorted(names) == ["global_step", "model/b", "model/w", "other/v"]
    assert "global_step" not in util.get_checkpoint_variable_names(prefix, exclude_var_names=["global_step"])
    assert util.get_checkpoint_variable_names(prefix, exclude_scopes=["model"]) == ["global_step", "other/v"]
    init_map = util.get_init_map(
        str(tmp_path / "save"),
        exclude_var_names=["global_step"],
        exclude_name_scopes=["other"],
        name_scope_to_remove="model/",
        name_scope_to_prepend="new",
    )
    assert init_map == {"model/b": "new/b", "model/w": "new/w"}

    scope_dict = util.get_scope_dict(str(tmp_path / "save"), "model", "tower/model")
    assert scope_dict == {"model/b": "tower/model/b", "model/w": "tower/model/w"}
    assert util.get_scope_dict(str(tmp_path / "save"), "other/", "x", model_name="model.ckpt-7") == {"other/v": "x/v"}

    backup = util.backup_checkpoint(prefix)
    assert backup == str(tmp_path / "save" / "backup")
    assert tf.train.latest_checkpoint(backup) == os.path.join(backup, "model.ckpt-7")
    assert tf.train.load_variable(backup, "model/b") == 3.0
    with pytest.raises(CheckpointNotFoundError):
        util.backup_checkpoint(str(tmp_path / "save" / "model.ckpt-99"))

    util.set_only_checkpoint(str(tmp_path / "save"), str(tmp_path / "only"), remove_source=False)
    assert tf.train.latest_checkpoint(str(tmp_path / "only")) == str(tmp_path / "only" / "model.ckpt-7")
    util.set_only_checkpoint(backup, str(tmp_path / "only"))
    assert not tf.io.gfile.glob(os.path.join(backup, "model.ckpt-7*"))
    assert tf.train.load_variable(str(tmp_path / "only"), "model/w").tolist() == [1.0, 2.0]
    with pytest.raises(CheckpointNotFoundError):
        util.set_only_checkpoint(str(tmp_path / "empty_dir_missing"), str(tmp_path / "x"))


def test_misc_helpers(monkeypatch):
    assert util.to_snake_case("FullSparse") == "full_sparse"
    assert util.to_snake_case("HTTPRequestLayer") == "http_request_layer"
    assert util.to_snake_case("_Private") == "private__private"  # as the original (Keras's rule)
    hparams = util.convert_to_hparams(argparse.Namespace(learning_rate=0.1, name="m"))
    assert hparams.learning_rate == 0.1 and hparams.values() == {"learning_rate": 0.1, "name": "m"}
    hparams.add_hparam("extra", 1)
    with pytest.raises(ValueError):
        hparams.add_hparam("extra", 2)
    assert util.convert_to_hparams({"a": 1}).a == 1
    util.set_tensorflow_log_level(2)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
    with pytest.raises(ValueError):
        util.set_tensorflow_log_level(5)
    util.setup_tf_logging_formatter()
    for name, value in [("TWML_JOB_CLUSTER", "c"), ("TWML_JOB_ROLE", "r"), ("TWML_JOB_ENV", "e")]:
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TWML_DISTRIBUTED_BASE_JOBNAME", raising=False)
    with pytest.raises(ValueError, match="TWML_DISTRIBUTED_BASE_JOBNAME"):
        util.get_distributed_training_job_path()
    monkeypatch.setenv("TWML_DISTRIBUTED_BASE_JOBNAME", "job")
    assert util.get_distributed_training_job_path() == "c/r/e/job"


def test_do_every_n_steps():
    with tf.Graph().as_default():
        counter = tf.get_variable("counter", initializer=0, use_resource=True)
        step = tf.train.get_or_create_global_step()
        op = util.do_every_n_steps(lambda: counter.assign_add(1), 3)
        with tf.control_dependencies([op]):
            increment = step.assign_add(1)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            for _ in range(7):
                session.run(increment)
            assert session.run(counter) == 3  # steps 0, 3, 6


def scale_fn(mode, params):
    inputs = tf.placeholder(tf.float32, [None, 2])
    weight = tf.get_variable("weight", initializer=tf.constant([[2.0], [3.0]]))
    outputs = tf.matmul(inputs, weight) + (params["bias"] if mode == tf.estimator.ModeKeys.TRAIN else 0.0)
    hub.add_signature(inputs=inputs, outputs=outputs)


def test_module_spec_round_trip_through_hub_import(tmp_path):
    spec = util.create_module_spec(scale_fn, tf.estimator.ModeKeys.PREDICT, {"bias": 10.0})
    assert set(spec.get_tags()) == {frozenset(), frozenset({"train"})}
    path = str(tmp_path / "module")
    with tf.Graph().as_default():
        module = hub.Module(spec)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            module.export(path, session)
    inputs = np.array([[1.0, 1.0]], np.float32)
    with tf.Graph().as_default():
        serving = util.hub_import(tf.constant(inputs), path, "scale")
        training = util.hub_import(tf.constant(inputs), path, "scale_train", trainable=True)
        assert any(v.name.startswith("scale_train/") for v in tf.trainable_variables())
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            np.testing.assert_allclose(session.run([serving, training]), [[[5.0]], [[15.0]]])


def test_change_name_scope_from_dir(tmp_path):
    save_dir = str(tmp_path)
    with tf.Graph().as_default():
        with tf.variable_scope("old"):
            tf.get_variable("w", initializer=tf.constant([1.0, 2.0]))
        tf.get_variable("global_w", initializer=tf.constant(3.0))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            tf.train.Saver().save(session, save_dir + "/model.ckpt")
    util.change_name_scope_from_dir("old", "new/inner", save_dir)
    names = dict(tf.train.list_variables(save_dir))
    assert set(names) == {"new/inner/w", "global_w"}
    np.testing.assert_array_equal(tf.train.load_variable(save_dir, "new/inner/w"), [1.0, 2.0])
    with pytest.raises(twml.errors.CheckpointNotFoundError, match="no checkpoint"):
        util.change_name_scope_from_dir("a", "b", str(tmp_path / "empty"))
