"""twml.contrib.utils: learning-to-rank losses, NDCG and safe-math helpers, pair masks and scores,
in-batch normalisers, cosine similarity, interpolation and device listing.

``twml.contrib.utils.datasets`` (train/eval file lists) is not imported here, as in the original.
"""

from twml.contrib.utils import interp  # noqa: F401
from twml.contrib.utils.device import get_device_map, get_gpu_count, get_gpu_list, is_gpu_available
from twml.contrib.utils.loss_fns import (
    get_attrank_loss,
    get_lambda_pair_loss,
    get_listmle_loss,
    get_listnet_loss,
    get_pair_loss,
    get_pointwise_loss,
)
from twml.contrib.utils.masks import diag_mask, full_mask
from twml.contrib.utils.math_fns import cal_ndcg, cal_swapped_ndcg, safe_div, safe_log
from twml.contrib.utils.normalizer import mean_max_normalizaiton, standard_normalizaiton
from twml.contrib.utils.scores import get_pairwise_label_scores, get_pairwise_scores
from twml.contrib.utils.similarities import cosine_similarity

__all__ = [
    "cal_ndcg",
    "cal_swapped_ndcg",
    "cosine_similarity",
    "diag_mask",
    "full_mask",
    "get_attrank_loss",
    "get_device_map",
    "get_gpu_count",
    "get_gpu_list",
    "get_lambda_pair_loss",
    "get_listmle_loss",
    "get_listnet_loss",
    "get_pair_loss",
    "get_pairwise_label_scores",
    "get_pairwise_scores",
    "get_pointwise_loss",
    "interp",
    "is_gpu_available",
    "mean_max_normalizaiton",
    "safe_div",
    "safe_log",
    "standard_normalizaiton",
]
