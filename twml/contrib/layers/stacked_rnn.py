"""StackedRNN and stacked_rnn: a stack of LSTM/GRU layers over a batch of sequences (reference §6)."""

from typing import Any, List, Optional, Sequence, Union

import tensorflow.compat.v1 as tf

from twml.layers.layer import Layer

_CELLS = {"LSTM": "lstm", "GRU": "gru"}


def _make_cell(cell_type: str, units: int, dropout: float, is_training: Any, dtype: tf.DType) -> Any:
    if cell_type == "LSTM":
        cell = tf.nn.rnn_cell.LSTMCell(units)
    else:
        cell = tf.nn.rnn_cell.GRUCell(units)
    if not dropout or is_training is False:
        return cell
    if is_training is True:
        keep_prob: Any = 1.0 - dropout
    else:
        # A boolean tensor decides at run time (one graph for training and evaluation).
        on = tf.convert_to_tensor(is_training, tf.bool)
        keep_prob = tf.where(on, tf.constant(1.0 - dropout, dtype), tf.constant(1.0, dtype))
    return tf.nn.rnn_cell.DropoutWrapper(cell, output_keep_prob=keep_prob)


class StackedRNN(Layer):
    """A stack of recurrent layers (``tf.nn.dynamic_rnn`` over a ``MultiRNNCell``).

    Layer i has ``num_units[i]`` units and reads layer i-1's outputs. Cells are TF's v1
    ``LSTMCell`` (gates i, j, f, o; forget bias 1.0) or ``GRUCell``. With ``bidirectional`` a forward
    and a backward stack run over the (length-masked) sequences and their outputs are concatenated.

    Variables (``<cell>`` is ``lstm_cell`` or ``gru_cell``):
      ``<name>/rnn/multi_rnn_cell/cell_<i>/<cell>/kernel`` and ``.../bias`` (unidirectional), or
      ``<name>/bidirectional_rnn/{fw,bw}/multi_rnn_cell/cell_<i>/<cell>/...`` (bidirectional).
      For GRU the kernels are ``gates/kernel`` and ``candidate/kernel`` (with their biases).

    Args:
      num_units: units of each layer, bottom first (an int for one layer).
      dropout: output dropout rate of each layer, applied only when ``is_training``.
      is_training: whether dropout is active: a Python bool, or a scalar bool tensor.
      cell_type: ``"LSTM"`` or ``"GRU"`` (case-insensitive).
      is_bidirectional: also run a backward stack and concatenate.
      name: the layer's name (default ``stacked_rnn``).
      return_sequences (keyword-only, an extra of this rebuild): return every step's output instead
        of the last valid one.

    ``call(inputs, sequence_lengths=None)``: inputs float ``[batch, time, input_size]``
    (``input_size`` static); sequence_lengths int ``[batch]`` valid lengths (None: all ``time``;
    outputs past a row's length are 0). Returns float ``[batch, units]`` (the output at each row's
    last valid step; 0 for length 0) or ``[batch, time, units]`` with ``return_sequences``, where
    ``units = num_units[-1]`` (doubled when bidirectional: forward then backward; the backward
    half of the "last" output is its output at time 0, i.e. after reading the whole sequence).
    """

    def __init__(
        self,
        num_units: Union[int, Sequence[int]],
        dropout: float = 0,
        is_training: Any = True,
        cell_type: str = "LSTM",
        is_bidirectional: bool = False,
        name: str = "stacked_rnn",
        *,
        return_sequences: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        units: List[int] = [num_units] if isinstance(num_units, int) else list(num_units)
        if not units or any(not isinstance(u, int) or u <= 0 for u in units):
            raise ValueError("StackedRNN's num_units must be positive ints, got %r" % (num_units,))
        if cell_type.upper() not in _CELLS:
            raise ValueError("StackedRNN's cell_type must be one of %s, got %r" % (sorted(_CELLS), cell_type))
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError("StackedRNN's dropout must be in [0, 1), got %r" % (dropout,))
        self.num_units = units
        self.dropout = float(dropout)
        self.is_training = is_training
        self.cell_type = cell_type.upper()
        self.bidirectional = bool(is_bidirectional)
        self.return_sequences = return_sequences

    def build(self, input_shape: Any) -> None:
        shape = tf.TensorShape(input_shape)
        if shape.rank != 3 or shape[2] is None:
            raise ValueError(
                "StackedRNN expects inputs [batch, time, input_size] with a static input_size, got %s" % shape
            )
        self.built = True

    def _stack(self, dtype: tf.DType) -> Any:
        cells = [_make_cell(self.cell_type, u, self.dropout, self.is_training, dtype) for u in self.num_units]
        stack = tf.nn.rnn_cell.MultiRNNCell(cells)
        self._stacks.append(stack)
        return stack

    def _track_cell_weights(self) -> None:
        # The cells build their variables inside dynamic_rnn: list them as this layer's weights.
        known = set(id(w) for w in self._trainable_weights + self._non_trainable_weights)
        for stack in self._stacks:
            for weight in stack.trainable_weights:
                if id(weight) not in known:
                    known.add(id(weight))
                    self._trainable_weights.append(weight)

    def call(self, inputs: tf.Tensor, sequence_lengths: Optional[tf.Tensor] = None) -> tf.Tensor:
        if not inputs.dtype.is_floating:
            raise TypeError("StackedRNN expects floating point inputs, got %s" % inputs.dtype.name)
        batch = tf.shape(inputs)[0]
        time = tf.shape(inputs)[1]
        lengths = sequence_lengths
        if lengths is None:
            lengths = tf.fill([batch], time)
        lengths = tf.cast(lengths, tf.int32)
        self._stacks: List[Any] = []
        if self.bidirectional:
            (fw, bw), _ = tf.nn.bidirectional_dynamic_rnn(
                self._stack(inputs.dtype),
                self._stack(inputs.dtype),
                inputs,
                sequence_length=lengths,
                dtype=inputs.dtype,
            )
            outputs = tf.concat([fw, bw], 2)
        else:
            outputs, _ = tf.nn.dynamic_rnn(
                self._stack(inputs.dtype), inputs, sequence_length=lengths, dtype=inputs.dtype
            )
        self._track_cell_weights()
        if self.return_sequences:
            return outputs
        last = tf.maximum(lengths - 1, 0)
        fw_last = tf.gather(outputs, last, axis=1, batch_dims=1)
        if self.bidirectional:
            half = self.num_units[-1]
            # The backward stack has read the whole row by time 0.
            fw_last = tf.concat([fw_last[:, :half], outputs[:, 0, half:]], 1)
        # Length-0 rows have no output.
        return fw_last * tf.expand_dims(tf.cast(lengths > 0, outputs.dtype), 1)


def stacked_rnn(
    inputs: tf.Tensor,
    sequence_lengths: Optional[tf.Tensor],
    num_units: Union[int, Sequence[int]],
    dropout: float = 0,
    is_training: Any = True,
    cell_type: str = "LSTM",
    is_bidirectional: bool = False,
    name: str = "stacked_rnn",
    *,
    return_sequences: bool = False,
) -> tf.Tensor:
    """Functional StackedRNN (the original's parameter order): inputs float ``[batch, time,
    input_size]``, sequence_lengths int ``[batch]`` (or None: full length). Returns ``[batch, units]``
    (``[batch, time, units]`` with ``return_sequences``), see ``StackedRNN``."""
    layer = StackedRNN(
        num_units,
        dropout=dropout,
        is_training=is_training,
        cell_type=cell_type,
        is_bidirectional=is_bidirectional,
        name=name,
        return_sequences=return_sequences,
    )
    return layer(inputs, sequence_lengths=sequence_lengths)
