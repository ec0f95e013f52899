"""twml.errors: the exceptions twml raises (reference §1.5)."""


class EarlyStopError(Exception):
    """Raised when training should stop early (e.g. an early-stopping hook fired)."""


class CheckpointNotFoundError(Exception):
    """Raised when a checkpoint that should exist (e.g. for ``util.backup_checkpoint``) does not."""


__all__ = ["EarlyStopError", "CheckpointNotFoundError"]
