"""Command-line flags of the twml trainers (reference §9).

``get_trainer_parser()`` builds the parser of ``Trainer.add_parser_arguments()``: every Trainer flag with
its dotted and underscore aliases, plus the learning-rate-decay positional sub-command (dest
``learning_rate_decay``) whose flags are what ``twml.learning_rate_decay.get_learning_rate_decay_fn``
reads. ``add_data_record_trainer_arguments``, ``add_batch_prediction_request_trainer_arguments`` and
``add_pruning_arguments`` add the flags of the other trainers. ``check_unsupported_params`` rejects the
Twitter-internal flags that this build accepts for compatibility but cannot honour.
"""

import argparse
import logging
import sys
import tempfile
from operator import attrgetter
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple, TypeVar

from twml.params import params_to_dict
from twml.util import set_tensorflow_log_level

__all__ = [
    "DefaultSubcommandArgParse",
    "SortingHelpFormatter",
    "add_batch_prediction_request_trainer_arguments",
    "add_data_record_trainer_arguments",
    "add_pruning_arguments",
    "check_unsupported_params",
    "get_trainer_parser",
    "fraction",
    "int_in_range",
    "non_negative_float",
    "parse_comma_separated_list",
    "positive_int",
    "rate",
    "str2bool",
    "OPTIMIZER_CHOICES",
    "UNSUPPORTED_PARAMS",
    "LEARNING_RATE_DECAY_SUBCOMMANDS",
    "DEFAULT_LEARNING_RATE_DECAY",
]

T = TypeVar("T")

DEFAULT_LEARNING_RATE_DECAY = "no_learning_rate_decay"

LEARNING_RATE_DECAY_SUBCOMMANDS = (
    "exponential_learning_rate_decay",
    "polynomial_learning_rate_decay",
    "piecewise_constant_learning_rate_decay",
    "inverse_learning_rate_decay",
    "cosine_learning_rate_decay",
    "cosine_restarts_learning_rate_decay",
    "no_learning_rate_decay",
)

# Flags accepted for command-line compatibility with the original twml but backed by Twitter-internal
# services (or by code this build does not have). Each entry: (dest, flag, default, why it is rejected).
# The parser takes the defaults from here, so the check and the flag definitions cannot drift apart.
UNSUPPORTED_PARAMS: Tuple[Tuple[str, str, Any, str], ...] = (
    (
        "log_aggregation_app_id",
        "--log_aggregation_app_id",
        None,
        "log aggregation is a Twitter-internal (Aurora/HDFS) service",
    ),
    ("health_port", "--health_port", None, "the health-check server is a Twitter-internal (Aurora) service"),
    ("stats_port", "--stats_port", None, "the stats exporter is a Twitter-internal service"),
    (
        "distributed_training_cleanup",
        "--distributed_training_cleanup",
        False,
        "deleting the job's deployment once it finishes is Twitter-internal (GKE) job plumbing",
    ),
)

_UNSUPPORTED_DEFAULTS = {dest: default for dest, _, default, _ in UNSUPPORTED_PARAMS}

#: The names ``--optimizer`` accepts: those of ``twml.optimizers.OPTIMIZER_CLS_NAMES`` and DGC.
OPTIMIZER_CHOICES = ("Adagrad", "Adam", "DGC", "Ftrl", "LazyAdam", "Momentum", "RMSProp", "SGD")

_VERBOSITY_LEVELS = {"debug": 0, "info": 1, "warn": 2, "warning": 2, "error": 3}

#: The ``--verbosity`` names and their (Python / tf.logging) levels, as the original.
LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARN, "error": logging.ERROR}

#: The two values of ``--feature_importance.algorithm`` (twml.contrib.feature_importances).
SERIAL = "serial"
TREE = "tree"

_SUBCOMMAND_ORDER_HELP = (
    "Note: the learning-rate-decay sub-command ({names}) is a positional argument: it and its own "
    "arguments (e.g. --decay_steps) must come AFTER all the other optional arguments, since everything "
    "after the sub-command name is parsed by the sub-command. Check that no trainer flag follows the "
    "sub-command and that no sub-command flag precedes it. Without a sub-command, {default} is used."
)


def parse_comma_separated_list(element_type: Callable[[str], T] = str) -> Callable[[str], List[T]]:
    """An argparse ``type`` that turns ``"a,b,c"`` into ``[element_type(a), element_type(b), ...]``."""

    def parse(text: str) -> List[T]:
        try:
            return [element_type(item.strip()) for item in text.split(",") if item.strip()]
        except ValueError as error:
            raise argparse.ArgumentTypeError("%r is not a comma-separated list (%s)" % (text, error)) from error

    parse.__name__ = "comma_separated_%s_list" % getattr(element_type, "__name__", "value")
    return parse


def positive_int(text: str) -> int:
    """An argparse ``type``: an integer > 0 (the error names the value)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a positive integer, got %r" % (text,)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer, got %s" % value)
    return value


def int_in_range(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``[low, high]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected an integer in [%d, %d], got %r" % (low, high, text)) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError("must be in [%d, %d], got %d" % (low, high, value))
        return value

    parse.__name__ = "int_in_%d_%d" % (low, high)
    return parse


def rate(text: str) -> float:
    """An argparse ``type``: a probability in (0, 1] (keep rates, downsampling rates)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a rate in (0, 1], got %r" % (text,)) from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError("must be in (0, 1], got %s" % text)
    return value


def fraction(text: str) -> float:
    """An argparse ``type``: a number in [0, 1] (a share of records)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number in [0, 1], got %r" % (text,)) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be in [0, 1], got %s" % text)
    return value


def non_negative_float(text: str) -> float:
    """An argparse ``type``: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number >= 0, got %r" % (text,)) from None
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError("must be a finite number >= 0, got %s" % text)
    return value


def str2bool(text: Any) -> bool:
    """An argparse ``type`` for booleans: true/false, yes/no, 1/0, t/f, y/n (case-insensitive).

    The original used ``type=bool``, which makes ``--flag False`` True; this parser reads the value.
    """
    if isinstance(text, bool):
        return text
    lowered = str(text).strip().lower()
    if lowered in ("true", "t", "yes", "y", "1"):
        return True
    if lowered in ("false", "f", "no", "n", "0"):
        return False
    raise argparse.ArgumentTypeError("expected a boolean (true/false), got %r" % (text,))


class SortingHelpFormatter(argparse.HelpFormatter):
    """Help formatter listing the arguments of each group sorted alphabetically by option string."""

    def add_arguments(self, actions: Iterable[argparse.Action]) -> None:
        super().add_arguments(sorted(actions, key=attrgetter("option_strings")))


class _VerbosityAction(argparse.Action):
    """Stores the verbosity name and sets the TensorFlow log level (C++ and Python) right away."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: Optional[str] = None,
    ) -> None:
        level = str(values).lower()
        if level not in _VERBOSITY_LEVELS:
            parser.error(
                "argument %s: invalid choice %r (choose from debug, info, warn, error)" % (option_string, values)
            )
        set_tensorflow_log_level(_VERBOSITY_LEVELS[level])
        setattr(namespace, self.dest, level)


class DefaultSubcommandArgParse(argparse.ArgumentParser):
    """ArgumentParser whose sub-command defaults to ``no_learning_rate_decay``.

    When the parser has sub-commands and none of their names is among the arguments (and no -h/--help
    is given), the default sub-command is appended. Every error message is extended with a note on
    argument ordering, the usual cause of errors with positional sub-commands.
    """

    _DEFAULT_SUBCOMMAND = DEFAULT_LEARNING_RATE_DECAY

    def set_default_subparser(self, name: str) -> None:
        """Sets the sub-command appended when none is given."""
        self._DEFAULT_SUBCOMMAND = name

    def _subcommand_names(self) -> List[str]:
        names: List[str] = []
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                names.extend(action.choices.keys())
        return names

    def parse_known_args(
        self,
        args: Optional[Sequence[str]] = None,  # type: ignore[override]
        namespace: Optional[argparse.Namespace] = None,
    ) -> Tuple[argparse.Namespace, List[str]]:
        """``argparse.ArgumentParser.parse_known_args`` after appending the default sub-command if needed."""
        arg_list = list(sys.argv[1:] if args is None else args)
        names = self._subcommand_names()
        if names and not any(arg in names for arg in arg_list) and not any(arg in ("-h", "--help") for arg in arg_list):
            arg_list.append(self._DEFAULT_SUBCOMMAND)
        return super().parse_known_args(arg_list, namespace)

    def error(self, message: str) -> None:  # type: ignore[override]
        """Prints ``<prog>: error: <message>`` on one line and exits with code 2. Errors that a
        misplaced sub-command can cause (an invalid sub-command, unrecognized arguments, any error
        inside a sub-command) get the usage and the sub-command ordering note as well."""
        in_subcommand = not self._subcommand_names()
        positional_choice = "invalid choice" in message and not message.startswith("argument -")
        if in_subcommand or positional_choice or "unrecognized arguments" in message:
            note = _SUBCOMMAND_ORDER_HELP.format(
                names=", ".join(LEARNING_RATE_DECAY_SUBCOMMANDS), default=self._DEFAULT_SUBCOMMAND
            )
            super().error("%s\n%s" % (message, note))
        self.exit(2, "%s: error: %s (see --help)\n" % (self.prog, message))


def _dest(flags: Sequence[str]) -> str:
    """The dest of an aliased flag: its first alias without a dot, else the first flag with '.' -> '_'."""
    for flag in flags:
        if "." not in flag:
            return flag.lstrip("-").replace("-", "_")
    return flags[0].lstrip("-").replace(".", "_").replace("-", "_")


def _add(parser: argparse.ArgumentParser, *flags: str, **kwargs: Any) -> argparse.Action:
    """``parser.add_argument`` with the dest of ``_dest`` unless given."""
    kwargs.setdefault("dest", _dest(flags))
    return parser.add_argument(*flags, **kwargs)


def _add_learning_rate_decay_subcommands(parser: argparse.ArgumentParser) -> None:
    subparsers = parser.add_subparsers(
        title="Learning Rate Decay Functions",
        description="Optional sub-command choosing the learning-rate decay; it must come after all the "
        "optional arguments (default: %s)." % DEFAULT_LEARNING_RATE_DECAY,
        dest="learning_rate_decay",
        parser_class=DefaultSubcommandArgParse,
    )

    def sub(name: str, help_text: str) -> argparse.ArgumentParser:
        return subparsers.add_parser(name, help=help_text, formatter_class=SortingHelpFormatter)

    exponential = sub("exponential_learning_rate_decay", "lr * decay_rate ** (global_step / decay_steps)")
    exponential.add_argument("--decay_steps", type=float, default=None, help="steps per decay period")
    exponential.add_argument("--exponential_decay_rate", type=float, default=None, help="decay rate per period")

    polynomial = sub("polynomial_learning_rate_decay", "polynomial decay from lr to end_learning_rate")
    polynomial.add_argument("--end_learning_rate", type=float, default=0.0001, help="final learning rate")
    # The original help claims 1.0 but the default is 0.0001; the value is kept for compatibility.
    polynomial.add_argument("--polynomial_power", type=float, default=0.0001, help="power of the polynomial")
    polynomial.add_argument("--decay_steps", type=float, default=None, help="steps to reach end_learning_rate")

    piecewise = sub("piecewise_constant_learning_rate_decay", "piecewise-constant learning rate (lr ignored)")
    piecewise.add_argument(
        "--piecewise_constant_values",
        type=parse_comma_separated_list(float),
        default=None,
        help="comma-separated learning rates, one more than the boundaries",
    )
    piecewise.add_argument(
        "--piecewise_constant_boundaries",
        type=parse_comma_separated_list(int),
        default=None,
        help="comma-separated global-step boundaries",
    )

    inverse = sub("inverse_learning_rate_decay", "max(lr / (1 + decay_rate * step / decay_steps), min_learning_rate)")
    inverse.add_argument("--decay_rate", type=float, default=None, help="decay rate")
    inverse.add_argument("--min_learning_rate", type=float, default=None, help="lower bound of the learning rate")
    inverse.add_argument("--decay_steps", type=float, default=1, help="steps per decay unit")

    cosine = sub("cosine_learning_rate_decay", "cosine decay over decay_steps")
    cosine.add_argument("--alpha", type=float, default=0, help="minimum learning rate as a fraction of lr")
    cosine.add_argument("--decay_steps", type=float, default=None, help="steps to decay over")

    restarts = sub("cosine_restarts_learning_rate_decay", "cosine decay with warm restarts")
    restarts.add_argument("--first_decay_steps", type=float, default=None, help="steps of the first period")
    restarts.add_argument("--alpha", type=float, default=0, help="minimum learning rate as a fraction of lr")
    restarts.add_argument("--t_mul", type=float, default=2, help="period length multiplier per restart")
    restarts.add_argument("--m_mul", type=float, default=1, help="initial learning rate multiplier per restart")

    sub("no_learning_rate_decay", "constant learning rate (the default)")


def get_trainer_parser() -> DefaultSubcommandArgParse:
    """The parser of every Trainer flag of reference §9, with the learning-rate-decay sub-commands.

    ``--save_dir`` defaults to a new temporary directory (created now). The sub-command is optional
    (``no_learning_rate_decay`` is appended when none is given) and must follow all optional arguments.

    Returns:
      a ``DefaultSubcommandArgParse`` (an ``argparse.ArgumentParser``); ``parse_args()`` gives a Namespace.
    """
    parser = DefaultSubcommandArgParse(formatter_class=SortingHelpFormatter)
    unsupported = _UNSUPPORTED_DEFAULTS

    _add(
        parser,
        "--save_dir",
        type=str,
        default=tempfile.mkdtemp(),
        help="directory of checkpoints, summaries and exports (default: a new temporary directory)",
    )
    _add(parser, "--export_dir", type=str, default=None, help="directory to export the SavedModel to")
    _add(
        parser,
        "--log_aggregation_app_id",
        type=str,
        default=unsupported["log_aggregation_app_id"],
        help="[unsupported] Twitter-internal log aggregation app id",
    )
    _add(parser, "--train.batch_size", "--train_batch_size", type=positive_int, default=32, help="training batch size")
    _add(parser, "--eval.batch_size", "--eval_batch_size", type=positive_int, default=32, help="evaluation batch size")
    _add(
        parser, "--train.learning_rate", "--learning_rate", type=non_negative_float, default=0.002, help="learning rate"
    )
    _add(
        parser,
        "--train.steps",
        "--train_steps",
        type=int,
        default=-1,
        help="training steps per epoch; <= 0 means the whole dataset",
    )
    _add(
        parser,
        "--eval.steps",
        "--eval_steps",
        type=int,
        default=-1,
        help="evaluation steps; <= 0 means the whole dataset",
    )
    _add(
        parser,
        "--eval.period",
        "--eval_period",
        type=int,
        default=600,
        help="train_and_evaluate: minimum seconds between evaluations",
    )
    _add(
        parser,
        "--eval.delay",
        "--eval_delay",
        type=int,
        default=120,
        help="train_and_evaluate: seconds before the first evaluation",
    )
    _add(
        parser,
        "--train.max_steps",
        "--train_max_steps",
        type=positive_int,
        default=None,
        help="maximum total training steps; None means a single epoch",
    )
    _add(
        parser,
        "--train.log_metrics",
        action="store_true",
        default=False,
        help="compute and log the metrics during training",
    )
    _add(
        parser,
        "--train.early_stop_patience",
        "--early_stop_patience",
        type=int,
        default=-1,
        help="evaluations without improvement before stopping; <= 0 disables early stopping",
    )
    _add(
        parser,
        "--train.early_stop_tolerance",
        "--early_stop_tolerance",
        type=float,
        default=0,
        help="tolerance applied to the best metric restored from a previous run",
    )
    _add(
        parser,
        "--train.dataset_shards",
        "--train_dataset_shards",
        type=int,
        default=None,
        help="number of shards of the training dataset",
    )
    _add(
        parser,
        "--train.dataset_shard_index",
        "--train_dataset_shard_index",
        type=int,
        default=None,
        help="index of this worker's training shard",
    )
    _add(
        parser,
        "--continue_from_checkpoint",
        action="store_true",
        default=False,
        help="deprecated no-op: training always continues from the latest checkpoint in save_dir",
    )
    _add(parser, "--overwrite_save_dir", action="store_true", default=False, help="delete save_dir before training")
    _add(
        parser,
        "--data_threads",
        "--num_threads",
        type=positive_int,
        default=2,
        dest="num_threads",
        help="threads used to read and parse data",
    )
    _add(parser, "--max_duration", type=float, default=None, help="maximum job duration in seconds")
    _add(parser, "--num_workers", type=int, default=None, help="number of distributed workers")
    _add(parser, "--distributed", action="store_true", default=False, help="run distributed training")
    _add(
        parser,
        "--distributed_training_cleanup",
        action="store_true",
        default=False,
        help="clean up distributed training state after the job",
    )
    _add(
        parser,
        "--disable_auto_ps_shutdown",
        action="store_true",
        default=False,
        help="keep parameter servers alive after the job finishes",
    )
    _add(parser, "--disable_tensorboard", action="store_true", default=False, help="do not start TensorBoard")
    _add(parser, "--tensorboard_port", type=int, default=None, help="TensorBoard port")
    _add(
        parser,
        "--health_port",
        type=int,
        default=unsupported["health_port"],
        help="[unsupported] Twitter-internal health-check port",
    )
    _add(
        parser,
        "--stats_port",
        type=int,
        default=unsupported["stats_port"],
        help="[unsupported] Twitter-internal stats exporter port",
    )
    _add(
        parser,
        "--experiment_tracking_path",
        type=str,
        default=None,
        help="experiment tracking path user:project:experiment:run",
    )
    _add(
        parser, "--disable_experiment_tracking", action="store_true", default=False, help="disable experiment tracking"
    )
    _add(
        parser,
        "--config.save_checkpoints_secs",
        "--save_checkpoints_secs",
        type=int,
        default=600,
        help="seconds between checkpoints",
    )
    _add(
        parser,
        "--config.keep_checkpoint_max",
        "--keep_checkpoint_max",
        type=int_in_range(0, 1 << 31),
        default=20,
        help="checkpoints kept",
    )
    _add(parser, "--config.tf_random_seed", "--tf_random_seed", type=int, default=None, help="TF graph random seed")
    _add(
        parser,
        "--optimizer",
        type=str,
        default="SGD",
        choices=OPTIMIZER_CHOICES,
        help="optimizer: %s" % ", ".join(OPTIMIZER_CHOICES),
    )
    _add(parser, "--gradient_noise_scale", type=float, default=None, help="scale of the gradient noise")
    _add(parser, "--clip_gradients", type=float, default=None, help="clip gradients to this global norm")
    _add(parser, "--dgc.density", "--dgc_density", type=float, default=0.1, help="DGC: gradient density")
    _add(
        parser,
        "--dgc.density_decay",
        "--dgc_density_decay",
        type=str2bool,
        default=True,
        help="DGC: decay the density (true/false)",
    )
    _add(
        parser,
        "--dgc.density_decay_steps",
        "--dgc_density_decay_steps",
        type=int,
        default=10000,
        help="DGC: steps per density decay",
    )
    _add(
        parser,
        "--dgc.density_decay_rate",
        "--dgc_density_decay_rate",
        type=float,
        default=0.5,
        help="DGC: density decay rate",
    )
    _add(parser, "--dgc.min_density", "--dgc_min_density", type=float, default=0.1, help="DGC: minimum density")
    _add(
        parser,
        "--dgc.accumulation",
        "--dgc_accumulation",
        type=str2bool,
        default=False,
        help="DGC: accumulate the unsent gradients (true/false)",
    )
    _add(
        parser,
        "--show_optimizer_summaries",
        action="store_true",
        default=False,
        help="add the optimizer summaries (learning rate, gradients, ...)",
    )
    _add(parser, "--num_mkl_threads", type=int, default=1, help="MKL threads")
    _add(
        parser,
        "--verbosity",
        action=_VerbosityAction,
        default=None,
        metavar="{debug,info,warn,error}",
        help="TensorFlow log level (C++ and Python)",
    )

    # Permutation feature importances (DataRecordTrainer.contrib_run_feature_importances).
    _add(
        parser,
        "--feature_importance.algorithm",
        type=str,
        choices=[SERIAL, TREE],
        default=TREE,
        help="feature importance algorithm: serial (each feature alone) or tree (name-prefix groups)",
    )
    _add(
        parser,
        "--feature_importance.sensitivity",
        type=float,
        default=0.03,
        help="tree algorithm: split a group when its relative metric drop exceeds this",
    )
    _add(
        parser,
        "--feature_importance.dont_build_tree",
        action="store_true",
        dest="dont_build_tree",
        default=False,
        help="tree algorithm: only the baseline and the extra groups, no prefix tree",
    )
    _add(
        parser,
        "--feature_importance.split_feature_group_on_period",
        action="store_true",
        dest="split_feature_group_on_period",
        default=False,
        help="tree algorithm: group features by name segments ending in a period",
    )
    _add(
        parser,
        "--feature_importance.example_count",
        type=int,
        default=10000,
        help="records loaded to compute feature importances",
    )
    _add(
        parser,
        "--feature_importance.data_dir",
        type=str,
        default=None,
        help="records to compute feature importances on (default: the evaluation files)",
    )
    _add(
        parser,
        "--feature_importance.metric",
        type=str,
        default="roc_auc",
        help="evaluation metric whose drop measures the importance",
    )
    _add(
        parser,
        "--feature_importance.is_metric_larger_the_better",
        action="store_true",
        dest="is_metric_larger_the_better",
        default=False,
        help="the metric is better when larger",
    )
    _add(
        parser,
        "--feature_importance.is_metric_smaller_the_better",
        action="store_true",
        dest="is_metric_smaller_the_better",
        default=False,
        help="the metric is better when smaller",
    )

    _add_learning_rate_decay_subcommands(parser)
    return parser


def add_data_record_trainer_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Adds the DataRecordTrainer flags of reference §9 (``--data_spec`` required). Returns ``parser``."""
    _add(
        parser,
        "--train.files_list",
        "--train_files_list",
        type=str,
        default=None,
        help="file listing the training files (one per line)",
    )
    _add(
        parser,
        "--train.overwrite_files_list",
        "--train_overwrite_files_list",
        action="store_true",
        default=False,
        help="rewrite train.files_list from train.data_dir",
    )
    _add(
        parser,
        "--train.data_dir",
        "--train_data_dir",
        type=str,
        default=None,
        help="training data directory (local, hdfs://)",
    )
    _add(
        parser,
        "--train.start_date",
        "--train_start_datetime",
        type=str,
        default=None,
        help="first training date (inclusive), in datetime_format",
    )
    _add(
        parser,
        "--train.end_date",
        "--train_end_datetime",
        type=str,
        default=None,
        help="last training date (inclusive), in datetime_format",
    )
    _add(
        parser,
        "--eval.files_list",
        "--eval_files_list",
        type=str,
        default=None,
        help="file listing the evaluation files (one per line)",
    )
    _add(
        parser,
        "--eval.overwrite_files_list",
        "--eval_overwrite_files_list",
        action="store_true",
        default=False,
        help="rewrite eval.files_list from eval.data_dir",
    )
    _add(parser, "--eval.data_dir", "--eval_data_dir", type=str, default=None, help="evaluation data directory")
    _add(
        parser,
        "--eval.start_date",
        "--eval_start_datetime",
        type=str,
        default=None,
        help="first evaluation date (inclusive)",
    )
    _add(
        parser,
        "--eval.end_date",
        "--eval_end_datetime",
        type=str,
        default=None,
        help="last evaluation date (inclusive)",
    )
    _add(
        parser,
        "--datetime_format",
        type=str,
        default="%Y/%m/%d",
        help="strftime format of the dated sub-directories (default: %%Y/%%m/%%d)",
    )
    _add(parser, "--hour_resolution", type=int, default=None, help="hours per dated sub-directory")
    _add(parser, "--data_spec", type=str, required=True, help="path of the data_spec JSON decoding the DataRecords")
    _add(
        parser,
        "--train.keep_rate",
        "--train_keep_rate",
        type=rate,
        default=None,
        help="keep each training record with this probability, in (0, 1]",
    )
    _add(
        parser,
        "--eval.keep_rate",
        "--eval_keep_rate",
        type=rate,
        default=None,
        help="keep each evaluation record with this probability, in (0, 1]",
    )
    _add(
        parser,
        "--train.parts_downsampling_rate",
        "--train_parts_downsampling_rate",
        type=rate,
        default=None,
        help="keep each training file with this probability, in (0, 1]",
    )
    _add(
        parser,
        "--eval.parts_downsampling_rate",
        "--eval_parts_downsampling_rate",
        type=rate,
        default=None,
        help="keep each evaluation file with this probability, in (0, 1]",
    )
    _add(
        parser,
        "--allow_train_eval_overlap",
        action="store_true",
        default=False,
        help="allow files shared by the training and evaluation sets",
    )
    _add(
        parser,
        "--skip_corrupt_records",
        action="store_true",
        default=False,
        help="skip corrupt records (damaged blocks, records that do not decode, bytes outside blocks) instead "
        "of failing; the files are scanned once first and the counts logged",
    )
    _add(
        parser,
        "--max_corrupt_records_ratio",
        type=fraction,
        default=0.01,
        help="with --skip_corrupt_records: stop before training when more than this share of the records "
        "is corrupt (default 0.01)",
    )
    _add(
        parser,
        "--eval_name",
        type=str,
        default=None,
        help="name of the evaluation ('train' evaluates on the training files)",
    )
    return parser


def add_batch_prediction_request_trainer_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Adds BatchPredictionRequestTrainer's flags (reference §9). Returns ``parser``."""
    _add(
        parser,
        "--model.use_existing_discretizer",
        action="store_true",
        default=False,
        help="load the calibrated discretizer instead of calibrating",
    )
    _add(parser, "--model.use_binary_values", action="store_true", default=False, help="use binary feature values")
    _add(parser, "--input_size_bits", type=int, default=12, help="bits of the sparse input size")
    _add(
        parser,
        "--loss_function",
        type=str,
        default="ranknet",
        choices=["ranknet", "lambdarank", "listnet", "listmle", "attrank", "pointwise"],
        help="ranking loss",
    )
    _add(parser, "--use_dense_tensor", action="store_true", default=False, help="use dense input tensors")
    # The misspellings are the original option values.
    _add(
        parser,
        "--dense_normalization",
        type=str,
        default="mean_max_normalizaiton",
        choices=["mean_max_normalizaiton", "standard_normalizaiton"],
        help="dense feature normalization",
    )
    _add(
        parser,
        "--sparse_normalization",
        type=str,
        default="SparseMaxNorm",
        choices=["SparseMaxNorm", "SparseBatchNorm"],
        help="sparse feature normalization",
    )
    _add(
        parser,
        "--mask",
        type=str,
        default="full_mask",
        choices=["full_mask", "diag_mask"],
        help="pair mask of the ranking loss",
    )
    return parser


def add_pruning_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Adds PruningDataRecordTrainer's flags (reference §9). Returns ``parser``."""
    _add(parser, "--pruning.iter", type=int, default=5000, help="steps between two prunings")
    _add(parser, "--pruning.burn_in", type=int, default=100000, help="steps before the first pruning")
    _add(parser, "--pruning.flops_target", type=int, default=250000, help="stop pruning below this many FLOPs")
    _add(parser, "--pruning.decay", type=float, default=0.9999, help="decay of the Fisher information average")
    return parser


def check_unsupported_params(params: Any) -> None:
    """Rejects the flags of ``UNSUPPORTED_PARAMS`` set to a non-default value.

    Args:
      params: argparse Namespace, HParams or dict; missing keys count as defaults.

    Raises:
      ValueError: naming the first such flag and why it cannot be honoured.
    """
    values = params_to_dict(params)
    for dest, flag, default, reason in UNSUPPORTED_PARAMS:
        if dest in values and values[dest] != default:
            raise ValueError(
                "%s=%r is not supported in this build: %s (leave it at its default %r)"
                % (flag, values[dest], reason, default)
            )
