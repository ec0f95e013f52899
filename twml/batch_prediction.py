"""Batch prediction with an exported twml SavedModel: DataRecords in, predictions out.

A DataRecordTrainer export serves one serialized BatchPredictionRequest per call (the uint8
``request`` input) and answers a serialized BatchPredictionResponse (the ``prediction`` output of
the ``serving_default`` signature): one DataRecord per request row, mapping each output column's
key (the label's feature id) to its prediction as a continuous feature. This module builds the
requests from serialized DataRecords (in the core), runs the model in a session and reads the
predictions as the floats the response writer encodes (decoding the response, in the core, only
for exports without that op). ``twml.batch_prediction_job`` (``twml-batch-predict``) runs on it.
"""

from typing import Dict, Iterable, Iterator, List, Optional, Sequence

import numpy as np
import tensorflow.compat.v1 as tf

import libtwml
import libtwml.ops  # noqa: F401 - an export's graph uses twml's ops: they are registered before it loads

_SERVING_KEY = tf.saved_model.signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY


def encode_batch_prediction_request(records: Sequence[bytes], common_features: Optional[bytes] = None) -> bytes:
    """The Thrift binary bytes of a BatchPredictionRequest of serialized DataRecords.

    Args:
      records: serialized DataRecords (``individualFeaturesList``, field 1).
      common_features: an optional serialized DataRecord shared by every row (field 2).
    """
    return libtwml.encode_batch_prediction_request(list(records), common_features)


def decode_batch_prediction_response(response: bytes) -> List[Dict[int, float]]:
    """The rows of a serialized BatchPredictionResponse: ``{key: prediction}`` per row.

    Raises:
      ValueError: the bytes are not a BatchPredictionResponse.
    """
    try:
        rows = libtwml.decode_batch_prediction_response(bytes(response))
    except ValueError as error:  # the core's bounds-checked decoder: no allocation from a declared size
        raise ValueError("malformed BatchPredictionResponse (%d bytes): %s" % (len(response), error)) from None
    return [dict(row.get("continuous", {})) for row in rows]


#: The op that encodes a twml export's BatchPredictionResponse from its float predictions.
_RESPONSE_WRITER_OP = "BatchPredictionResponseWriter"


class SavedModelPredictor:
    """Runs a SavedModel exported with the default twml serving contract.

    The one code path of batch prediction (``twml.batch_prediction_job``, the
    ``twml-batch-predict`` command, uses it too): requests are built by the core from serialized
    DataRecords; when the signature's ``prediction`` is written by a ``BatchPredictionResponseWriter``
    op (every twml export's is), the predictions are read as the floats and keys that op encodes,
    so the response is neither encoded nor decoded; otherwise the response is decoded by the core.

    Args:
      export_dir: the SavedModel directory (with ``saved_model.pb``).
      signature: the signature to run (default ``serving_default``).
      session_config: an optional ``tf.ConfigProto``.

    Raises:
      ValueError: the signature has no ``request`` input or no ``prediction`` output.
    """

    def __init__(
        self, export_dir: str, signature: str = _SERVING_KEY, session_config: Optional[tf.ConfigProto] = None
    ) -> None:
        self._graph = tf.Graph()
        self._session = tf.Session(graph=self._graph, config=session_config)
        meta_graph = tf.saved_model.loader.load(self._session, [tf.saved_model.tag_constants.SERVING], export_dir)
        if signature not in meta_graph.signature_def:
            raise ValueError(
                "%s has no signature %r (it has %s)" % (export_dir, signature, sorted(meta_graph.signature_def))
            )
        signature_def = meta_graph.signature_def[signature]
        if "request" not in signature_def.inputs or "prediction" not in signature_def.outputs:
            raise ValueError(
                "%s: signature %r must map the input 'request' to the output 'prediction' (it maps %s "
                "to %s)" % (export_dir, signature, sorted(signature_def.inputs), sorted(signature_def.outputs))
            )
        self._request = self._graph.get_tensor_by_name(signature_def.inputs["request"].name)
        if self._request.dtype != tf.uint8:
            raise ValueError(
                "%s: signature %r: the input 'request' is %s, not uint8 (a serialized "
                "BatchPredictionRequest)" % (export_dir, signature, self._request.dtype.name)
            )
        self._prediction = self._graph.get_tensor_by_name(signature_def.outputs["prediction"].name)
        self._writer_inputs = self._response_writer_inputs(self._prediction)
        self._keys: Optional[np.ndarray] = None

    @staticmethod
    def _response_writer_inputs(prediction: tf.Tensor) -> Optional[List[tf.Tensor]]:
        """The (keys, values) inputs of the BatchPredictionResponseWriter op that makes
        `prediction` (through Identity ops), or None."""
        op = prediction.op
        while op.type == "Identity":
            op = op.inputs[0].op
        if op.type != _RESPONSE_WRITER_OP:
            return None
        return [op.inputs[0], op.inputs[1]]

    @property
    def reads_floats(self) -> bool:
        """Whether predictions are read as floats in the graph (no response encoded or decoded)."""
        return self._writer_inputs is not None

    @property
    def keys(self) -> Optional[np.ndarray]:
        """The int64 response keys (the label feature ids of a DataRecordTrainer export), one per
        column of :meth:`predict_batch`; None before the first batch."""
        return self._keys

    def predict_request(self, request: bytes) -> bytes:
        """The serialized BatchPredictionResponse of one serialized BatchPredictionRequest."""
        response = self._session.run(self._prediction, {self._request: np.frombuffer(request, np.uint8)})
        return np.asarray(response, np.uint8).tobytes()

    def predict_batch(self, records: Sequence[bytes]) -> np.ndarray:
        """The predictions of one batch of serialized DataRecords (one BatchPredictionRequest).

        Returns:
          ``[len(records), len(keys)]`` in the model's float dtype (float32 for twml's models),
          columns in the order of :attr:`keys`.

        Raises:
          ValueError: the model answered another number of rows, or other keys than before.
        """
        return self.predict_request_values(encode_batch_prediction_request(records), len(records))

    def predict_request_values(self, request_bytes: bytes, rows: int) -> np.ndarray:
        """As :meth:`predict_batch`, for a serialized BatchPredictionRequest of ``rows`` records
        (e.g. from ``BlockFileReader.read_request``)."""
        request = np.frombuffer(request_bytes, np.uint8)
        if self._writer_inputs is not None:
            keys, values = self._session.run(self._writer_inputs, {self._request: request})
            values = np.asarray(values)
            if values.ndim == 1:
                values = values[:, None]
        else:
            answered = decode_batch_prediction_response(self.predict_request(request_bytes))
            keys = np.array(
                sorted(answered[0]) if answered else (self._keys if self._keys is not None else []), np.int64
            )
            values = np.empty((len(answered), len(keys)), np.float64)
            for i, row in enumerate(answered):
                if set(row) != set(keys.tolist()):
                    raise ValueError("response row %d has the keys %s, not %s" % (i, sorted(row), keys.tolist()))
                values[i] = [row[key] for key in keys.tolist()]
        keys = np.asarray(keys, np.int64).reshape(-1)
        if self._keys is None:
            self._keys = keys
        elif not np.array_equal(keys, self._keys):
            raise ValueError("the model answered the keys %s after %s" % (keys.tolist(), self._keys.tolist()))
        if values.shape != (rows, len(keys)):
            raise ValueError(
                "the model answered %s predictions for %d records and %d keys" % (list(values.shape), rows, len(keys))
            )
        return values

    def predict_records(
        self, records: Iterable[bytes], batch_size: int = 512, keys: Optional[Sequence[int]] = None
    ) -> Iterator[np.ndarray]:
        """Predictions for serialized DataRecords, ``batch_size`` records per request.

        Args:
          records: serialized DataRecords.
          batch_size: rows per BatchPredictionRequest.
          keys: the response keys to return as columns (default: all, sorted).

        Yields:
          float64 arrays ``[rows, len(keys)]``, one per request.

        Raises:
          ValueError: the model has no prediction for one of the keys.
        """
        batch: List[bytes] = []
        for record in records:
            batch.append(record)
            if len(batch) == batch_size:
                yield self._columns(self.predict_batch(batch), keys)
                batch = []
        if batch:
            yield self._columns(self.predict_batch(batch), keys)

    def _columns(self, values: np.ndarray, keys: Optional[Sequence[int]]) -> np.ndarray:
        have = self._keys.tolist() if self._keys is not None else []
        wanted = list(keys) if keys is not None else sorted(have)
        missing = [key for key in wanted if key not in have]
        if missing:
            raise ValueError("the model has no prediction for the keys %s (it has %s)" % (missing, sorted(have)))
        return values[:, [have.index(key) for key in wanted]].astype(np.float64)

    def close(self) -> None:
        """Releases the session."""
        self._session.close()

    def __enter__(self) -> "SavedModelPredictor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
