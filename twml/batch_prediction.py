"""Batch prediction with an exported twml SavedModel: DataRecords in, predictions out.

A DataRecordTrainer export serves one serialized BatchPredictionRequest per call (the uint8
``request`` input) and answers a serialized BatchPredictionResponse (the ``prediction`` output of
the ``serving_default`` signature): one DataRecord per request row, mapping each output column's
key (the label's feature id) to its prediction as a continuous feature. This module builds the
requests from serialized DataRecords, runs the model in a session and decodes the responses.
"""

from typing import Dict, Iterable, Iterator, List, Optional, Sequence

import numpy as np
import tensorflow.compat.v1 as tf

import libtwml

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


class SavedModelPredictor:
    """Runs a SavedModel exported with the default twml serving contract.

    Args:
      export_dir: the SavedModel directory (with ``saved_model.pb``).
      signature: the signature to run (default ``serving_default``).
      session_config: an optional ``tf.ConfigProto``.

    Raises:
      ValueError: the signature has no ``request`` input or no ``prediction`` output.
    """

    def __init__(self, export_dir: str, signature: str = _SERVING_KEY,
                 session_config: Optional[tf.ConfigProto] = None) -> None:
        import libtwml.ops  # noqa: F401 - the export's graph uses twml's ops: register them first

        self._graph = tf.Graph()
        self._session = tf.Session(graph=self._graph, config=session_config)
        meta_graph = tf.saved_model.loader.load(self._session, [tf.saved_model.tag_constants.SERVING], export_dir)
        if signature not in meta_graph.signature_def:
            raise ValueError("%s has no signature %r (it has %s)"
                             % (export_dir, signature, sorted(meta_graph.signature_def)))
        signature_def = meta_graph.signature_def[signature]
        if "request" not in signature_def.inputs or "prediction" not in signature_def.outputs:
            raise ValueError("%s: signature %r must map the input 'request' to the output 'prediction' (it maps %s "
                             "to %s)" % (export_dir, signature, sorted(signature_def.inputs),
                                         sorted(signature_def.outputs)))
        self._request = self._graph.get_tensor_by_name(signature_def.inputs["request"].name)
        self._prediction = self._graph.get_tensor_by_name(signature_def.outputs["prediction"].name)

    def predict_request(self, request: bytes) -> bytes:
        """The serialized BatchPredictionResponse of one serialized BatchPredictionRequest."""
        response = self._session.run(self._prediction, {self._request: np.frombuffer(request, np.uint8)})
        return np.asarray(response, np.uint8).tobytes()

    def predict_records(self, records: Iterable[bytes], batch_size: int = 512,
                        keys: Optional[Sequence[int]] = None) -> Iterator[np.ndarray]:
        """Predictions for serialized DataRecords, ``batch_size`` records per request.

        Args:
          records: serialized DataRecords.
          batch_size: rows per BatchPredictionRequest.
          keys: the response keys to return as columns (default: the first response row's keys,
            sorted).

        Yields:
          float64 arrays ``[rows, len(keys)]``, one per request.

        Raises:
          ValueError: a response row lacks one of the keys.
        """
        batch: List[bytes] = []
        for record in records:
            batch.append(record)
            if len(batch) == batch_size:
                yield self._predict_batch(batch, keys)
                batch = []
        if batch:
            yield self._predict_batch(batch, keys)

    def _predict_batch(self, batch: Sequence[bytes], keys: Optional[Sequence[int]]) -> np.ndarray:
        rows = decode_batch_prediction_response(self.predict_request(encode_batch_prediction_request(batch)))
        if len(rows) != len(batch):
            raise ValueError("the model answered %d rows for %d records" % (len(rows), len(batch)))
        columns = list(keys) if keys is not None else sorted(rows[0]) if rows else []
        out = np.empty((len(rows), len(columns)), np.float64)
        for i, row in enumerate(rows):
            try:
                out[i] = [row[key] for key in columns]
            except KeyError as error:
                raise ValueError("response row %d has no prediction for key %s (it has %s)"
                                 % (i, error, sorted(row))) from None
        return out

    def close(self) -> None:
        """Releases the session."""
        self._session.close()

    def __enter__(self) -> "SavedModelPredictor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

