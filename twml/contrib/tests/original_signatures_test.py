"""The original twml's signatures where the rebuild first differed (the contract's twml-surface.md §F and
§E): parameter names, kinds, order and defaults, checked with ``inspect.signature``.

Each expected signature is the contract's text, parsed with ``ast``. A parameter of the original must be
positional-or-keyword at the same position with an equal default (literal defaults compared by value;
defaults that are objects are checked by the predicates in ``OBJECT_DEFAULTS``). The rebuild may add
parameters only where no original caller can see them: keyword-only ones with defaults, and ``**kwargs``.
"""

import ast
import importlib
import inspect

import pytest
import tensorflow.compat.v1 as tf

import twml
import twml.contrib.calibrators.common_calibrators as common_calibrators
import twml.contrib.export.exporters as exporters
import twml.contrib.feature_config_parsers as feature_config_parsers
import twml.contrib.layers.hashed_percentile_discretizer as hashed_percentile_discretizer
import twml.contrib.metrics.metrics as contrib_metrics
import twml.contrib.metrics.search_metrics as search_metrics
import twml.dataset
import twml.metrics
import twml.util

# The functions full_dense, stacked_rnn and zscore_normalization shadow their modules in twml.contrib.layers
# (as in the original), so the modules come from importlib.
contrib_full_dense = importlib.import_module("twml.contrib.layers.full_dense")
stacked_rnn = importlib.import_module("twml.contrib.layers.stacked_rnn")
zscore_normalization = importlib.import_module("twml.contrib.layers.zscore_normalization")
FULL_DENSE_ARGS = (
    "weight_initializer=None, weight_regularizer=None, weight_constraint=None, bias_constraint=None, "
    "num_partitions=3, activation=None, use_bias=True, bias_initializer=tf.zeros_initializer(), "
    "bias_regularizer=None, activity_regularizer=None, trainable=True, name=None"
)

#: (callable, the original's parameter list as the contract writes it)
EXPECTED = [
    (contrib_full_dense.FullDense, "output_size, " + FULL_DENSE_ARGS + ", **kwargs"),
    (contrib_full_dense.full_dense, "inputs, output_size, " + FULL_DENSE_ARGS + ", reuse=None, **kwargs"),
    (
        stacked_rnn.StackedRNN,
        "num_units, dropout=0, is_training=True, cell_type='LSTM', is_bidirectional=False, name='stacked_rnn'",
    ),
    (
        stacked_rnn.stacked_rnn,
        "inputs, sequence_lengths, num_units, dropout=0, is_training=True, cell_type='LSTM', "
        "is_bidirectional=False, name='stacked_rnn'",
    ),
    (zscore_normalization.ZscoreNormalization, "decay=0.9999, data_type=tf.float64, name=None, **kwargs"),
    (
        zscore_normalization.zscore_normalization,
        "input, is_training, decay=0.9999, data_type=tf.float64, name=None, dense_mask=None, zero_debias=True, "
        "handle_single=False, **kwargs",
    ),
    (zscore_normalization.update_moving_variable, "batch_var, moving_var, decay, zero_debias=True, name=None"),
    (contrib_metrics.get_partial_multi_binary_class_metric_fn, "metrics, classes=None, class_dim=1, predcols=None"),
    (contrib_metrics.mean_numeric_label_topK, "labels, predictions, weights, name, topK_id"),
    (contrib_metrics.mean_gated_numeric_label_topK, "labels, predictions, weights, name, topK_id, bar=2.0"),
    (contrib_metrics.get_single_binary_task_metric_fn, "metrics, classnames, topK=(5,5,5), use_topK=False"),
    (contrib_metrics.get_dual_binary_tasks_metric_fn, "metrics, classnames, topK=(5,5,5), use_topK=False"),
    (
        contrib_metrics.get_metric_topK_fn_helper,
        "targetMetrics, supportedMetrics_op, metrics=None, topK=(5,5,5), predcol=None, labelcol=None",
    ),
    (contrib_metrics.get_numeric_metric_fn, "metrics=None, topK=(5,5,5), predcol=None, labelcol=None"),
    (
        hashed_percentile_discretizer.HashedPercentileDiscretizer,
        "n_feature, n_bin, out_bits, bin_values, hash_keys, hash_values, bin_ids, feature_offsets, "
        "hash_fn=integer_multiplicative_hashing_uniform",
    ),
    (
        exporters.BestExporter,
        "name='best_exporter', input_receiver_fn_map=None, backup_checkpoints=True, "
        "event_file_pattern='eval/*.tfevents.*', compare_fn=loss_smaller, assets_extra=None, "
        "as_text=False, exports_to_keep=5",
    ),
    (feature_config_parsers.create_feature_config, "config_path, data_spec_path"),
    (feature_config_parsers.create_feature_config_from_dict, "config_dict, data_spec_path"),
    (common_calibrators.calibrate, "trainer, params, build_graph, input_fn, debug=False"),
    (common_calibrators.discretize, "params, feature_config, input_fn, debug=False"),
    (common_calibrators.build_isotonic_graph, "features, label, mode, params, config=None, export_discretizer=True"),
    (
        common_calibrators.build_isotonic_graph_from_inputs,
        "inputs, features, label, mode, params, config=None, isotonic_fn=None",
    ),
    (
        search_metrics.ndcg,
        "labels, predictions, metrics_collections=None, updates_collections=None, name=None, top_k_int=1",
    ),
    (
        twml.dataset.zookeeper_ordered_dataset,
        "files, parse_fn, batch_size, zk_counter_path, repeat=False, num_threads=2, block_length=None, "
        "part_file_parallelism=None, batch_shuffle_size=None, file_keep_rate=None, record_keep_rate=None, "
        "prefetch_size=2, interleave=False, dataset_fn=None, verbose=False",
    ),
    (twml.dataset.cx_zk_path, "path"),
    (twml.util.copy_to_local, "remote, local, filename, overwrite=False"),
    (twml.util.touch_file_in_dir, "directory, filename"),
    (twml.util.file_exist_in_dir, "directory, filename"),
    (twml.util.get_checkpoint_variable_names, "model_dir, exclude_var_names=None, exclude_scopes=None"),
    (twml.util.get_scope_dict, "init_dir, incoming_scope_name, current_scope_name, model_name=None"),
    (
        twml.metrics.rce,
        "labels, predictions, weights=None, normalize=False, arce=False, up_weight=True, "
        "metrics_collections=None, updates_collections=None, name=None, deprecated_rce=False",
    ),
    (twml.metrics.rce_transform, "outputs, labels, weights"),
    (twml.metrics.rce_metric, "aggregates"),
]

#: Defaults that are objects, not literals: the contract's expression -> a check of the actual default.
OBJECT_DEFAULTS = {
    "tf.zeros_initializer()": lambda value: isinstance(value, tf.zeros_initializer),
    "tf.float64": lambda value: value == tf.float64,
    "integer_multiplicative_hashing_uniform": lambda value: (
        value is hashed_percentile_discretizer.integer_multiplicative_hashing_uniform
    ),
    # "compare_fn=<loss smaller>": a function (best, current) -> current['loss'] < best['loss']
    "loss_smaller": lambda value: value({"loss": 2.0}, {"loss": 1.0}) and not value({"loss": 1.0}, {"loss": 2.0}),
}

REQUIRED = inspect.Parameter.empty


def parse_expected(text):
    """[(name, kind, default expression or literal)] of a parameter list written as in the contract."""
    arguments = ast.parse("def f(%s): pass" % text).body[0].args
    positional = arguments.args
    defaults = [REQUIRED] * (len(positional) - len(arguments.defaults)) + list(arguments.defaults)
    expected = []
    for argument, default in zip(positional, defaults):
        if default is not REQUIRED:
            source = ast.unparse(default)
            default = source if source in OBJECT_DEFAULTS else ast.literal_eval(default)
        expected.append((argument.arg, inspect.Parameter.POSITIONAL_OR_KEYWORD, default))
    if arguments.kwarg is not None:
        expected.append((arguments.kwarg.arg, inspect.Parameter.VAR_KEYWORD, REQUIRED))
    return expected


def actual_parameters(target):
    function = target.__init__ if inspect.isclass(target) else target
    parameters = list(inspect.signature(function).parameters.values())
    return parameters[1:] if inspect.isclass(target) else parameters


def label(target):
    return "%s.%s" % (target.__module__, target.__qualname__)


@pytest.mark.parametrize("target,text", EXPECTED, ids=[label(target) for target, _ in EXPECTED])
def test_signature_is_the_originals(target, text):
    expected = parse_expected(text)
    actual = actual_parameters(target)
    visible = [p for p in actual if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    expected_positional = [e for e in expected if e[1] == inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert [(p.name, p.kind) for p in visible] == [(name, kind) for name, kind, _ in expected_positional], label(target)
    for parameter, (name, _, default) in zip(visible, expected_positional):
        if default is REQUIRED:
            assert parameter.default is REQUIRED, "%s: %s has a default" % (label(target), name)
        elif isinstance(default, str) and default in OBJECT_DEFAULTS:
            assert OBJECT_DEFAULTS[default](parameter.default), "%s: default of %s" % (label(target), name)
        else:
            assert parameter.default == default and type(parameter.default) is type(default), (
                "%s: default of %s is %r, the original's %r" % (label(target), name, parameter.default, default)
            )
    if any(kind == inspect.Parameter.VAR_KEYWORD for _, kind, _ in expected):
        assert actual[-1].kind == inspect.Parameter.VAR_KEYWORD, "%s takes no **kwargs" % label(target)
    # What the rebuild adds is invisible to the original's callers: keyword-only with a default, or **kwargs.
    for parameter in actual:
        if parameter.kind == parameter.KEYWORD_ONLY:
            assert parameter.default is not REQUIRED, "%s: keyword-only %s needs a default" % (
                label(target),
                parameter.name,
            )


def test_parser_reads_the_contract_text():
    assert parse_expected("a, b=1, c='x', d=(5,5,5), e=tf.float64, **kw") == [
        ("a", inspect.Parameter.POSITIONAL_OR_KEYWORD, REQUIRED),
        ("b", inspect.Parameter.POSITIONAL_OR_KEYWORD, 1),
        ("c", inspect.Parameter.POSITIONAL_OR_KEYWORD, "x"),
        ("d", inspect.Parameter.POSITIONAL_OR_KEYWORD, (5, 5, 5)),
        ("e", inspect.Parameter.POSITIONAL_OR_KEYWORD, "tf.float64"),
        ("kw", inspect.Parameter.VAR_KEYWORD, REQUIRED),
    ]


def test_package_level_names_are_the_same_objects():
    assert twml.contrib.layers.full_dense is contrib_full_dense.full_dense
    assert twml.contrib.layers.stacked_rnn is stacked_rnn.stacked_rnn
    assert twml.contrib.layers.zscore_normalization is zscore_normalization.zscore_normalization
    assert twml.contrib.metrics.ndcg is search_metrics.ndcg
    assert twml.contrib.calibrators.discretize is common_calibrators.discretize
