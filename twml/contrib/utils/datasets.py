"""Train/eval file lists by date range, with their overlap resolved (``twml.contrib.utils.datasets``).

Not imported by ``twml.contrib.utils`` (as in the original): ``import twml.contrib.utils.datasets``.
"""

import random
from typing import List, Optional, Sequence, Tuple

from twml.util import list_files_by_datetime

#: Alias of :func:`twml.util.list_files_by_datetime`.
get_time_based_dataset_files = list_files_by_datetime


def resolve_train_and_eval_files_overlap(
    train_files: Sequence[str], eval_files: Sequence[str], fraction_kept_for_eval: float, seed: Optional[int] = None
) -> Tuple[List[str], List[str]]:
    """Gives each file in both lists to exactly one of them.

    A random ``int(len(overlap) * fraction_kept_for_eval)`` of the overlapping files go to eval
    only; the other overlapping files stay in train only. Duplicates are removed.

    Args:
      train_files, eval_files: lists of paths.
      fraction_kept_for_eval: in [0, 1].
      seed: seed of the ``random.Random`` choosing the files (None: unseeded).

    Returns:
      ``(train, eval)`` lists, sorted.
    """
    rng = random.Random(seed)
    train, evaluation = set(train_files), set(eval_files)
    overlap = sorted(train & evaluation)
    kept_for_eval = set(rng.sample(overlap, int(len(overlap) * fraction_kept_for_eval)))
    return sorted(train - kept_for_eval), sorted((evaluation - set(overlap)) | kept_for_eval)


def get_time_based_dataset_files_for_train_and_eval(
    base_path: str,
    train_start_datetime: object,
    train_end_datetime: object,
    eval_start_datetime: object,
    eval_end_datetime: object,
    fraction_kept_for_eval: float,
    datetime_prefix_format: str = "%Y/%m/%d/%H",
    extension: str = "lzo",
    parallelism: int = 1,
) -> Tuple[List[str], List[str]]:
    """Lists the train and the eval files of ``base_path`` by date range
    (:func:`twml.util.list_files_by_datetime`) and resolves their overlap with
    :func:`resolve_train_and_eval_files_overlap` (unseeded).

    Returns:
      ``(train, eval)`` lists of paths.
    """
    train = list_files_by_datetime(
        base_path, train_start_datetime, train_end_datetime, datetime_prefix_format, extension, parallelism
    )
    evaluation = list_files_by_datetime(
        base_path, eval_start_datetime, eval_end_datetime, datetime_prefix_format, extension, parallelism
    )
    return resolve_train_and_eval_files_overlap(train, evaluation, fraction_kept_for_eval)
