"""twml.trainers.DataRecordTrainer: a Trainer reading DataRecord block files (reference §8.2).

It lists the train and eval files from the params (a directory, optionally a date range of
``<data_dir>/<datetime_format>/*.lzo`` folders, cached in a files-list JSON), builds the input
functions with the FeatureConfig's parse function, and exports the default serving contract:
one serialized BatchPredictionRequest in (``request``, uint8), one BatchPredictionResponse out.
"""

import datetime
import logging
from typing import Any, Callable, Dict, List, Optional, Sequence

import tensorflow.compat.v1 as tf

from twml import export_output_fns, util
from twml.argument_parser import add_data_record_trainer_arguments
from twml.input_fns import data_record_input_fn
from twml.params import Params, get_param
from twml.spec_check import check_corrupt_records
from twml.trainers.trainer import Trainer

_LOG = logging.getLogger(__name__)

#: The keys of a files-list JSON that must match the current params for it to be reused.
FILES_LIST_KEYS = ("data_dir", "start_datetime", "end_datetime", "datetime_format", "hour_resolution")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y-%m-%d-%H", "%Y/%m/%d/%H", "%Y-%m-%dT%H", "%Y-%m-%dT%H:%M:%S")


def _parse_datetime(value: Any, datetime_format: str) -> Optional[datetime.datetime]:
    """A datetime of a flag value: a datetime, or a string in ``datetime_format`` or ISO-like forms."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    for fmt in (datetime_format,) + _DATE_FORMATS:
        try:
            return datetime.datetime.strptime(str(value), fmt)
        except ValueError:
            continue
    raise ValueError("cannot parse the date %r (expected %s or YYYY-MM-DD[-HH])" % (value, datetime_format))


def build_files_list(
    files_list_path: Optional[str],
    data_dir: Optional[str],
    start_datetime: Any,
    end_datetime: Any,
    datetime_format: str,
    data_threads: int,
    hour_resolution: int,
    maybe_save: bool,
    overwrite: bool = False,
) -> Optional[List[str]]:
    """The data files of a dataset, through a files-list JSON cache.

    If ``files_list_path`` exists and its saved ``data_dir``, ``start_datetime``,
    ``end_datetime``, ``datetime_format`` and ``hour_resolution`` match the current ones (or the
    current ones are all None) its ``files`` are used; otherwise the files are listed with
    :func:`twml.util.list_files_by_datetime` (``*.lzo``, sorted) and, when ``maybe_save`` (the
    chief) and the JSON is missing or ``overwrite``, saved.

    Returns:
      the sorted file paths, or None when there is neither a data_dir nor a files list.

    Raises:
      ValueError: a ``dal://`` path (Twitter's internal data access layer) or an unparsable date.
      OSError: no files found.
    """
    if data_dir and str(data_dir).startswith("dal://"):
        raise ValueError("%s: dal:// datasets are internal to Twitter; give a directory of block files" % data_dir)
    start = _parse_datetime(start_datetime, datetime_format)
    end = _parse_datetime(end_datetime, datetime_format)
    current = {
        "data_dir": data_dir,
        "start_datetime": start.isoformat() if start else None,
        "end_datetime": end.isoformat() if end else None,
        "datetime_format": datetime_format,
        "hour_resolution": hour_resolution,
    }
    saved = None
    if files_list_path and tf.io.gfile.exists(files_list_path) and not overwrite:
        saved = util.read_file(files_list_path, decode="json")
        if not isinstance(saved, dict) or not isinstance(saved.get("files"), list):
            raise ValueError("%s: a files list must be a JSON object with a 'files' list" % files_list_path)
        all_none = data_dir is None and start is None and end is None
        if all_none or all(saved.get(key) == current[key] for key in FILES_LIST_KEYS if key != "datetime_format"):
            _LOG.info("using the files list %s (%d files)", files_list_path, len(saved["files"]))
            return list(saved["files"])
        _LOG.info("the files list %s was made for other params; listing again", files_list_path)
    if data_dir is None:
        return None
    files = util.list_files_by_datetime(
        base_path=data_dir,
        start_datetime=start,
        end_datetime=end,
        datetime_prefix_format=datetime_format,
        extension="lzo",
        parallelism=max(1, int(data_threads)),
        hour_resolution=int(hour_resolution),
        sort=True,
    )
    if not files:
        raise OSError("no *.lzo files in %s" % data_dir)
    if files_list_path and maybe_save and (overwrite or not tf.io.gfile.exists(files_list_path)):
        util.write_file(files_list_path, dict(current, files=files), encode="json")
    return files


class DataRecordTrainer(Trainer):
    """A :class:`Trainer` over DataRecord block files described by a FeatureConfig.

    Args:
      name, params, build_graph_fn, **kwargs: as :class:`Trainer`; params also read the data
        flags of ``add_parser_arguments`` (``train_data_dir``, ``eval_data_dir``, date ranges,
        files lists, keep rates...).
      feature_config: a :class:`twml.FeatureConfig` (or contrib v2 config): its parse function
        (``features, labels = parse_fn(serialized)``), serving input and feature spec are the
        defaults of the input and export methods.

    With ``params.skip_corrupt_records`` the input pipelines skip corrupt records
    (``skip_corrupt``); before the first input function over a file list the chief reads those
    files once through the C++ core, logs how many records are corrupt, and stops with a
    ValueError when more than ``params.max_corrupt_records_ratio`` are.

    Raises:
      ValueError: train and eval files overlap (unless ``allow_train_eval_overlap``), bad dates.
    """

    def __init__(
        self, name: str, params: Params, build_graph_fn: Callable, feature_config: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(name=name, params=params, build_graph_fn=build_graph_fn, **kwargs)
        self._feature_config = feature_config
        self._corrupt_scans: Dict[tuple, Any] = {}
        params = self._params
        datetime_format = get_param(params, "datetime_format", "%Y/%m/%d")
        hour_resolution = get_param(params, "hour_resolution", 1)
        data_threads = get_param(params, "data_threads", 4)
        self._train_files = build_files_list(
            get_param(params, "train_files_list"),
            get_param(params, "train_data_dir"),
            get_param(params, "train_start_datetime"),
            get_param(params, "train_end_datetime"),
            datetime_format,
            data_threads,
            hour_resolution,
            maybe_save=self.is_chief(),
            overwrite=get_param(params, "train_overwrite_files_list", False),
        )
        if get_param(params, "eval_name") == "train":
            self._eval_files = self._train_files
        else:
            self._eval_files = build_files_list(
                get_param(params, "eval_files_list"),
                get_param(params, "eval_data_dir"),
                get_param(params, "eval_start_datetime"),
                get_param(params, "eval_end_datetime"),
                datetime_format,
                data_threads,
                hour_resolution,
                maybe_save=self.is_chief(),
                overwrite=get_param(params, "eval_overwrite_files_list", False),
            )
            if self._train_files and self._eval_files and not get_param(params, "allow_train_eval_overlap", False):
                overlap = sorted(set(self._train_files) & set(self._eval_files))
                if overlap:
                    raise ValueError(
                        "%d files are both train and eval files (e.g. %s); pass "
                        "--allow_train_eval_overlap if that is intended" % (len(overlap), overlap[0])
                    )

    @staticmethod
    def add_parser_arguments() -> Any:
        """The Trainer parser plus the DataRecord data flags of reference §9 (``--data_spec`` required)."""
        parser = Trainer.add_parser_arguments()
        add_data_record_trainer_arguments(parser)
        return parser

    @property
    def train_files(self) -> Optional[List[str]]:
        """The training files (sorted), or None."""
        return self._train_files

    @property
    def eval_files(self) -> Optional[List[str]]:
        """The evaluation files (sorted), or None."""
        return self._eval_files

    @property
    def feature_config(self) -> Any:
        """The FeatureConfig given at construction."""
        return self._feature_config

    # ------------------------------------------------------------------ input functions

    def _parse_fn(self, parse_fn: Optional[Callable]) -> Callable:
        if parse_fn is not None:
            return parse_fn
        if self._feature_config is None:
            raise ValueError("give a parse_fn or construct the DataRecordTrainer with a feature_config")
        return self._feature_config.get_parse_fn()

    def get_train_input_fn(
        self,
        parse_fn: Optional[Callable] = None,
        repeat: Optional[bool] = None,
        shuffle: bool = True,
        interleave: bool = True,
        shuffle_files: Optional[bool] = None,
        initializable: bool = False,
        log_tf_data_summaries: bool = False,
        **kwargs: Any,
    ) -> Callable[[], Any]:
        """An Estimator input_fn over the train files: ``train_batch_size`` batches of
        ``parse_fn(serialized)`` (default the feature config's), repeated when ``train_steps > 0``
        or distributed, sharded by worker when not shuffling with several workers.

        Raises:
          ValueError: no train files (give ``--train.data_dir`` or ``--train.files_list``).
        """
        params = self._params
        if not self._train_files:
            raise ValueError("no train files: give --train.data_dir or --train.files_list")
        if repeat is None:
            repeat = (get_param(params, "train_steps", -1) or -1) > 0 or bool(get_param(params, "distributed", False))
        shards = get_param(params, "train_dataset_shards")
        shard_index = get_param(params, "train_dataset_shard_index")
        if not shuffle and self.num_workers > 1 and shards is None:
            shards, shard_index = self.num_workers, self.worker_index
        return self._input_fn(
            self._train_files,
            int(params.train_batch_size),
            self._parse_fn(parse_fn),
            repeat,
            keep_rate=get_param(params, "train_keep_rate"),
            parts_downsampling_rate=get_param(params, "train_parts_downsampling_rate"),
            shards=shards,
            shard_index=shard_index,
            shuffle=shuffle,
            shuffle_files=shuffle if shuffle_files is None else shuffle_files,
            interleave=interleave,
            initializable=initializable,
            log_tf_data_summaries=log_tf_data_summaries,
            **kwargs,
        )

    def get_eval_input_fn(
        self,
        parse_fn: Optional[Callable] = None,
        repeat: Optional[bool] = None,
        shuffle: bool = True,
        interleave: bool = True,
        shuffle_files: Optional[bool] = None,
        initializable: bool = False,
        log_tf_data_summaries: bool = False,
        **kwargs: Any,
    ) -> Callable[[], Any]:
        """As :meth:`get_train_input_fn` over the eval files with the eval params; repeats when
        ``eval_steps > 0``; never sharded.

        Raises:
          ValueError: no eval files.
        """
        params = self._params
        if not self._eval_files:
            raise ValueError("no eval files: give --eval.data_dir or --eval.files_list (or --eval_name train)")
        if repeat is None:
            repeat = (get_param(params, "eval_steps", -1) or -1) > 0
        return self._input_fn(
            self._eval_files,
            int(params.eval_batch_size),
            self._parse_fn(parse_fn),
            repeat,
            keep_rate=get_param(params, "eval_keep_rate"),
            parts_downsampling_rate=get_param(params, "eval_parts_downsampling_rate"),
            shards=None,
            shard_index=None,
            shuffle=shuffle,
            shuffle_files=shuffle if shuffle_files is None else shuffle_files,
            interleave=interleave,
            initializable=initializable,
            log_tf_data_summaries=log_tf_data_summaries,
            **kwargs,
        )

    def _input_fn(
        self, files: Sequence[str], batch_size: int, parse_fn: Callable, repeat: bool, **kwargs: Any
    ) -> Callable[[], Any]:
        num_threads = int(get_param(self._params, "num_threads", 2))
        if get_param(self._params, "skip_corrupt_records", False):
            self._check_corrupt_records(files)
            kwargs.setdefault("skip_corrupt", True)

        def input_fn() -> Any:
            return data_record_input_fn(
                files=files, batch_size=batch_size, parse_fn=parse_fn, num_threads=num_threads, repeat=repeat, **kwargs
            )

        return input_fn

    def _check_corrupt_records(self, files: Sequence[str]) -> None:
        """``--skip_corrupt_records``: the chief scans each file list once before its first input
        function (:func:`twml.spec_check.check_corrupt_records`: counts logged, stop beyond
        ``--max_corrupt_records_ratio``)."""
        key = tuple(files)
        if not self.is_chief() or key in self._corrupt_scans:
            return
        what = "training" if list(files) == list(self._train_files or []) else "evaluation"
        self._corrupt_scans[key] = check_corrupt_records(
            files, float(get_param(self._params, "max_corrupt_records_ratio", 0.01)), what
        )

    # ------------------------------------------------------------------ train / evaluate defaults

    def train(
        self,
        input_fn: Optional[Callable] = None,
        steps: Optional[int] = None,
        hooks: Optional[Sequence[tf.train.SessionRunHook]] = None,
    ) -> "DataRecordTrainer":
        """:meth:`Trainer.train`; ``input_fn`` defaults to :meth:`get_train_input_fn`."""
        super().train(input_fn or self.get_train_input_fn(), steps=steps, hooks=hooks)
        return self

    def evaluate(
        self,
        input_fn: Optional[Callable] = None,
        steps: Optional[int] = None,
        hooks: Optional[Sequence[tf.train.SessionRunHook]] = None,
        name: Optional[str] = None,
        checkpoint_path: Optional[str] = None,
    ) -> Optional[Dict[str, Any]]:
        """:meth:`Trainer.evaluate`; ``input_fn`` defaults to the eval input (not repeated)."""
        return super().evaluate(
            input_fn or self.get_eval_input_fn(repeat=False),
            steps=steps,
            hooks=hooks,
            name=name,
            checkpoint_path=checkpoint_path,
        )

    def learn(  # type: ignore[override]  # the original's signature: Trainer.learn's other arguments by keyword
        self, train_input_fn: Optional[Callable] = None, eval_input_fn: Optional[Callable] = None, **kwargs: Any
    ) -> str:
        """:meth:`Trainer.learn` with the default input functions."""
        return super().learn(
            train_input_fn or self.get_train_input_fn(), eval_input_fn or self.get_eval_input_fn(), **kwargs
        )

    def train_and_evaluate(  # type: ignore[override]  # the original's signature, as learn's
        self, train_input_fn: Optional[Callable] = None, eval_input_fn: Optional[Callable] = None, **kwargs: Any
    ) -> None:
        """:meth:`Trainer.train_and_evaluate` with the default input functions."""
        return super().train_and_evaluate(
            train_input_fn or self.get_train_input_fn(), eval_input_fn or self.get_eval_input_fn(), **kwargs
        )

    def calibrate(
        self,
        calibrator: Any,
        steps: Optional[int] = None,
        input_fn: Optional[Callable] = None,
        save_calibrator: bool = True,
        hooks: Optional[Sequence[tf.train.SessionRunHook]] = None,
    ) -> None:
        """:meth:`Trainer.calibrate`; ``input_fn`` defaults to the train input (not repeated)."""
        return super().calibrate(
            calibrator,
            steps=steps,
            input_fn=input_fn or self.get_train_input_fn(repeat=False),
            save_calibrator=save_calibrator,
            hooks=hooks,
        )

    def _model_fn(self, features: Any, labels: Any, mode: str, params: Any, config: Any) -> Any:
        # A v2 (contrib) feature config's sparse outputs get their static [batch, 2**hash_space_bits] shape.
        if isinstance(features, dict) and hasattr(self._feature_config, "sparse_extraction_configs"):
            features = util.fix_shape_sparse(dict(features), self._feature_config)
        return super()._model_fn(features, labels, mode, params, config)

    # ------------------------------------------------------------------ export

    def _graph_output_for_export(self, graph_output: Dict[str, Any]) -> Dict[str, Any]:
        """Gives the response's columns the label feature ids when the output has one column per label."""
        config = self._feature_config
        labels = getattr(config, "label_features", None) if config is not None else None
        output = graph_output.get("output")
        if "keys" in graph_output or not labels or output is None:
            return graph_output
        shape = tf.convert_to_tensor(output).shape
        width = 1 if shape.ndims == 1 else (shape[-1] if shape.ndims == 2 else None)
        if width is not None and int(width) == len(labels):
            return dict(graph_output, keys=list(labels))
        return graph_output

    def export_model(
        self,
        serving_input_receiver_fn: Optional[Callable] = None,
        export_output_fn: Optional[Callable] = None,
        export_dir: Optional[str] = None,
        checkpoint_path: Optional[str] = None,
        feature_spec: Optional[Dict[str, Any]] = None,
        log_features: bool = True,
    ) -> Optional[str]:
        """:meth:`Trainer.export_model` with the default serving contract: the feature config's
        serving input (uint8 ``request`` = one serialized BatchPredictionRequest),
        :func:`twml.export_output_fns.batch_prediction_continuous_output_fn` and its feature spec."""
        config = self._feature_config
        if serving_input_receiver_fn is None:
            if config is None:
                raise ValueError("give a serving_input_receiver_fn or a feature_config")
            serving_input_receiver_fn = config.get_serving_input_receiver_fn()
        if feature_spec is None and config is not None:
            feature_spec = config.get_feature_spec()
        return super().export_model(
            serving_input_receiver_fn,
            export_output_fn=export_output_fn or export_output_fns.batch_prediction_continuous_output_fn,
            export_dir=export_dir,
            checkpoint_path=checkpoint_path,
            feature_spec=feature_spec,
            log_features=log_features,
        )

    def save_checkpoints_and_export_model(
        self,
        serving_input_receiver_fn: Optional[Callable] = None,
        export_output_fn: Optional[Callable] = None,
        export_dir: Optional[str] = None,
        checkpoint_path: Optional[str] = None,
        input_fn: Optional[Callable] = None,
    ) -> Optional[str]:
        """Trains one step (to write a checkpoint of, e.g., a calibrated or initialised graph), then exports."""
        super().train(input_fn or self.get_train_input_fn(), steps=1)
        return self.export_model(serving_input_receiver_fn, export_output_fn, export_dir, checkpoint_path)

    def save_checkpoints_and_evaluate(
        self,
        input_fn: Optional[Callable] = None,
        steps: Optional[int] = None,
        hooks: Optional[Sequence[tf.train.SessionRunHook]] = None,
        name: Optional[str] = None,
    ) -> Optional[Dict[str, Any]]:
        """Trains one step (writing a checkpoint), then evaluates."""
        super().train(self.get_train_input_fn(), steps=1)
        return self.evaluate(input_fn, steps=steps, hooks=hooks, name=name)

    def contrib_run_feature_importances(
        self,
        feature_importances_parse_fn: Optional[Callable] = None,
        write_to_hdfs: bool = True,
        extra_groups: Optional[Dict[str, List[str]]] = None,
        datarecord_filter_fn: Optional[Callable[[Any], bool]] = None,
        datarecord_filter_run_name: Optional[str] = None,
    ) -> Optional[Dict[str, Any]]:
        """Permutation feature importances of the trained model (``twml.contrib.feature_importances``),
        configured by the ``--feature_importance.*`` flags: algorithm (serial / tree), example_count,
        data_dir (default: the evaluation files), metric (the tree's stopping metric and the written
        one), sensitivity, dont_build_tree, split_feature_group_on_period and
        is_metric_larger_the_better / is_metric_smaller_the_better (neither: larger is better unless
        the metric name starts with "loss").

        Args:
          feature_importances_parse_fn: default the feature config's parse function.
          write_to_hdfs: write the sorted TSV ``<save_dir>/feature_importances-<run name or time>``
            (any TF file system, written whole at once).
          extra_groups: tree algorithm: group name -> feature-name regexes permuted together.
          datarecord_filter_fn: keeps the loaded ``DataRecord`` objects for which it returns True.
          datarecord_filter_run_name: the TSV name's suffix.

        Returns:
          ``{"Individual": {name: metrics, "None": baseline}, "Group": {prefix: metrics}}``, or None
          without a feature config. Also written as ``<save_dir>/feature_importances.json``.
        """
        # deferred: twml.contrib (a layer above) imports twml.trainers (cycle)
        from twml.contrib.feature_importances import feature_importances as fi

        params = self._params
        algorithm = get_param(params, "feature_importance_algorithm", fi.TREE)
        metric = get_param(params, "feature_importance_metric", fi.ROC_AUC)
        kwargs: Dict[str, Any] = {}
        if algorithm == fi.TREE:
            larger = get_param(params, "is_metric_larger_the_better", False)
            smaller = get_param(params, "is_metric_smaller_the_better", False)
            if larger and smaller:
                raise ValueError(
                    "--feature_importance.is_metric_larger_the_better and "
                    "--feature_importance.is_metric_smaller_the_better exclude each other"
                )
            kwargs.update(
                stopping_metric=metric,
                sensitivity=get_param(params, "feature_importance_sensitivity", 0.03),
                dont_build_tree=get_param(params, "dont_build_tree", False),
                split_feature_group_on_period=get_param(params, "split_feature_group_on_period", False),
                extra_groups=extra_groups,
                is_metric_larger_the_better=True if larger else (False if smaller else None),
            )
        _LOG.info("computing feature importances (%s algorithm)", algorithm)
        importances = fi.compute_feature_importances(
            self,
            data_dir=get_param(params, "feature_importance_data_dir"),
            feature_config=self._feature_config,
            algorithm=algorithm,
            parse_fn=feature_importances_parse_fn,
            datarecord_filter_fn=datarecord_filter_fn,
            record_count=get_param(params, "feature_importance_example_count", 10000),
            **kwargs,
        )
        if not importances:
            _LOG.info("no feature importances computed")
            return importances
        if write_to_hdfs:
            fi.write_feature_importances_to_hdfs(
                self, importances, output_path=datarecord_filter_run_name, metric=metric
            )
        fi.write_feature_importances_to_ml_dash(self, importances, feature_config=self._feature_config)
        return importances
