"""twml.argument_parser and the calibrator argument helpers: every flag of reference §9, table-driven."""

import argparse
import importlib
import importlib.util
import logging
import math
import os
import re

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml  # noqa: F401  (graph mode, as in every twml program)
from twml.argument_parser import (
    add_batch_prediction_request_trainer_arguments,
    add_data_record_trainer_arguments,
    add_pruning_arguments,
    check_unsupported_params,
    get_trainer_parser,
    parse_comma_separated_list,
)
from twml.learning_rate_decay import get_learning_rate_decay_fn
from twml.util import HParams


def import_contrib(name, relative_path):
    """Imports a twml.contrib module; falls back to its source file when //twml/contrib is not a dep.

    The //twml:*_test targets depend on //twml only, whose glob stops at the twml/contrib package;
    the file is then loaded from the source tree that the runfiles symlink into.
    """
    try:
        return importlib.import_module(name)
    except ImportError:
        root = os.path.dirname(os.path.realpath(twml.__file__))
        spec = importlib.util.spec_from_file_location(
            "_local_" + name.replace(".", "_"), os.path.join(root, relative_path)
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


_contrib = import_contrib(
    "twml.contrib.calibrators.calibrator_arguments", "contrib/calibrators/calibrator_arguments.py"
)
add_discretizer_arguments = _contrib.add_discretizer_arguments
add_isotonic_calibrator_arguments = _contrib.add_isotonic_calibrator_arguments
calibrator_arguments = _contrib.calibrator_arguments
discretizer_arguments = _contrib.discretizer_arguments

FLAG = "flag"  # store_true: no value, parsed value True

# (aliases, dest, default, command-line value, parsed value) — transcribed from the §9 Trainer table.
TRAINER_TABLE = [
    (["--export_dir"], "export_dir", None, "/x", "/x"),
    (["--log_aggregation_app_id"], "log_aggregation_app_id", None, "app", "app"),
    (["--train.batch_size", "--train_batch_size"], "train_batch_size", 32, "7", 7),
    (["--eval.batch_size", "--eval_batch_size"], "eval_batch_size", 32, "9", 9),
    (["--train.learning_rate", "--learning_rate"], "learning_rate", 0.002, "0.5", 0.5),
    (["--train.steps", "--train_steps"], "train_steps", -1, "100", 100),
    (["--eval.steps", "--eval_steps"], "eval_steps", -1, "10", 10),
    (["--eval.period", "--eval_period"], "eval_period", 600, "60", 60),
    (["--eval.delay", "--eval_delay"], "eval_delay", 120, "5", 5),
    (["--train.max_steps", "--train_max_steps"], "train_max_steps", None, "1000", 1000),
    (["--train.log_metrics"], "train_log_metrics", False, FLAG, True),
    (["--train.early_stop_patience", "--early_stop_patience"], "early_stop_patience", -1, "3", 3),
    (["--train.early_stop_tolerance", "--early_stop_tolerance"], "early_stop_tolerance", 0, "0.25", 0.25),
    (["--train.dataset_shards", "--train_dataset_shards"], "train_dataset_shards", None, "4", 4),
    (["--train.dataset_shard_index", "--train_dataset_shard_index"], "train_dataset_shard_index", None, "2", 2),
    (["--continue_from_checkpoint"], "continue_from_checkpoint", False, FLAG, True),
    (["--overwrite_save_dir"], "overwrite_save_dir", False, FLAG, True),
    (["--data_threads", "--num_threads"], "num_threads", 2, "8", 8),
    (["--max_duration"], "max_duration", None, "1.5", 1.5),
    (["--num_workers"], "num_workers", None, "3", 3),
    (["--distributed"], "distributed", False, FLAG, True),
    (["--distributed_training_cleanup"], "distributed_training_cleanup", False, FLAG, True),
    (["--disable_auto_ps_shutdown"], "disable_auto_ps_shutdown", False, FLAG, True),
    (["--disable_tensorboard"], "disable_tensorboard", False, FLAG, True),
    (["--tensorboard_port"], "tensorboard_port", None, "6006", 6006),
    (["--health_port"], "health_port", None, "81", 81),
    (["--stats_port"], "stats_port", None, "82", 82),
    (["--experiment_tracking_path"], "experiment_tracking_path", None, "u:p:e:r", "u:p:e:r"),
    (["--disable_experiment_tracking"], "disable_experiment_tracking", False, FLAG, True),
    (["--config.save_checkpoints_secs", "--save_checkpoints_secs"], "save_checkpoints_secs", 600, "30", 30),
    (["--config.keep_checkpoint_max", "--keep_checkpoint_max"], "keep_checkpoint_max", 20, "3", 3),
    (["--config.tf_random_seed", "--tf_random_seed"], "tf_random_seed", None, "42", 42),
    (["--optimizer"], "optimizer", "SGD", "Adam", "Adam"),
    (["--gradient_noise_scale"], "gradient_noise_scale", None, "0.1", 0.1),
    (["--clip_gradients"], "clip_gradients", None, "5", 5.0),
    (["--dgc.density", "--dgc_density"], "dgc_density", 0.1, "0.3", 0.3),
    (["--dgc.density_decay", "--dgc_density_decay"], "dgc_density_decay", True, "false", False),
    (["--dgc.density_decay_steps", "--dgc_density_decay_steps"], "dgc_density_decay_steps", 10000, "50", 50),
    (["--dgc.density_decay_rate", "--dgc_density_decay_rate"], "dgc_density_decay_rate", 0.5, "0.9", 0.9),
    (["--dgc.min_density", "--dgc_min_density"], "dgc_min_density", 0.1, "0.01", 0.01),
    (["--dgc.accumulation", "--dgc_accumulation"], "dgc_accumulation", False, "true", True),
    (["--show_optimizer_summaries"], "show_optimizer_summaries", False, FLAG, True),
    (["--num_mkl_threads"], "num_mkl_threads", 1, "4", 4),
    (["--feature_importance.algorithm"], "feature_importance_algorithm", "tree", "serial", "serial"),
    (["--feature_importance.sensitivity"], "feature_importance_sensitivity", 0.03, "0.5", 0.5),
    (["--feature_importance.dont_build_tree"], "dont_build_tree", False, FLAG, True),
    (["--feature_importance.split_feature_group_on_period"], "split_feature_group_on_period", False, FLAG, True),
    (["--feature_importance.example_count"], "feature_importance_example_count", 10000, "5", 5),
    (["--feature_importance.data_dir"], "feature_importance_data_dir", None, "/d", "/d"),
    (["--feature_importance.metric"], "feature_importance_metric", "roc_auc", "pr_auc", "pr_auc"),
    (["--feature_importance.is_metric_larger_the_better"], "is_metric_larger_the_better", False, FLAG, True),
    (["--feature_importance.is_metric_smaller_the_better"], "is_metric_smaller_the_better", False, FLAG, True),
]

DATA_RECORD_TABLE = [
    (["--train.files_list", "--train_files_list"], "train_files_list", None, "/l", "/l"),
    (["--train.overwrite_files_list", "--train_overwrite_files_list"], "train_overwrite_files_list", False, FLAG, True),
    (["--train.data_dir", "--train_data_dir"], "train_data_dir", None, "hdfs://a/b", "hdfs://a/b"),
    (["--train.start_date", "--train_start_datetime"], "train_start_datetime", None, "2020/01/01", "2020/01/01"),
    (["--train.end_date", "--train_end_datetime"], "train_end_datetime", None, "2020/01/02", "2020/01/02"),
    (["--eval.files_list", "--eval_files_list"], "eval_files_list", None, "/e", "/e"),
    (["--eval.overwrite_files_list", "--eval_overwrite_files_list"], "eval_overwrite_files_list", False, FLAG, True),
    (["--eval.data_dir", "--eval_data_dir"], "eval_data_dir", None, "/ed", "/ed"),
    (["--eval.start_date", "--eval_start_datetime"], "eval_start_datetime", None, "2021/01/01", "2021/01/01"),
    (["--eval.end_date", "--eval_end_datetime"], "eval_end_datetime", None, "2021/02/01", "2021/02/01"),
    (["--datetime_format"], "datetime_format", "%Y/%m/%d", "%Y-%m-%d", "%Y-%m-%d"),
    (["--hour_resolution"], "hour_resolution", None, "2", 2),
    (["--train.keep_rate", "--train_keep_rate"], "train_keep_rate", None, "0.5", 0.5),
    (["--eval.keep_rate", "--eval_keep_rate"], "eval_keep_rate", None, "0.25", 0.25),
    (
        ["--train.parts_downsampling_rate", "--train_parts_downsampling_rate"],
        "train_parts_downsampling_rate",
        None,
        "0.2",
        0.2,
    ),
    (
        ["--eval.parts_downsampling_rate", "--eval_parts_downsampling_rate"],
        "eval_parts_downsampling_rate",
        None,
        "0.3",
        0.3,
    ),
    (["--allow_train_eval_overlap"], "allow_train_eval_overlap", False, FLAG, True),
    (["--eval_name"], "eval_name", None, "train", "train"),
]

BATCH_PREDICTION_TABLE = [
    (["--model.use_existing_discretizer"], "model_use_existing_discretizer", False, FLAG, True),
    (["--model.use_binary_values"], "model_use_binary_values", False, FLAG, True),
    (["--input_size_bits"], "input_size_bits", 12, "18", 18),
    (["--loss_function"], "loss_function", "ranknet", "listmle", "listmle"),
    (["--use_dense_tensor"], "use_dense_tensor", False, FLAG, True),
    (
        ["--dense_normalization"],
        "dense_normalization",
        "mean_max_normalizaiton",
        "standard_normalizaiton",
        "standard_normalizaiton",
    ),
    (["--sparse_normalization"], "sparse_normalization", "SparseMaxNorm", "SparseBatchNorm", "SparseBatchNorm"),
    (["--mask"], "mask", "full_mask", "diag_mask", "diag_mask"),
]

PRUNING_TABLE = [
    (["--pruning.iter"], "pruning_iter", 5000, "10", 10),
    (["--pruning.burn_in"], "pruning_burn_in", 100000, "20", 20),
    (["--pruning.flops_target"], "pruning_flops_target", 250000, "30", 30),
    (["--pruning.decay"], "pruning_decay", 0.9999, "0.5", 0.5),
]

ADD_DISCRETIZER_TABLE = [
    (["--discretizer.save_dir"], "discretizer_save_dir", None, "/s", "/s"),
    (["--discretizer.batch_size"], "discretizer_batch_size", 128, "64", 64),
    (["--discretizer.keep_rate"], "discretizer_keep_rate", 0.0008, "0.1", 0.1),
    (["--discretizer.parts_downsampling_rate"], "discretizer_parts_downsampling_rate", 0.2, "0.5", 0.5),
    (["--discretizer.num_bins"], "discretizer_num_bins", 20, "7", 7),
    (["--discretizer.output_size_bits"], "discretizer_output_size_bits", 22, "10", 10),
]

DISCRETIZER_ARGUMENTS_TABLE = [
    (["--discretizer_batch_size"], "discretizer_batch_size", 128, "64", 64),
    (["--discretizer_keep_rate"], "discretizer_keep_rate", 0.0008, "0.1", 0.1),
    (["--discretizer_parts_downsampling_rate"], "discretizer_parts_downsampling_rate", 0.2, "0.5", 0.5),
    (["--discretizer_max_steps"], "discretizer_max_steps", None, "9", 9),
    (["--discretizer.save_dir"], "discretizer_save_dir", None, "/s", "/s"),
]

DISCRETIZER_OWN_PARSER_TABLE = [
    (["--overwrite_save_dir"], "overwrite_save_dir", False, FLAG, True),
    (["--train.data_dir"], "train_data_dir", None, "/t", "/t"),
    (["--train.start_date"], "train_start_datetime", None, "2020/01/01", "2020/01/01"),
    (["--train.end_date"], "train_end_datetime", None, "2020/01/03", "2020/01/03"),
    (["--datetime_format"], "datetime_format", "%Y/%m/%d", "%Y", "%Y"),
    (["--hour_resolution"], "hour_resolution", None, "1", 1),
    (["--tensorboard_port"], "tensorboard_port", None, "1", 1),
    (["--stats_port"], "stats_port", None, "2", 2),
    (["--health_port"], "health_port", None, "3", 3),
]

CALIBRATOR_TABLE = [
    (["--calibrator.save_dir"], "calibrator_save_dir", None, "/c", "/c"),
    (["--calibrator_batch_size"], "calibrator_batch_size", 128, "4", 4),
    (["--calibrator_parts_downsampling_rate"], "calibrator_parts_downsampling_rate", 1, "0.5", 0.5),
    (["--calibrator_max_steps"], "calibrator_max_steps", None, "5", 5),
    (["--calibrator_num_bins"], "calibrator_num_bins", 22, "6", 6),
    (["--isotonic_calibrator"], "isotonic_calibrator", False, FLAG, True),
    (["--calibrator_keep_rate"], "calibrator_keep_rate", 1.0, "0.5", 0.5),
]

ISOTONIC_TABLE = [
    (["--calibrator.num_bins"], "calibrator_num_bins", 25000, "10", 10),
    (["--calibrator.parts_downsampling_rate"], "calibrator_parts_downsampling_rate", 0.1, "0.5", 0.5),
    (["--calibrator.save_dir"], "calibrator_save_dir", None, "/c", "/c"),
    (["--calibrator.load_tensorflow_module"], "calibrator_load_tensorflow_module", None, "/m", "/m"),
    (["--calibrator.export_mlp_module_name"], "export_mlp_module_name", "tf_hub_mlp", "mlp", "mlp"),
    (["--calibrator.export_isotonic_module_name"], "calibrator_export_module_name", "tf_hub_isotonic", "iso", "iso"),
    (["--calibrator.final_evaluation_steps"], "calibrator_final_evaluation_steps", None, "7", 7),
    (["--calibrator.train_steps"], "calibrator_train_steps", -1, "8", 8),
    (["--calibrator.batch_size"], "calibrator_batch_size", 1024, "16", 16),
    (["--calibrator.is_calibrating"], "is_calibrating", False, FLAG, True),
]

DATA_SPEC = ["--data_spec", "/spec.json"]


def data_record_parser():
    return add_data_record_trainer_arguments(get_trainer_parser())


def check_table(make_parser, table, base_args=()):
    """Defaults with no flags; each alias alone sets the dest to the parsed value."""
    defaults = make_parser().parse_args(list(base_args))
    for aliases, dest, default, text, parsed in table:
        assert hasattr(defaults, dest), dest
        value = getattr(defaults, dest)
        assert value == default and type(value) is type(default), (dest, value, default)
        for alias in aliases:
            args = list(base_args) + ([alias] if text == FLAG else [alias, text])
            params = make_parser().parse_args(args)
            assert getattr(params, dest) == parsed and type(getattr(params, dest)) is type(parsed), (alias, dest)


def test_trainer_flags_defaults_and_aliases():
    check_table(get_trainer_parser, TRAINER_TABLE)


def test_trainer_parser_has_exactly_the_table_flags():
    parser = get_trainer_parser()
    options = {s for a in parser._actions for s in a.option_strings} - {"-h", "--help"}
    expected = {alias for aliases, *_ in TRAINER_TABLE for alias in aliases} | {"--save_dir", "--verbosity"}
    assert options == expected


def test_data_record_flags_defaults_and_aliases():
    check_table(data_record_parser, DATA_RECORD_TABLE, DATA_SPEC)
    # the trainer flags are still there, with their defaults
    check_table(data_record_parser, TRAINER_TABLE[:5], DATA_SPEC)
    assert data_record_parser().parse_args(DATA_SPEC).data_spec == "/spec.json"


def test_data_spec_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        data_record_parser().parse_args([])
    assert exit_info.value.code == 2
    assert "--data_spec" in capsys.readouterr().err


def test_other_trainer_and_calibrator_tables():
    check_table(
        lambda: add_batch_prediction_request_trainer_arguments(argparse.ArgumentParser()), BATCH_PREDICTION_TABLE
    )
    check_table(lambda: add_pruning_arguments(argparse.ArgumentParser()), PRUNING_TABLE)
    check_table(lambda: add_discretizer_arguments(argparse.ArgumentParser()), ADD_DISCRETIZER_TABLE)
    check_table(lambda: discretizer_arguments(argparse.ArgumentParser()), DISCRETIZER_ARGUMENTS_TABLE)
    check_table(lambda: discretizer_arguments(), DISCRETIZER_ARGUMENTS_TABLE + DISCRETIZER_OWN_PARSER_TABLE, DATA_SPEC)
    check_table(lambda: calibrator_arguments(argparse.ArgumentParser()), CALIBRATOR_TABLE)
    check_table(lambda: add_isotonic_calibrator_arguments(argparse.ArgumentParser()), ISOTONIC_TABLE)


def test_helpers_return_the_parser_they_were_given():
    for helper in (
        add_data_record_trainer_arguments,
        add_batch_prediction_request_trainer_arguments,
        add_pruning_arguments,
        add_discretizer_arguments,
        discretizer_arguments,
        calibrator_arguments,
        add_isotonic_calibrator_arguments,
    ):
        parser = argparse.ArgumentParser()
        assert helper(parser) is parser
    own = discretizer_arguments()
    assert isinstance(own, argparse.ArgumentParser)
    # without a parser, the standalone data flags are added; with one, they are not
    assert "--train.data_dir" in own.format_help()
    assert "--train.data_dir" not in discretizer_arguments(argparse.ArgumentParser()).format_help()


def test_choices_are_enforced(capsys):
    with pytest.raises(SystemExit):
        add_batch_prediction_request_trainer_arguments(argparse.ArgumentParser()).parse_args(["--mask", "x"])
    with pytest.raises(SystemExit):
        get_trainer_parser().parse_args(["--feature_importance.algorithm", "random"])
    with pytest.raises(SystemExit):
        get_trainer_parser().parse_args(["--dgc.density_decay", "maybe"])
    capsys.readouterr()


def test_save_dir_default_is_a_new_temp_dir():
    first = get_trainer_parser().parse_args([]).save_dir
    second = get_trainer_parser().parse_args([]).save_dir
    assert first != second
    for path in (first, second):
        assert os.path.isdir(path) and os.listdir(path) == []
    assert get_trainer_parser().parse_args(["--save_dir", "/tmp/mine"]).save_dir == "/tmp/mine"


def test_verbosity_sets_tf_log_level():
    logger = tf.get_logger()
    old_level, old_env = logger.level, os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    try:
        assert get_trainer_parser().parse_args([]).verbosity is None
        params = get_trainer_parser().parse_args(["--verbosity", "error"])
        assert params.verbosity == "error"
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3" and logger.level == logging.ERROR
        get_trainer_parser().parse_args(["--verbosity", "debug"])
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0" and logger.level == logging.DEBUG
        get_trainer_parser().parse_args(["--verbosity", "warn"])
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2" and logger.level == logging.WARNING
        with pytest.raises(SystemExit):
            get_trainer_parser().parse_args(["--verbosity", "loud"])
    finally:
        logger.setLevel(old_level)
        if old_env is None:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        else:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = old_env


def test_help_is_sorted_alphabetically():
    text = get_trainer_parser().format_help()
    options_section = text.split("options:")[1].split("Learning Rate Decay Functions")[0]
    listed = re.findall(r"^  (-[-\w.]+)", options_section, flags=re.M)
    assert len(listed) > 40
    assert listed == sorted(listed)


# --- learning-rate-decay sub-commands ---------------------------------------------------------------

SUBCOMMAND_DEFAULTS = {
    "exponential_learning_rate_decay": {"decay_steps": None, "exponential_decay_rate": None},
    "polynomial_learning_rate_decay": {"end_learning_rate": 0.0001, "polynomial_power": 0.0001, "decay_steps": None},
    "piecewise_constant_learning_rate_decay": {
        "piecewise_constant_values": None,
        "piecewise_constant_boundaries": None,
    },
    "inverse_learning_rate_decay": {"decay_rate": None, "min_learning_rate": None, "decay_steps": 1},
    "cosine_learning_rate_decay": {"alpha": 0, "decay_steps": None},
    "cosine_restarts_learning_rate_decay": {"first_decay_steps": None, "alpha": 0, "t_mul": 2, "m_mul": 1},
    "no_learning_rate_decay": {},
}
ALL_SUBCOMMAND_KEYS = {key for keys in SUBCOMMAND_DEFAULTS.values() for key in keys}


def test_default_subcommand_is_appended():
    params = get_trainer_parser().parse_args(["--train.batch_size", "3"])
    assert params.learning_rate_decay == "no_learning_rate_decay"
    assert params.train_batch_size == 3
    assert get_learning_rate_decay_fn(params) is None


@pytest.mark.parametrize("name", sorted(SUBCOMMAND_DEFAULTS))
def test_subcommand_defaults(name):
    params = vars(get_trainer_parser().parse_args([name]))
    assert params["learning_rate_decay"] == name
    expected = SUBCOMMAND_DEFAULTS[name]
    assert {k: params[k] for k in expected} == expected
    # only the chosen sub-command's flags are set
    assert not (ALL_SUBCOMMAND_KEYS - set(expected)) & set(params)


def run_decay(params, steps):
    fn = get_learning_rate_decay_fn(params)
    with tf.Graph().as_default():
        step = tf.placeholder(tf.int64, [])
        value = fn(tf.constant(params.learning_rate, tf.float32), step)
        with tf.Session() as session:
            return np.array([session.run(value, {step: s}) for s in steps])


def test_exponential_subcommand_feeds_the_decay_fn():
    params = get_trainer_parser().parse_args(
        [
            "--learning_rate",
            "0.1",
            "exponential_learning_rate_decay",
            "--decay_steps",
            "10",
            "--exponential_decay_rate",
            "0.5",
        ]
    )
    assert params.decay_steps == 10.0 and params.exponential_decay_rate == 0.5
    steps = [0, 5, 10, 25]
    np.testing.assert_allclose(
        run_decay(HParams(**vars(params)), steps), [0.1 * 0.5 ** (s / 10) for s in steps], rtol=1e-6
    )


def test_piecewise_subcommand_parses_lists_for_the_decay_fn():
    params = get_trainer_parser().parse_args(
        [
            "piecewise_constant_learning_rate_decay",
            "--piecewise_constant_values",
            "0.3,0.2,0.1",
            "--piecewise_constant_boundaries",
            "10,20",
        ]
    )
    assert params.piecewise_constant_values == [0.3, 0.2, 0.1]
    assert params.piecewise_constant_boundaries == [10, 20]
    assert all(isinstance(b, int) for b in params.piecewise_constant_boundaries)
    np.testing.assert_allclose(run_decay(params, [0, 10, 11, 20, 21, 100]), [0.3, 0.3, 0.2, 0.2, 0.1, 0.1], rtol=1e-6)


def test_cosine_restarts_and_inverse_subcommands_feed_the_decay_fn():
    params = get_trainer_parser().parse_args(
        ["--learning_rate", "1.0", "cosine_restarts_learning_rate_decay", "--first_decay_steps", "10"]
    )
    steps = [0, 5, 9]
    np.testing.assert_allclose(
        run_decay(params, steps), [0.5 * (1 + math.cos(math.pi * s / 10)) for s in steps], rtol=1e-5, atol=1e-7
    )
    params = get_trainer_parser().parse_args(
        ["--learning_rate", "1.0", "inverse_learning_rate_decay", "--decay_rate", "0.5", "--min_learning_rate", "0.3"]
    )
    steps = [0, 1, 2, 10]
    np.testing.assert_allclose(run_decay(params, steps), [max(1 / (1 + 0.5 * s), 0.3) for s in steps], rtol=1e-6)


def test_misplaced_subcommand_argument_gets_extended_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        get_trainer_parser().parse_args(["--decay_steps", "10", "exponential_learning_rate_decay"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: '10'" in err
    assert "must come AFTER all the other optional arguments" in err

    with pytest.raises(SystemExit):
        get_trainer_parser().parse_args(
            ["exponential_learning_rate_decay", "--decay_steps", "10", "--train.batch_size", "3"]
        )
    err = capsys.readouterr().err
    assert "unrecognized arguments: --train.batch_size 3" in err
    assert "must come AFTER all the other optional arguments" in err

    # a bad value inside a sub-command gets the note too
    with pytest.raises(SystemExit):
        get_trainer_parser().parse_args(["cosine_learning_rate_decay", "--decay_steps", "many"])
    err = capsys.readouterr().err
    assert "invalid float value: 'many'" in err and "must come AFTER" in err


def test_help_does_not_get_the_default_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        get_trainer_parser().parse_args(["-h"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "exponential_learning_rate_decay" in out and "--train.batch_size" in out


def test_parse_comma_separated_list():
    assert parse_comma_separated_list(int)("1, 2,3") == [1, 2, 3]
    assert parse_comma_separated_list()("a,b") == ["a", "b"]
    with pytest.raises(argparse.ArgumentTypeError):
        parse_comma_separated_list(float)("1,x")


# --- check_unsupported_params ------------------------------------------------------------------------

UNSUPPORTED_ARGS = [
    (["--log_aggregation_app_id", "app"], "--log_aggregation_app_id", "log aggregation"),
    (["--health_port", "80"], "--health_port", "health"),
    (["--stats_port", "80"], "--stats_port", "stats"),
    (["--distributed_training_cleanup", "--distributed"], "--distributed_training_cleanup", "deployment"),
]


def test_check_unsupported_params_accepts_defaults():
    params = data_record_parser().parse_args(DATA_SPEC + ["--train.batch_size", "5", "--tensorboard_port", "1"])
    check_unsupported_params(params)
    check_unsupported_params(HParams(**vars(params)))
    check_unsupported_params({"learning_rate": 0.1})
    # the --feature_importance.* flags are honoured (DataRecordTrainer.contrib_run_feature_importances)
    check_unsupported_params(
        get_trainer_parser().parse_args(
            [
                "--feature_importance.algorithm",
                "serial",
                "--feature_importance.example_count",
                "3",
                "--feature_importance.is_metric_smaller_the_better",
            ]
        )
    )


@pytest.mark.parametrize("args,flag,reason", UNSUPPORTED_ARGS)
def test_check_unsupported_params_rejects(args, flag, reason):
    params = get_trainer_parser().parse_args(args)
    for given in (params, HParams(**vars(params)), dict(vars(params))):
        with pytest.raises(ValueError) as error:
            check_unsupported_params(given)
        assert flag in str(error.value) and reason in str(error.value)
