"""twml.lookup: TensorFlow's vocabulary lookup tables (TF1's ``tf.contrib.lookup``), re-exported.

* ``index_table_from_file(vocabulary_file=None, num_oov_buckets=0, vocab_size=None, default_value=-1,
  hasher_spec=FastHashSpec, key_dtype=tf.string, name=None, key_column_index=WHOLE_LINE,
  value_column_index=LINE_NUMBER, delimiter="\\t")`` -> a table string -> int64 id;
* ``index_table_from_tensor(vocabulary_list, num_oov_buckets=0, default_value=-1,
  hasher_spec=FastHashSpec, dtype=tf.string, name=None)``;
* ``index_to_string_table_from_file(vocabulary_file, vocab_size=None, default_value="UNK", name=None,
  key_column_index=LINE_NUMBER, value_column_index=WHOLE_LINE, delimiter="\\t")`` -> int64 id -> string.

Tables need ``tf.tables_initializer()`` (run by Estimator sessions).
"""

from tensorflow.python.ops.lookup_ops import (
    index_table_from_file,
    index_table_from_tensor,
    index_to_string_table_from_file,
)

__all__ = ["index_table_from_file", "index_table_from_tensor", "index_to_string_table_from_file"]
