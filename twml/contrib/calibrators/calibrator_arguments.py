"""Command-line flags of the discretizer and calibrator phases (reference §9, calibrator/discretizer list).

Each helper adds its flags to a parser and returns it. A dotted flag without an explicit dest gets the
dest with '.' replaced by '_' (``--discretizer.num_bins`` -> ``discretizer_num_bins``).
"""

import argparse
from typing import Any, Optional

from twml.argument_parser import SortingHelpFormatter, int_in_range, positive_int, rate

__all__ = [
    "add_discretizer_arguments",
    "add_isotonic_calibrator_arguments",
    "calibrator_arguments",
    "discretizer_arguments",
]


def _add(parser: argparse.ArgumentParser, flag: str, **kwargs: Any) -> argparse.Action:
    kwargs.setdefault("dest", flag.lstrip("-").replace(".", "_"))
    return parser.add_argument(flag, **kwargs)


def add_discretizer_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Adds the ``--discretizer.*`` flags (save_dir, batch_size, keep_rate, parts_downsampling_rate,
    num_bins, output_size_bits). Returns ``parser``."""
    _add(parser, "--discretizer.save_dir", type=str, default=None, help="directory to save the discretizer to")
    _add(parser, "--discretizer.batch_size", type=positive_int, default=128, help="calibration batch size")
    _add(parser, "--discretizer.keep_rate", type=rate, default=0.0008, help="record keep rate during calibration")
    _add(
        parser,
        "--discretizer.parts_downsampling_rate",
        type=rate,
        default=0.2,
        help="file keep rate during calibration",
    )
    _add(parser, "--discretizer.num_bins", type=positive_int, default=20, help="bins per feature")
    _add(
        parser,
        "--discretizer.output_size_bits",
        type=int_in_range(1, 63),
        default=22,
        help="bits of the discretizer output size, 1 to 63 (output keys are int64)",
    )
    return parser


def discretizer_arguments(parser: Optional[argparse.ArgumentParser] = None) -> argparse.ArgumentParser:
    """Adds the underscore ``--discretizer_*`` flags and ``--discretizer.save_dir``.

    Without a parser, creates one that also has the data flags a standalone discretizer job needs
    (``--overwrite_save_dir``, ``--train.data_dir``, ``--train.start_date``, ``--train.end_date``,
    ``--datetime_format``, ``--hour_resolution``, ``--tensorboard_port``, ``--stats_port``, ``--health_port``,
    ``--data_spec``). Returns the parser.
    """
    if parser is None:
        parser = argparse.ArgumentParser(formatter_class=SortingHelpFormatter)
        parser.add_argument(
            "--overwrite_save_dir",
            dest="overwrite_save_dir",
            action="store_true",
            default=False,
            help="delete the save dir first",
        )
        parser.add_argument(
            "--train.data_dir", dest="train_data_dir", type=str, default=None, help="training data directory"
        )
        parser.add_argument(
            "--train.start_date", dest="train_start_datetime", type=str, default=None, help="first date (inclusive)"
        )
        parser.add_argument(
            "--train.end_date", dest="train_end_datetime", type=str, default=None, help="last date (inclusive)"
        )
        parser.add_argument(
            "--datetime_format",
            dest="datetime_format",
            type=str,
            default="%Y/%m/%d",
            help="strftime format of the dated sub-directories (default: %%Y/%%m/%%d)",
        )
        parser.add_argument(
            "--hour_resolution", dest="hour_resolution", type=int, default=None, help="hours per dated sub-directory"
        )
        parser.add_argument(
            "--tensorboard_port", dest="tensorboard_port", type=int, default=None, help="TensorBoard port"
        )
        parser.add_argument(
            "--stats_port", dest="stats_port", type=int, default=None, help="Twitter-internal stats port (unused here)"
        )
        parser.add_argument(
            "--health_port",
            dest="health_port",
            type=int,
            default=None,
            help="Twitter-internal health port (unused here)",
        )
        parser.add_argument(
            "--data_spec",
            dest="data_spec",
            type=str,
            required=True,
            help="path of the data_spec JSON decoding the DataRecords",
        )
    parser.add_argument("--discretizer_batch_size", type=int, default=128, help="calibration batch size")
    parser.add_argument("--discretizer_keep_rate", type=float, default=0.0008, help="record keep rate")
    parser.add_argument("--discretizer_parts_downsampling_rate", type=float, default=0.2, help="file keep rate")
    parser.add_argument("--discretizer_max_steps", type=int, default=None, help="maximum calibration steps")
    _add(parser, "--discretizer.save_dir", type=str, default=None, help="directory to save the discretizer to")
    return parser


def calibrator_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Adds the generic calibrator flags (``--calibrator.save_dir`` and ``--calibrator_*``). Returns ``parser``."""
    _add(parser, "--calibrator.save_dir", type=str, default=None, help="directory to save the calibrator to")
    parser.add_argument("--calibrator_batch_size", type=int, default=128, help="calibration batch size")
    parser.add_argument("--calibrator_parts_downsampling_rate", type=float, default=1, help="file keep rate")
    parser.add_argument("--calibrator_max_steps", type=int, default=None, help="maximum calibration steps")
    parser.add_argument("--calibrator_num_bins", type=int, default=22, help="bins per feature")
    parser.add_argument(
        "--isotonic_calibrator", action="store_true", default=False, help="calibrate an isotonic calibrator"
    )
    parser.add_argument("--calibrator_keep_rate", type=float, default=1.0, help="record keep rate")
    return parser


def add_isotonic_calibrator_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Adds the ``--calibrator.*`` flags of the isotonic calibration phase. Returns ``parser``.

    ``--calibrator.is_calibrating`` (dest ``is_calibrating``) lets ``train()`` run under TF_CONFIG.
    """
    _add(parser, "--calibrator.num_bins", type=int, default=25000, help="bins of the isotonic calibrator")
    _add(parser, "--calibrator.parts_downsampling_rate", type=float, default=0.1, help="file keep rate")
    _add(parser, "--calibrator.save_dir", type=str, default=None, help="directory to save the calibrator to")
    _add(
        parser,
        "--calibrator.load_tensorflow_module",
        type=str,
        default=None,
        help="checkpoint directory of the model to calibrate (default: --save_dir)",
    )
    _add(
        parser,
        "--calibrator.export_mlp_module_name",
        type=str,
        default="tf_hub_mlp",
        dest="export_mlp_module_name",
        help="name of the exported MLP module",
    )
    _add(
        parser,
        "--calibrator.export_isotonic_module_name",
        type=str,
        default="tf_hub_isotonic",
        dest="calibrator_export_module_name",
        help="name of the exported isotonic module",
    )
    _add(parser, "--calibrator.final_evaluation_steps", type=int, default=None, help="steps of the final evaluation")
    _add(parser, "--calibrator.train_steps", type=int, default=-1, help="calibration steps (-1: whole dataset)")
    _add(parser, "--calibrator.batch_size", type=int, default=1024, help="calibration batch size")
    _add(
        parser,
        "--calibrator.is_calibrating",
        action="store_true",
        default=False,
        dest="is_calibrating",
        help="this job is a calibration job (allows train() under TF_CONFIG)",
    )
    return parser
