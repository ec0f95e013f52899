"""Where this process sits in a training cluster: TF_CONFIG roles and twml's hogwild set-up.

tf.estimator reads the cluster from the ``TF_CONFIG`` environment variable. twml adds "hogwild"
mode: ``--num_workers N`` on a single machine, with the processes' ports and roles given by
``TWML_HOGWILD_PORTS`` / ``TWML_HOGWILD_TASK_TYPE`` / ``TWML_HOGWILD_TASK_ID``, from which it
writes TF_CONFIG itself (reference §8.1).
"""

import json
import math
import os
from typing import Any, Dict, Optional

from twml.params import ParamsLike

HOGWILD_PORTS = "TWML_HOGWILD_PORTS"
HOGWILD_TASK_TYPE = "TWML_HOGWILD_TASK_TYPE"
HOGWILD_TASK_ID = "TWML_HOGWILD_TASK_ID"


def tf_config() -> Dict[str, Any]:
    """The parsed ``TF_CONFIG`` (``{}`` when unset or empty).

    Raises:
      ValueError: TF_CONFIG is not valid JSON.
    """
    raw = os.environ.get("TF_CONFIG", "")
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as error:
        raise ValueError("TF_CONFIG is not valid JSON (%s): %r" % (error, raw[:200])) from None


def task_type() -> Optional[str]:
    """This process's task type from TF_CONFIG ('chief', 'worker', 'ps', 'evaluator', ...), or None."""
    return tf_config().get("task", {}).get("type")


def task_index() -> int:
    """This process's task index from TF_CONFIG (0 without one)."""
    return int(tf_config().get("task", {}).get("index", 0))


def is_task_type(name: str) -> bool:
    """Whether TF_CONFIG names this process's task type ``name``."""
    return task_type() == name


def is_chief() -> bool:
    """The chief (or 'master') task, or a local run with no TF_CONFIG."""
    kind = task_type()
    return kind is None or kind in ("chief", "master")


def is_evaluator() -> bool:
    """The 'evaluator' task of a distributed run."""
    return is_task_type("evaluator")


def is_ps() -> bool:
    """A parameter-server task."""
    return is_task_type("ps")


def num_workers() -> int:
    """Training tasks in the cluster (chief/master plus workers); 1 without TF_CONFIG."""
    cluster = tf_config().get("cluster", {})
    count = sum(len(cluster.get(kind, [])) for kind in ("chief", "master", "worker"))
    return max(count, 1)


def worker_index() -> int:
    """This training task's index among all training tasks: the chief is 0, worker i is i + 1
    when there is a chief (i otherwise); evaluators and ps get 0."""
    config = tf_config()
    kind = config.get("task", {}).get("type")
    cluster = config.get("cluster", {})
    if kind == "worker":
        has_chief = bool(cluster.get("chief") or cluster.get("master"))
        return task_index() + (1 if has_chief else 0)
    return 0


def setup_hogwild(params: ParamsLike) -> bool:
    """Writes TF_CONFIG for a single-machine multi-process run when ``params.num_workers > 1``.

    Reads ``TWML_HOGWILD_PORTS`` (``num_workers + 1`` comma-separated ports: ps, chief, then
    workers), ``TWML_HOGWILD_TASK_TYPE`` and ``TWML_HOGWILD_TASK_ID``; sets ``params.distributed``
    and divides ``params.num_threads`` among the workers (rounding up).

    Returns:
      whether hogwild mode is on.

    Raises:
      ValueError: a variable is missing or the port count does not match.
    """
    workers = getattr(params, "num_workers", None)
    if not workers or int(workers) <= 1:
        return False
    workers = int(workers)
    missing = [name for name in (HOGWILD_PORTS, HOGWILD_TASK_TYPE, HOGWILD_TASK_ID) if not os.environ.get(name)]
    if missing:
        raise ValueError(
            "--num_workers %d (hogwild training) needs the environment variables %s" % (workers, ", ".join(missing))
        )
    ports = [port.strip() for port in os.environ[HOGWILD_PORTS].split(",") if port.strip()]
    if len(ports) != workers + 1:
        raise ValueError(
            "%s must list num_workers + 1 = %d ports (ps, chief, workers), got %d: %r"
            % (HOGWILD_PORTS, workers + 1, len(ports), os.environ[HOGWILD_PORTS])
        )
    hosts = ["localhost:%s" % port for port in ports]
    config = {
        "cluster": {"ps": hosts[:1], "chief": hosts[1:2], "worker": hosts[2:]},
        "task": {"type": os.environ[HOGWILD_TASK_TYPE], "index": int(os.environ[HOGWILD_TASK_ID])},
    }
    os.environ["TF_CONFIG"] = json.dumps(config)
    params.distributed = True
    threads = getattr(params, "num_threads", None)
    if threads:
        params.num_threads = int(math.ceil(int(threads) / workers))
    return True
