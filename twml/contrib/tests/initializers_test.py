"""load_initializers_from_csv (twml.contrib.layers.embedding_lookup) on GloVe-style files written
here, the words and vectors checked against the file's lines, and the initializers it returns used
in real (partitioned) variables; PartitionConstant's slices and shape check."""

import collections

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml  # noqa: F401  (graph mode)
from twml.contrib.initializers import PartitionConstant, partition_constant_initializer
from twml.contrib.layers import embedding_lookup
from twml.contrib.layers.embedding_lookup import OOV_WORD_ID, PAD_WORD_ID, load_initializers_from_csv

LINES = [
    "the 0.1 0.2 0.3",
    "cat 1 2 3",
    "the 9 9 9",  # a repeated word keeps its first vector
    "bad 1 x 3",  # not a number: skipped
    "short 1 2",  # too few values: skipped
    "two words 4 5 6",  # more fields than the size: the last 3
    "dog -7 8e-1 9",
]
EXPECTED = collections.OrderedDict(
    [("the", [0.1, 0.2, 0.3]), ("cat", [1, 2, 3]), ("two", [4, 5, 6]), ("dog", [-7, 0.8, 9])]
)


def write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def materialize(vocab_init, weight_init, shape, partitions=1):
    with tf.Graph().as_default():
        words = tf.get_variable("words", shape=[shape[0]], dtype=tf.string, initializer=vocab_init, trainable=False)
        weights = tf.get_variable(
            "weights",
            shape=shape,
            dtype=tf.float32,
            initializer=weight_init,
            partitioner=tf.fixed_size_partitioner(partitions) if partitions > 1 else None,
        )
        if partitions > 1:
            assert len(list(weights)) == partitions
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            return session.run(words), session.run(tf.convert_to_tensor(weights))


def test_default_vocabulary_from_a_glove_file(tmp_path):
    path = write(tmp_path / "glove.3d.txt", LINES)  # the size comes from the name
    vocab_init, weight_init, shape = load_initializers_from_csv(path)
    assert shape == (2 + len(EXPECTED), 3) and isinstance(weight_init, PartitionConstant)
    words, weights = materialize(vocab_init, weight_init, shape, partitions=2)
    assert [w.decode() for w in words] == ["", "<UNK>"] + list(EXPECTED)
    assert (PAD_WORD_ID, OOV_WORD_ID) == (0, 1)
    np.testing.assert_allclose(weights[2:], np.array(list(EXPECTED.values()), np.float32))
    assert np.all(np.isfinite(weights[:2])) and np.any(weights[:2] != 0)  # random normal placeholders


def test_vocab_size_size_from_the_first_line_and_separator(tmp_path):
    path = write(tmp_path / "vectors.txt", LINES)
    _, weight_init, shape = load_initializers_from_csv(path, vocab_size=4)
    assert shape == (4, 3)  # the two placeholders count
    np.testing.assert_allclose(weight_init.value[2:], [EXPECTED["the"], EXPECTED["cat"]])
    # an explicit size takes the last values of longer lines and skips shorter ones
    vocab_init, weight_init, shape = load_initializers_from_csv(path, embedding_size=2)
    words, weights = materialize(vocab_init, weight_init, shape)
    assert [w.decode() for w in words][2:] == ["the", "cat", "short", "two", "dog"]
    np.testing.assert_allclose(weights[2:], [[0.2, 0.3], [2, 3], [1, 2], [5, 6], [0.8, 9]])
    csv = write(tmp_path / "comma.txt", ["a,1.5,2.5", "b,3,4"])
    _, weight_init, shape = load_initializers_from_csv(csv, separator=",")
    assert shape == (4, 2)
    np.testing.assert_allclose(weight_init.value[2:], [[1.5, 2.5], [3, 4]])


def test_a_given_vocabulary_is_extended(tmp_path):
    path = write(tmp_path / "glove.3d.txt", LINES)
    given = collections.OrderedDict([("cat", [0.0, 0.0, 1.0]), ("zebra", [5.0, 5.0, 5.0])])
    vocab_init, weight_init, shape = load_initializers_from_csv(path, vocab=given)
    words, weights = materialize(vocab_init, weight_init, shape)
    assert [w.decode() for w in words] == ["cat", "zebra", "the", "two", "dog"]
    np.testing.assert_allclose(weights, [[0, 0, 1], [5, 5, 5], EXPECTED["the"], EXPECTED["two"], EXPECTED["dog"]])
    with pytest.raises(RuntimeError, match="OrderedDict"):
        load_initializers_from_csv(path, vocab={"cat": [1, 2, 3]})
    with pytest.raises(RuntimeError, match="int"):
        load_initializers_from_csv(path, embedding_size="3")


def test_paths_matching_several_or_no_files(tmp_path):
    write(tmp_path / "a.50d.txt", ["x 1"])
    write(tmp_path / "b.50d.txt", ["y 1"])
    with pytest.raises(ValueError, match="matches 2 files"):
        load_initializers_from_csv(str(tmp_path / "*.50d.txt"))
    with pytest.raises(ValueError, match="matches no file"):
        load_initializers_from_csv(str(tmp_path / "missing.txt"))


def test_parser_arguments():
    import argparse

    parser = embedding_lookup.add_parser_arguments(argparse.ArgumentParser())
    defaults = parser.parse_args([])
    assert (defaults.embedding_path, defaults.embedding_vocab_size) == (None, -1)
    given = parser.parse_args(["--embedding.path", "/e.txt", "--embedding_vocab_size", "7"])
    assert (given.embedding_path, given.embedding_vocab_size) == ("/e.txt", 7)


def test_partition_constant_slices_along_both_axes():
    assert partition_constant_initializer is PartitionConstant
    value = np.arange(24, dtype=np.float64).reshape(6, 4)
    with tf.Graph().as_default():
        rows = tf.get_variable(
            "rows",
            shape=[6, 4],
            dtype=tf.float64,
            initializer=PartitionConstant(value, tf.float64),
            partitioner=tf.fixed_size_partitioner(3),
        )
        cols = tf.get_variable(
            "cols", shape=[6, 4], initializer=PartitionConstant(value), partitioner=tf.fixed_size_partitioner(2, axis=1)
        )
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            parts = session.run([p for p in rows])
            whole_cols = session.run(tf.convert_to_tensor(cols))
        with pytest.raises(ValueError, match="value has shape"):
            tf.get_variable("wrong", shape=[2, 2], initializer=PartitionConstant(value))
    np.testing.assert_array_equal(parts[0], value[0:2])
    np.testing.assert_array_equal(np.concatenate(parts), value)
    np.testing.assert_array_equal(whole_cols, value.astype(np.float32))
