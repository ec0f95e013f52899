"""EmbeddingLookup: strings to embedding vectors through a vocabulary index table (reference §6)."""

from typing import Any, Callable, Optional

import numpy as np
import tensorflow.compat.v1 as tf
from tensorflow.python.ops import lookup_ops
from tensorflow.python.ops.variables import PartitionedVariable

from twml.contrib.initializers import PartitionConstant, PlaceholderInitializer
from twml.layers.layer import Layer


def _array_initializer(value: np.ndarray, dtype: tf.DType, use_placeholder: bool) -> Any:
    # A placeholder keeps a large vocabulary/embedding out of the GraphDef (2 GiB limit); its value
    # is fed at initialisation through twml.contrib.initializers.get_init_feed_dict().
    if use_placeholder:
        return PlaceholderInitializer(value.shape, dtype, value)
    return PartitionConstant(value, dtype)


class EmbeddingLookup(Layer):
    """Maps each string to a row of an embedding matrix, through an index table over a vocabulary.

    Word w gets index ``vocab.index(w)``; an out-of-vocabulary word gets, in order of preference:
    one of the ``num_oov_buckets`` extra rows (by a hash of the word), row ``oov_word_id``, or a
    zero vector.

    Variables: ``<name>/vocab`` string ``[vocab_size]`` (non-trainable) and ``<name>/weight``
    ``[vocab_size + num_oov_buckets, output_size]`` of ``dtype`` (split in ``num_partitions``
    along ``partition_axis``). ``layer.init`` initialises the index table (also in
    ``tf.tables_initializer()``), which reads ``vocab``: run it after the variable initializers.

    Args:
      vocab_size: number of words.
      output_size: embedding size.
      vocab_initializer: the words: a list / numpy array of ``vocab_size`` strings (bytes or str),
        or a TF initializer of the string variable.
      weight_initializer: a ``[vocab_size + num_oov_buckets, output_size]`` array, or a TF
        initializer (default ``tf.glorot_uniform_initializer()``).
      trainable: whether the weight is trained.
      num_oov_buckets: number of hashed rows for out-of-vocabulary words (None = 0).
      oov_word_id: the vocabulary index used for out-of-vocabulary words when there are no buckets.
      num_partitions, partition_axis: partitioning of the weight.
      weight_regularizer: regularizer of the weight.
      dtype: dtype of the weight (default float32).
      use_placeholder: array initial values are fed through placeholders registered in the TWML
        init-feed collection (``twml.contrib.initializers.get_init_feed_dict()``, to pass when
        running the variable initializers) instead of being graph constants.
      checkpoint_dir: if set, ``vocab`` and ``weight`` are initialised from the variables of the same
        names in the latest checkpoint there (``tf.train.init_from_checkpoint``).
      convert_to_lowercase: lower-case (UTF-8) the words before the lookup (the vocabulary is used
        as given).

    ``call(inputs)``: inputs a string tensor of any shape ``S``. Returns ``S + [output_size]`` of ``dtype``.
    """

    def __init__(
        self,
        vocab_size: int,
        output_size: int,
        vocab_initializer: Any,
        weight_initializer: Any = None,
        trainable: bool = True,
        num_oov_buckets: Optional[int] = None,
        oov_word_id: Optional[int] = None,
        name: Optional[str] = None,
        num_partitions: int = 1,
        partition_axis: int = 0,
        weight_regularizer: Optional[Callable] = None,
        dtype: Any = None,
        use_placeholder: bool = True,
        checkpoint_dir: Optional[str] = None,
        convert_to_lowercase: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype or tf.float32, **kwargs)
        if not isinstance(vocab_size, int) or vocab_size <= 0:
            raise ValueError("EmbeddingLookup's vocab_size must be a positive int, got %r" % (vocab_size,))
        if not isinstance(output_size, int) or output_size <= 0:
            raise ValueError("EmbeddingLookup's output_size must be a positive int, got %r" % (output_size,))
        self.vocab_size = vocab_size
        self.output_size = output_size
        self.num_oov_buckets = int(num_oov_buckets or 0)
        if self.num_oov_buckets < 0:
            raise ValueError("num_oov_buckets must be >= 0, got %r" % (num_oov_buckets,))
        if oov_word_id is not None and not 0 <= oov_word_id < vocab_size:
            raise ValueError("oov_word_id must be in [0, %d), got %r" % (vocab_size, oov_word_id))
        self.oov_word_id = oov_word_id
        self.num_partitions = int(num_partitions or 1)
        self.partition_axis = partition_axis
        self.weight_regularizer = weight_regularizer
        self.use_placeholder = use_placeholder
        self.checkpoint_dir = checkpoint_dir
        self.convert_to_lowercase = convert_to_lowercase
        self.vocab_initializer = vocab_initializer
        self.weight_initializer = weight_initializer
        self._table: Any = None
        n_rows = vocab_size + self.num_oov_buckets
        if isinstance(vocab_initializer, (list, tuple, np.ndarray)):
            words = np.asarray([w.encode("utf-8") if isinstance(w, str) else w for w in vocab_initializer], object)
            if words.shape != (vocab_size,):
                raise ValueError("vocab_initializer has shape %s, expected [%d]" % (words.shape, vocab_size))
            if len(set(words.tolist())) != vocab_size:
                raise ValueError("vocab_initializer has duplicate words")
            self._vocab_value: Optional[np.ndarray] = words
        else:
            self._vocab_value = None
        if isinstance(weight_initializer, (list, tuple, np.ndarray)):
            weights = np.asarray(weight_initializer)
            if weights.shape != (n_rows, output_size):
                raise ValueError(
                    "weight_initializer has shape %s, expected [%d, %d] (vocab_size + num_oov_buckets, output_size)"
                    % (weights.shape, n_rows, output_size)
                )
            self._weight_value: Optional[np.ndarray] = weights
        else:
            self._weight_value = None

    def build(self, input_shape: Any) -> None:
        dtype = tf.as_dtype(self.dtype)
        if self._vocab_value is not None:
            vocab_init = _array_initializer(self._vocab_value, tf.string, self.use_placeholder)
        else:
            vocab_init = self.vocab_initializer
        self.vocab = self.add_weight(
            "vocab", shape=[self.vocab_size], initializer=vocab_init, dtype=tf.string, trainable=False
        )
        if self._weight_value is not None:
            weight_init = _array_initializer(self._weight_value, dtype, self.use_placeholder)
        else:
            weight_init = self.weight_initializer or tf.glorot_uniform_initializer()
        partitioner = None
        if self.num_partitions > 1:
            partitioner = tf.fixed_size_partitioner(self.num_partitions, axis=self.partition_axis)
        self.weight = self.add_weight(
            "weight",
            shape=[self.vocab_size + self.num_oov_buckets, self.output_size],
            initializer=weight_init,
            regularizer=self.weight_regularizer,
            dtype=dtype,
            trainable=True,
            partitioner=partitioner,
        )
        if self.checkpoint_dir:
            # Keyed by the variables' own names: a checkpoint written by the same model restores as-is.
            weight = list(self.weight) if isinstance(self.weight, PartitionedVariable) else self.weight
            assignment = {_variable_name(self.vocab): self.vocab, _variable_name(self.weight): weight}
            tf.train.init_from_checkpoint(self.checkpoint_dir, assignment)
        default = -1 if self.oov_word_id is None else self.oov_word_id
        self._table = lookup_ops.index_table_from_tensor(
            tf.convert_to_tensor(self.vocab), num_oov_buckets=self.num_oov_buckets, default_value=default
        )
        self.built = True

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        if inputs.dtype != tf.string:
            raise TypeError("EmbeddingLookup expects a string tensor, got %s" % inputs.dtype.name)
        words = tf.strings.lower(inputs, encoding="utf-8") if self.convert_to_lowercase else inputs
        ids = self._table.lookup(words)
        found = ids >= 0
        safe_ids = tf.maximum(ids, 0)
        if isinstance(self.weight, PartitionedVariable) and self.partition_axis == 0:
            vectors = tf.nn.embedding_lookup(list(self.weight), safe_ids, partition_strategy="div")
        else:
            weight = tf.convert_to_tensor(self.weight) if isinstance(self.weight, PartitionedVariable) else self.weight
            vectors = tf.gather(weight, safe_ids)
        # Unknown words without a bucket or oov_word_id (index -1) get a zero vector.
        return vectors * tf.expand_dims(tf.cast(found, vectors.dtype), -1)

    @property
    def init(self) -> tf.Operation:
        """The index table's initializer (run after the variables are initialised)."""
        if self._table is None:
            return tf.no_op()
        return self._table.initializer

    def compute_output_shape(self, input_shape: Any) -> tf.TensorShape:
        return tf.TensorShape(input_shape).concatenate([self.output_size])


def _variable_name(variable: Any) -> str:
    if isinstance(variable, PartitionedVariable):
        return variable.name
    return variable.op.name
