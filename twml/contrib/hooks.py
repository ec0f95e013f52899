"""Contrib SessionRunHooks (reference §14.1): ``StopAtTimeHook``."""

import datetime
from typing import Any, Union

import tensorflow.compat.v1 as tf

__all__ = ["StopAtTimeHook"]


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class StopAtTimeHook(tf.train.SessionRunHook):
    """Requests a stop once the wall clock passes ``stop_time`` (checked before and after every run).

    Args:
      stop_time: a ``datetime`` (naive ones are taken as UTC) or a ``timedelta`` from now (construction).

    Raises:
      ValueError: stop_time is neither.
    """

    def __init__(self, stop_time: Union[datetime.datetime, datetime.timedelta]) -> None:
        if isinstance(stop_time, datetime.timedelta):
            self._stop_time = _utc_now() + stop_time
        elif isinstance(stop_time, datetime.datetime):
            self._stop_time = (
                stop_time if stop_time.tzinfo is not None else stop_time.replace(tzinfo=datetime.timezone.utc)
            )
        else:
            raise ValueError("StopAtTimeHook: stop_time must be a datetime or a timedelta, got %r" % (stop_time,))
        self._stop_requested = False

    @property
    def stop_time(self) -> datetime.datetime:
        """The (timezone-aware) stop time."""
        return self._stop_time

    @property
    def stop_requested(self) -> bool:
        """Whether this hook requested the stop."""
        return self._stop_requested

    def _check(self, run_context: Any) -> None:
        if _utc_now() >= self._stop_time:
            if not self._stop_requested:
                tf.logging.info("StopAtTimeHook: %s reached, stopping", self._stop_time.isoformat())
            self._stop_requested = True
            run_context.request_stop()

    def before_run(self, run_context: tf.train.SessionRunContext) -> None:
        self._check(run_context)

    def after_run(self, run_context: tf.train.SessionRunContext, run_values: tf.train.SessionRunValues) -> None:
        self._check(run_context)
