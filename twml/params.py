"""twml.params: the hyperparameters object every twml API passes around.

Scripts hand twml an argparse Namespace (from ``DataRecordTrainer.add_parser_arguments()``), a
dict, or an ``HParams`` (the stand-in for the removed ``tf.contrib.training.HParams``); this module
turns any of them into a dict or an HParams.
"""

from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Protocol, Union


class ParamsLike(Protocol):
    """What twml reads hyperparameters from by attribute: an argparse Namespace, an :class:`HParams`."""

    def __getattr__(self, name: str) -> Any: ...

    def __setattr__(self, name: str, value: Any) -> None: ...


#: Hyperparameters as twml's functions accept them: attributes (:class:`ParamsLike`) or a mapping.
Params = Union[ParamsLike, Mapping[str, Any]]


def params_to_dict(params: Optional[Params]) -> Dict[str, Any]:
    """A plain dict of a Namespace, a mapping, or an object whose ``values()`` returns a mapping
    (HParams); ``None`` gives ``{}``. Private attributes (leading ``_``) are left out."""
    if params is None:
        return {}
    if isinstance(params, Mapping):
        return dict(params)
    values = getattr(params, "values", None)
    if callable(values):
        result = values()
        if isinstance(result, Mapping):
            return dict(result)
    if hasattr(params, "__dict__"):
        return {key: value for key, value in vars(params).items() if not key.startswith("_")}
    raise TypeError("params must be a Namespace, a dict or an HParams, not %s" % type(params).__name__)


def get_param(params: Params, name: str, default: Any = None) -> Any:
    """``params.<name>`` (or ``params[name]`` for a mapping); ``default`` when it is missing or None."""
    value = params.get(name) if isinstance(params, Mapping) else getattr(params, name, None)
    return default if value is None else value


class HParams:
    """Minimal stand-in for the removed ``tf.contrib.training.HParams``: attributes plus
    ``values()``, ``add_hparam`` and ``set_hparam``."""

    def __init__(self, **kwargs: Any) -> None:
        for key, value in kwargs.items():
            setattr(self, key, value)

    def values(self) -> Dict[str, Any]:
        """The hyperparameters as a dict."""
        return dict(vars(self))

    def add_hparam(self, name: str, value: Any) -> None:
        """Adds a hyperparameter; ValueError if it exists."""
        if hasattr(self, name):
            raise ValueError("hyperparameter %s already exists" % name)
        setattr(self, name, value)

    def set_hparam(self, name: str, value: Any) -> None:
        """Sets an existing hyperparameter; ValueError if it does not exist."""
        if not hasattr(self, name):
            raise ValueError("unknown hyperparameter %s" % name)
        setattr(self, name, value)

    def __repr__(self) -> str:
        return "HParams(%r)" % self.values()

    if TYPE_CHECKING:
        # For type checkers: hyperparameters are attributes set at run time.
        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...
