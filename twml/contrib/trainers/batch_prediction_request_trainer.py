"""BatchPredictionRequestTrainer: a DataRecordTrainer whose file records are whole BatchPredictionRequests.

Each record of the block files is one serialized BatchPredictionRequest (a list of DataRecords, e.g.
the candidates of one query, plus optional common features): the batch is the request, so the
train and eval batch sizes are forced to 1 (one request per step). Ranking losses
(``--loss_function``) compare the rows of one request.
"""

import logging
from typing import Any, Callable, Optional, Sequence, Tuple

import tensorflow.compat.v1 as tf

import libtwml
from twml import util
from twml.argument_parser import add_batch_prediction_request_trainer_arguments
from twml.parsers import check_keep_fields
from twml.readers.hashed_data_record import HashedDataRecord
from twml.trainers.data_record_trainer import DataRecordTrainer

_LOG = logging.getLogger(__name__)

__all__ = ["BatchPredictionRequestTrainer", "get_batch_prediction_request_parse_fn"]


class _LabeledHashedBatchPredictionRequest(HashedDataRecord):
    """One serialized BatchPredictionRequest decoded with per-row labels and weights
    (``DecodeAndHashBatchPredictionRequestV2``): its rows are the request's records, each with the
    request's common features first. ``serialized`` is a string ``[1]`` (one request) or uint8 ``[bytes]``."""

    def _decode(self, serialized: Any) -> tf.Tensor:
        config = self.feature_config
        return libtwml.ops.decode_and_hash_batch_prediction_request_v2(
            serialized,
            keep_features=config.keep_features,
            keep_codes=config.keep_codes,
            label_features=self._label_columns,
            weight_features=config.weight_features,
            decode_mode=config.decode_mode,
        )


def get_batch_prediction_request_parse_fn(
    feature_config: Any, keep_fields: Optional[Sequence[str]] = None
) -> Callable[[tf.Tensor], Tuple[Any, tf.Tensor]]:
    """A parse function of one serialized BatchPredictionRequest with its records' labels.

    Args:
      feature_config: a :class:`twml.FeatureConfig` (keep map, labels, weight, filters).
      keep_fields: hashed-record fields as :func:`twml.parsers.get_sparse_parse_fn` (None: its defaults).

    Returns:
      ``fn(serialized: string [1]) -> (features, labels)``: the request's N records as a batch, with
      the fields of :func:`twml.parsers.get_sparse_parse_fn` (common features prepended to each row),
      ``weights`` float32 ``[N, 1]`` and labels float32 ``[N, n_labels]``; filters applied.
    """
    fields = check_keep_fields(keep_fields)
    if feature_config.filters and "ids" not in fields:
        raise ValueError("a feature config with filters needs 'ids' in keep_fields")

    def parse(serialized: tf.Tensor) -> Tuple[Any, tf.Tensor]:
        record = _LabeledHashedBatchPredictionRequest(serialized, feature_config)
        return record.apply_filter(record.get_features(fields), record.labels)

    return parse


class BatchPredictionRequestTrainer(DataRecordTrainer):
    """A :class:`twml.trainers.DataRecordTrainer` over block files of serialized BatchPredictionRequests.

    ``train_batch_size`` and ``eval_batch_size`` are forced to 1: each step reads one request, whose
    records form the batch seen by ``build_graph_fn``. The default parse function is
    :func:`get_batch_prediction_request_parse_fn` of the feature config (labels and weights read
    from every record). Serving is DataRecordTrainer's (one BatchPredictionRequest in).

    Args:
      name, params, build_graph_fn, feature_config, **kwargs: as DataRecordTrainer; params usually
        come from :meth:`add_parser_arguments`.
    """

    def __init__(
        self, name: str, params: Any, build_graph_fn: Callable, feature_config: Any = None, **kwargs: Any
    ) -> None:
        params = util.convert_to_hparams(params)  # a copy: the caller's params keep their batch sizes
        for key in ("train_batch_size", "eval_batch_size"):
            value = getattr(params, key, None)
            if value not in (None, 1):
                _LOG.warning("BatchPredictionRequestTrainer: %s=%s overridden to 1 (one request per batch)", key, value)
            setattr(params, key, 1)
        super().__init__(
            name=name, params=params, build_graph_fn=build_graph_fn, feature_config=feature_config, **kwargs
        )

    @staticmethod
    def add_parser_arguments() -> Any:
        """DataRecordTrainer's parser plus the BatchPredictionRequest flags of reference §9."""
        parser = DataRecordTrainer.add_parser_arguments()
        add_batch_prediction_request_trainer_arguments(parser)
        return parser

    def _parse_fn(self, parse_fn: Optional[Callable]) -> Callable:
        if parse_fn is not None:
            return parse_fn
        if self._feature_config is None:
            raise ValueError("give a parse_fn or construct the BatchPredictionRequestTrainer with a feature_config")
        return get_batch_prediction_request_parse_fn(self._feature_config)
