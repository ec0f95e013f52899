"""twml.lookup (TF's vocabulary tables) and twml.summary.flush in real sessions, against the
vocabulary files written here and the event files read back."""

import glob

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml
from twml import lookup, summary

VOCAB = ["apple", "banana", "cherry"]


@pytest.fixture()
def vocab_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    return str(path)


def run(*tensors):
    with tf.Session() as session:
        session.run(tf.tables_initializer())
        return session.run(list(tensors))


def test_index_table_from_file_and_tensor(vocab_file, tmp_path):
    assert twml.lookup is lookup
    with tf.Graph().as_default():
        keys = tf.constant(["banana", "kiwi", "apple", "cherry"])
        plain = lookup.index_table_from_file(vocab_file).lookup(keys)
        with_oov = lookup.index_table_from_file(vocab_file, num_oov_buckets=4).lookup(keys)
        default = lookup.index_table_from_tensor(tf.constant(["cherry", "kiwi"]), default_value=9).lookup(keys)
        capped = lookup.index_table_from_file(vocab_file, vocab_size=2).lookup(keys)
        columns = tmp_path / "columns.tsv"
        columns.write_text("7\tkiwi\n8\tapple\n")
        by_column = lookup.index_table_from_file(str(columns), key_column_index=1).lookup(keys)
        plain, with_oov, default, capped, by_column = run(plain, with_oov, default, capped, by_column)
    np.testing.assert_array_equal(plain, [1, -1, 0, 2])
    assert with_oov[[0, 2, 3]].tolist() == [1, 0, 2] and 3 <= with_oov[1] < 3 + 4  # an OOV bucket after the vocab
    np.testing.assert_array_equal(default, [9, 1, 9, 0])
    np.testing.assert_array_equal(capped, [1, -1, 0, -1])  # only the first vocab_size lines
    np.testing.assert_array_equal(by_column, [-1, 0, 1, -1])  # the key column, line numbers as ids


def test_index_to_string_table_from_file(vocab_file):
    with tf.Graph().as_default():
        ids = tf.constant([2, 0, 7, -1], tf.int64)
        (names,) = run(lookup.index_to_string_table_from_file(vocab_file).lookup(ids))
        (custom,) = run(lookup.index_to_string_table_from_file(vocab_file, default_value="?").lookup(ids))
    assert names.tolist() == [b"cherry", b"apple", b"UNK", b"UNK"]
    assert custom.tolist() == [b"cherry", b"apple", b"?", b"?"]


def scalars(logdir):
    found = []
    for path in glob.glob(logdir + "/events.out.tfevents.*"):
        for event in tf.train.summary_iterator(path):
            for value in event.summary.value:
                found.append((value.tag, event.step, float(tf.make_ndarray(value.tensor))))
    return sorted(found)


def test_summary_flush_writes_the_buffered_events(tmp_path):
    assert twml.summary is summary
    logdir = str(tmp_path / "logs")
    with tf.Graph().as_default():
        writer = tf.compat.v2.summary.create_file_writer(logdir, max_queue=100, flush_millis=10**7)
        step = tf.placeholder(tf.int64, [])
        with writer.as_default():
            write = tf.compat.v2.summary.scalar("loss", tf.cast(step, tf.float32) * 0.5, step=step)
        flush_given = summary.flush(writer)
        with writer.as_default():
            flush_default = summary.flush()
        with tf.Session() as session:
            session.run(writer.init())
            for i in range(3):
                session.run(write, {step: i})
            assert scalars(logdir) == []  # buffered: nothing on disk yet
            session.run(flush_given)
            assert scalars(logdir) == [("loss", 0, 0.0), ("loss", 1, 0.5), ("loss", 2, 1.0)]
            session.run(write, {step: 10})
            session.run(flush_default)
            assert scalars(logdir)[-1] == ("loss", 10, 5.0)
