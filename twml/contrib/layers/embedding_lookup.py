"""EmbeddingLookup: strings to embedding vectors through a vocabulary index table (reference §6)."""

import collections
import logging
import os
import re
from typing import Any, Callable, Optional, Tuple

import numpy as np
import tensorflow.compat.v1 as tf
from tensorflow.python.ops import lookup_ops
from tensorflow.python.ops.variables import PartitionedVariable

from twml.contrib.initializers import PartitionConstant, PlaceholderInitializer
from twml.layers.layer import Layer
from twml.util import sanitize_hdfs_path


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


#: Ids of the padding word ``''`` and of ``'<UNK>'`` in vocabularies built by
#: :func:`load_initializers_from_csv` with the default vocabulary.
PAD_WORD_ID = 0
OOV_WORD_ID = 1


def load_initializers_from_csv(
    embedding_path: str,
    vocab_size: int = -1,
    embedding_size: Optional[int] = None,
    separator: Optional[str] = None,
    vocab: Any = None,
) -> Tuple[Any, Any, Tuple[int, int]]:
    """Reads a GloVe-style text file (``word v1 v2 ...`` per line) into initializers of an EmbeddingLookup.

    Args:
      embedding_path: the file (``hdfs:///`` sanitized, globbed; more than one match is an error).
      vocab_size: stop once the vocabulary (placeholders included) has this many words; -1: whole file.
      embedding_size: the vector size; None: from a ``<non-digit><digits>d`` in the file name (e.g.
        ``glove.300d.txt``), else from the first new word's line.
      separator: the field separator; None: any whitespace.
      vocab: None (start with the placeholders ``''`` and ``'<UNK>'``, ids 0 and 1, given random normal
        vectors) or an ``OrderedDict`` word -> vector to extend.

    Returns:
      ``(vocab_initializer, weight_initializer, (V, E))``: a string constant initializer of the words in
      vocabulary order, a :class:`PartitionConstant` of the float32 ``[V, E]`` vectors, and their shape.

    Raises:
      ValueError: several files match. RuntimeError: ``vocab`` is not an OrderedDict, or a non-int size.
    """
    log = logging.getLogger(__name__)
    paths = tf.io.gfile.glob(sanitize_hdfs_path(embedding_path))
    if len(paths) > 1:
        raise ValueError("%s matches %d files; give one" % (embedding_path, len(paths)))
    if not paths:
        raise ValueError("%s matches no file" % embedding_path)
    default_vocab = vocab is None
    if default_vocab:
        vocab = collections.OrderedDict([("", None), ("<UNK>", None)])
    elif not isinstance(vocab, collections.OrderedDict):
        raise RuntimeError("vocab must be an OrderedDict, not %s" % type(vocab).__name__)
    if embedding_size is None:
        match = re.search(r"[^\d](\d+)d", os.path.basename(paths[0]))
        embedding_size = int(match.group(1)) if match else None
    elif not isinstance(embedding_size, int):
        raise RuntimeError("embedding_size must be an int, not %r" % (embedding_size,))
    with tf.io.gfile.GFile(paths[0], "r") as handle:
        lines = handle.read().splitlines()
    for line in lines:
        fields = line.split(separator)
        if not fields or fields[0] in vocab:
            continue
        word, values = fields[0], fields[1:]
        if embedding_size is None:
            embedding_size = len(values)
        try:
            if len(values) < embedding_size:
                raise ValueError("%d values, expected %d" % (len(values), embedding_size))
            vector = [float(v) for v in values[len(values) - embedding_size :]]
        except ValueError as error:
            log.warning("skipping the embedding of %r: %s", word, error)
            continue
        vocab[word] = vector
        if 0 < vocab_size <= len(vocab):
            break
    size = int(embedding_size or 0)
    if default_vocab:
        for placeholder in ("", "<UNK>"):
            if vocab[placeholder] is None:
                vocab[placeholder] = list(np.random.normal(size=size))
    words = list(vocab)
    weights = np.array([vocab[w] for w in words], dtype=np.float32).reshape(len(words), size)
    return tf.constant_initializer(words, tf.string), PartitionConstant(weights), weights.shape


def add_parser_arguments(parser: Any) -> Any:
    """Adds ``--embedding.path`` / ``--embedding_path`` (str, default None) and
    ``--embedding.vocab_size`` / ``--embedding_vocab_size`` (int, default -1: the whole file); returns the
    parser."""
    parser.add_argument(
        "--embedding.path",
        "--embedding_path",
        dest="embedding_path",
        type=str,
        default=None,
        help="GloVe-style embedding file (word v1 v2 ...)",
    )
    parser.add_argument(
        "--embedding.vocab_size",
        "--embedding_vocab_size",
        dest="embedding_vocab_size",
        type=int,
        default=-1,
        help="words read from the embedding file (-1: all)",
    )
    return parser
