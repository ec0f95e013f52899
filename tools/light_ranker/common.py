"""What the light-ranker examples share: flags, default data, the feature config and the
discretizer phase.

Written the way a twml user writes a model script: DataRecordTrainer's flags plus the
discretizer's, a FeatureConfigBuilder over the data spec, and a HashingDiscretizerCalibrator
calibrated on a sample of the training files and exported as a TF-Hub module that the model
graph loads with ``hub.Module``.
"""

import argparse
import logging
import os
import sys
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

import tensorflow.compat.v1 as tf
import tensorflow_hub as hub

import twml
import twml.console
from tools.light_ranker import report, synthetic_data
from twml import run_state
from twml.argument_parser import LEARNING_RATE_DECAY_SUBCOMMANDS, int_in_range, positive_int
from twml.contrib.calibrators import HashingDiscretizerCalibrator
from twml.contrib.calibrators.common_calibrators import (
    HUB_MODULE_FILE,
    add_discretizer_arguments,
    build_percentile_discretizer_graph,
    calibrate_discretizer_and_export,
    complete_module_fingerprint,
    module_fingerprint,
)
from twml.learning_rate_decay import get_learning_rate_decay_fn
from twml.spec_check import check_records_against_spec
from twml.trainers import DataRecordTrainer, cluster

_LOG = logging.getLogger("light_ranker")

#: The feature groups of the model: every input feature of the data spec, by type.
FEATURE_GROUPS = [
    (r"ebd\..*|encoded_tweet_features\..*|extended_encoded_tweet_features\..*", "A"),
    (r"timelines\..*|user\..*", "B"),
    (r"language\..*|author\..*|tweet\..*|viewer\..*", "C"),
]
SHORT_LABEL = "is_favorited"

#: Sizes of the default (generated) data: enough records for the model to get within 0.01
#: ROC-AUC of the optimum with a margin (gap 0.006 at 480,000 records, 0.008-0.010 at 240,000),
#: few enough to generate and train in about two minutes on two cores.
DEFAULT_TRAIN_FILES = 48
DEFAULT_EVAL_FILES = 2
DEFAULT_RECORDS_PER_FILE = 10000
DEFAULT_SEED = 0
#: Records the discretizer calibration should see (it sets its own keep rate from this).
CALIBRATION_RECORDS = 20000
DATA_POLL_SECS = 2


def default_save_dir(name: str) -> str:
    """Where an example keeps its run unless ``--save_dir`` says otherwise: ``~/twml_runs/<name>``, the
    same on every run (a rerun resumes it or keeps its export; ``--overwrite_save_dir`` starts afresh)."""
    return os.path.join(os.path.expanduser("~"), "twml_runs", name)


def get_parser(description: str, name: str = "light_ranker") -> argparse.ArgumentParser:
    """DataRecordTrainer's flags, the discretizer's, and this example's.

    ``--data_spec`` is optional here: without data flags the example generates its data. ``--save_dir``
    defaults to :func:`default_save_dir` of ``name`` instead of twml's new temporary directory.
    """
    parser = DataRecordTrainer.add_parser_arguments()
    parser.description = description
    add_discretizer_arguments(parser)
    # twml's parser made an empty temporary directory as its --save_dir default: not left behind.
    temporary = parser.get_default("save_dir")
    parser.set_defaults(save_dir=default_save_dir(name))
    if temporary and os.path.isdir(temporary) and not os.listdir(temporary):
        os.rmdir(temporary)
    for action in parser._actions:
        if action.dest == "data_spec":
            action.required = False
            action.help = "data spec JSON of the data (default: the generated data's)"
        elif action.dest == "save_dir":
            action.help = (
                "directory of the run: checkpoints, calibrations, exports, plots (default: %s; a rerun "
                "resumes it, --overwrite_save_dir starts afresh)" % default_save_dir(name)
            )
    parser.add_argument("--label", default=synthetic_data.MAIN_LABEL, help="the label feature to predict")
    parser.add_argument("--weight", default=synthetic_data.WEIGHT, help="the record-weight feature ('' for none)")
    parser.add_argument(
        "--input_size_bits",
        type=int_in_range(1, 63),
        default=32,
        help="bits of the raw sparse input's columns (1 to 63)",
    )
    parser.add_argument(
        "--model.use_existing_discretizer",
        dest="use_existing_discretizer",
        action="store_true",
        help="reuse the discretizer in --discretizer.save_dir instead of calibrating one",
    )
    parser.add_argument(
        "--data_cache_dir",
        default=None,
        help="where the generated default data lives (default: ~/.cache/twml/light_ranker_data)",
    )
    parser.add_argument(
        "--num_train_records",
        type=positive_int,
        default=DEFAULT_TRAIN_FILES * DEFAULT_RECORDS_PER_FILE,
        help="records of generated training data (default data only)",
    )
    parser.add_argument(
        "--auc_tolerance",
        type=float,
        default=0.01,
        help="with the default data, fail unless ROC-AUC is within this of the optimum",
    )
    parser.add_argument(
        "--l2_regularization",
        type=float,
        default=0.0,
        help="L2 penalty on the weights of the features present in each batch",
    )
    parser.add_argument(
        "--predict_batch_size",
        type=positive_int,
        default=512,
        help="records per BatchPredictionRequest in the batch prediction step",
    )
    # The example's own defaults: measured on the generated data (see BENCHMARKS.md).
    parser.set_defaults(
        train_batch_size=1024,
        eval_batch_size=1024,
        learning_rate=0.5,
        optimizer="Adagrad",
        train_max_steps=8000,
        eval_delay=0,
        eval_period=0,
        save_checkpoints_secs=None,
        early_stop_patience=4,
        discretizer_num_bins=64,
        discretizer_output_size_bits=22,
    )
    parser.add_argument(
        "--save_checkpoints_steps",
        type=positive_int,
        default=500,
        help="checkpoint (and evaluate) every this many steps",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="print the traceback of an error (default: one line naming what is wrong)",
    )
    return parser


#: The example's learning-rate decay when the command line names none (halve every 2000 steps).
DEFAULT_DECAY = ["exponential_learning_rate_decay", "--decay_steps", "2000", "--exponential_decay_rate", "0.5"]


def parse_args(parser: argparse.ArgumentParser, argv: Optional[List[str]]) -> argparse.Namespace:
    """Parses the flags (with DEFAULT_DECAY unless a learning-rate decay sub-command is given);
    paths are relative to the directory ``bazel run`` was called from."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not set(argv) & set(LEARNING_RATE_DECAY_SUBCOMMANDS) and not set(argv) & {"-h", "--help"}:
        argv += DEFAULT_DECAY
    params = parser.parse_args(argv)
    base = os.environ.get("BUILD_WORKING_DIRECTORY", os.getcwd())
    for name in (
        "save_dir",
        "train_data_dir",
        "eval_data_dir",
        "data_spec",
        "discretizer_save_dir",
        "data_cache_dir",
        "export_dir",
        "train_files_list",
        "eval_files_list",
    ):
        value = getattr(params, name, None)
        if value and "://" not in value:
            setattr(params, name, os.path.join(base, os.path.expanduser(value)))
    return params


def default_data(params: argparse.Namespace) -> Optional[Dict[str, Any]]:
    """Without ``--train.data_dir``: generates (once, cached) the synthetic light-ranker data,
    points the params at it and sets the discretizer's sample rates so that calibration sees
    about CALIBRATION_RECORDS records.

    Returns:
      ``{"optimal_auc": ROC-AUC of the true probabilities on the eval files, ...}``, or None
      when the user gave data.
    """
    if params.train_data_dir or params.train_files_list:
        if not params.data_spec:
            raise ValueError("--data_spec is required with --train.data_dir")
        return None
    train_files = max(1, -(-params.num_train_records // DEFAULT_RECORDS_PER_FILE))
    cache = params.data_cache_dir or os.path.join(os.path.expanduser("~"), ".cache", "twml", "light_ranker_data")
    root = os.path.join(cache, "seed%d-%dx%d" % (DEFAULT_SEED, train_files, DEFAULT_RECORDS_PER_FILE))
    train_dir, eval_dir = os.path.join(root, "train"), os.path.join(root, "eval")
    marker = os.path.join(root, "_SUCCESS")
    if not os.path.exists(marker) and not cluster.is_chief():
        # In a cluster the chief generates the data once; the other tasks read its files.
        _LOG.info("waiting for the chief to generate the light-ranker data in %s", root)
        while not os.path.exists(marker):
            time.sleep(DATA_POLL_SECS)
    if not os.path.exists(marker):
        _LOG.info("generating the light-ranker data in %s", root)
        paths = synthetic_data.write_dataset(
            train_dir, train_files + DEFAULT_EVAL_FILES, DEFAULT_RECORDS_PER_FILE, DEFAULT_SEED, compression="lzo"
        )
        os.makedirs(eval_dir, exist_ok=True)
        for path in paths[train_files:]:
            os.replace(path, os.path.join(eval_dir, os.path.basename(path)))
        os.replace(os.path.join(train_dir, "data_spec.json"), os.path.join(root, "data_spec.json"))
        twml.util.touch_file_in_dir(root, "_SUCCESS")
    params.train_data_dir, params.eval_data_dir = train_dir, eval_dir
    params.data_spec = os.path.join(root, "data_spec.json")
    rate = min(1.0, CALIBRATION_RECORDS / float(train_files * DEFAULT_RECORDS_PER_FILE))
    params.discretizer_keep_rate = rate
    params.discretizer_parts_downsampling_rate = 1.0
    data = synthetic_data.LightRankerData(DEFAULT_SEED)
    eval_records = DEFAULT_EVAL_FILES * DEFAULT_RECORDS_PER_FILE
    first_batch = synthetic_data.first_batch_of_file(train_files, DEFAULT_RECORDS_PER_FILE)
    return {"optimal_auc": data.optimal_auc_of_records(eval_records, start_batch=first_batch)}


def prepare(params: argparse.Namespace) -> Tuple[Optional[Dict[str, Any]], Any]:
    """Default data and directories, the checks of the data (:func:`check_data`), then the feature
    config (the model's input description)."""
    info = default_data(params)
    if not params.discretizer_save_dir:
        params.discretizer_save_dir = os.path.join(params.save_dir, "discretizer")
    check_data(params)
    _LOG.info("save_dir %s: checkpoints, calibrations, exports and plots of this run", params.save_dir)
    return info, get_feature_config(params.data_spec, params.label, params.weight or None)


def _data_files(directory: Optional[str], files_list: Optional[str], flag: str) -> List[str]:
    """The ``*.lzo`` files of a data flag (a files-list JSON's ``files`` when given), sorted.

    Raises:
      ValueError: naming the flag: the directory or list is missing or holds no file.
    """
    if files_list and os.path.exists(files_list):
        files = twml.util.read_file(files_list, decode="json").get("files") or []
        if not files:
            raise ValueError(
                "%s %s: the files list holds no file" % (flag.replace("data_dir", "files_list"), files_list)
            )
        return list(files)
    if not directory:
        return []
    if "://" not in directory and not os.path.isdir(directory):
        raise ValueError("%s %s: no such directory" % (flag, directory))
    try:
        files = twml.util.list_files(directory, "lzo", True)
    except OSError:
        files = []
    if not files:
        raise ValueError("%s %s: no *.lzo data files in it" % (flag, directory))
    return files


def check_data(params: argparse.Namespace, sample_records: int = 10000) -> None:
    """Checks, before any work starts, the learning-rate decay's flags, that the data flags name
    data and that the data spec describes it: the spec is read, the first ``sample_records``
    training records are decoded,
    every feature of the spec must appear under its spec type and the label must be in at least
    one of them (:func:`twml.spec_check.check_records_against_spec`).

    Raises:
      ValueError: one line naming the flag or file and what is wrong.
    """
    get_learning_rate_decay_fn(params)  # its sub-command's flags: an error now, not after calibration
    if "://" not in params.save_dir:
        try:
            os.makedirs(params.save_dir, exist_ok=True)
        except OSError as error:
            raise ValueError("--save_dir %s: cannot create it (%s)" % (params.save_dir, error.strerror)) from None
    if not params.data_spec or not os.path.isfile(params.data_spec):
        raise ValueError("--data_spec %s: no such file" % params.data_spec)
    train = _data_files(params.train_data_dir, params.train_files_list, "--train.data_dir")
    _data_files(params.eval_data_dir, params.eval_files_list, "--eval.data_dir")
    if train:
        check_records_against_spec(params.data_spec, train[:4], labels=[params.label], max_records=sample_records)


def guarded_main(main: Callable[[Optional[List[str]]], int], argv: Optional[List[str]] = None) -> int:
    """Runs an example's ``main``: a bad flag, file or data spec (ValueError, OSError) prints one
    line ``<prog>: error: <what is wrong>`` and gives exit status 2; a TensorFlow error during the
    run prints its first line and gives 1. With ``--verbose`` the traceback is printed too."""
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = os.path.basename(sys.argv[0]) or "light_ranker"
    try:
        return main(argv)
    except (ValueError, OSError) as error:
        status, message, caught = 2, str(error), error
    except tf.errors.OpError as error:
        detail = [
            line.strip()
            for line in error.message.splitlines()
            if line.strip() and not line.strip().startswith(("Graph execution error", "[[", "Detected at"))
        ]
        status, message, caught = 1, "%s: %s" % (type(error).__name__, (detail or [error.message])[0]), error
    if "--verbose" in argv:
        traceback.print_exception(type(caught), caught, caught.__traceback__)
    sys.stderr.write("%s: error: %s\n" % (prog, " ".join(message.split("\n")[0:1]) or "failed"))
    return status


def get_feature_config(data_spec_path: str, label: str, weight: Optional[str]) -> twml.FeatureConfig:
    """Every input feature of the data spec in three groups, one label, the record weight."""
    builder = twml.FeatureConfigBuilder(data_spec_path=data_spec_path)
    builder.batch_add_features(FEATURE_GROUPS).add_labels([label])
    if weight:
        builder.define_weight(weight)
    return builder.build()


def calibrate_discretizer(params: argparse.Namespace, feature_config: twml.FeatureConfig) -> None:
    """Phase 1: a HashingDiscretizerCalibrator fitted to the continuous features of a sample of
    the training data, saved as a TF-Hub module in ``--discretizer.save_dir`` — or, on a rerun,
    the module calibrated before (the checkpoint in ``--save_dir`` was trained on its output; see
    ``calibrate_discretizer_and_export``)."""
    if params.use_existing_discretizer:
        module = params.discretizer_save_dir
        if not tf.io.gfile.exists(os.path.join(module, HUB_MODULE_FILE)):
            raise ValueError("--model.use_existing_discretizer: no module in %s" % module)
        fingerprint = complete_module_fingerprint(module) or module_fingerprint(module)
        run_state.check_calibration_record(params.save_dir, "discretizer", module, fingerprint)
        return
    calibrator = HashingDiscretizerCalibrator(params.discretizer_num_bins, params.discretizer_output_size_bits)
    calibrate_discretizer_and_export(
        name="discretizer",
        calibrator=calibrator,
        build_graph_fn=build_percentile_discretizer_graph,
        params=params,
        feature_config=feature_config,
    )


def discretized_input(features: Dict[str, tf.Tensor], params: Any) -> tf.SparseTensor:
    """The model input: the hashed features as a SparseTensor, mapped by the discretizer module
    (continuous values to one-hot bins; other features keep their value) into
    ``[batch, 2**discretizer_output_size_bits]``."""
    sparse = twml.util.convert_to_sparse(features, params.input_size_bits)
    discretizer = hub.Module(params.discretizer_save_dir)
    return discretizer(sparse, signature="hashing_discretizer_calibrator")


def weighted_log_loss(logits: tf.Tensor, labels: tf.Tensor, features: Dict[str, tf.Tensor]) -> tf.Tensor:
    """Mean sigmoid cross entropy weighted by the record weight ``features['weights']``."""
    weights = features.get("weights")
    if weights is None:
        weights = tf.ones_like(logits)
    return tf.losses.sigmoid_cross_entropy(labels, logits, weights=tf.reshape(weights, tf.shape(logits)))


def metric_fn() -> Any:
    """The evaluation metrics, named ``<metric>_is_favorited``."""
    return twml.metrics.get_multi_binary_class_metric_fn(
        metrics=["roc_auc", "pr_auc", "rce", "nrce", "ctr", "predicted_ctr", "total_weight"], classes=[SHORT_LABEL]
    )


def log_to_stdout(argv: Optional[List[str]] = None) -> None:
    """twml's console on stdout (twml.console): INFO lines of the example and twml, each once;
    TensorFlow's deprecation notices and chatter only with ``--verbose``."""
    twml.console.configure(verbose="--verbose" in (sys.argv[1:] if argv is None else argv), stream=sys.stdout)


def print_outputs(save_dir: str, exports: List[Tuple[str, str]]) -> None:
    """The last lines of a run: where its results are (``exports``: (what, path) pairs; the plots and
    batch predictions of the first export, beside it)."""
    print("results in %s:" % save_dir)
    serving = exports[0][1].rstrip("/")
    rows = exports + [
        ("plots", os.path.join(os.path.dirname(serving), report.PLOTS_DIR, "{roc_curve,pr_curve,reliability}.png")),
        ("predictions", os.path.join(os.path.dirname(serving), report.PREDICTIONS_DIR)),
    ]
    for what, path in rows:
        print("  %-14s %s" % (what, path))


def check_auc(metrics: Dict[str, float], data_info: Optional[Dict[str, Any]], tolerance: float) -> int:
    """With the generated data: 0 when the batch-prediction ROC-AUC is within ``tolerance`` of
    the optimum, else 1 (printed either way). With the user's data: 0."""
    if data_info is None:
        return 0
    gap = data_info["optimal_auc"] - metrics["roc_auc"]
    verdict = "OK" if gap <= tolerance else "FAILED"
    print(
        "ROC-AUC %.4f, optimum %.4f, gap %.4f (tolerance %.4f): %s"
        % (metrics["roc_auc"], data_info["optimal_auc"], gap, tolerance, verdict)
    )
    return 0 if gap <= tolerance else 1
