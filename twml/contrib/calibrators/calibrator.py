"""The calibrator base: accumulate data, calibrate, build a layer, save a TF-Hub module (reference §7.1)."""

import re
from typing import Any, Dict, List, Optional

import numpy as np
import tensorflow.compat.v1 as tf


class CalibrationFeature:
    """The accumulated data of one feature: named 1-D arrays appended batch by batch.

    Args:
      feature_id: the feature's raw int64 id.
    """

    def __init__(self, feature_id: int) -> None:
        self._feature_id = feature_id
        self._calibrated = False
        self._arrays: Dict[str, List[np.ndarray]] = {}

    @property
    def feature_id(self) -> int:
        """The feature's raw id."""
        return self._feature_id

    def add_values(self, new_values: Dict[str, Any]) -> None:
        """Appends each ``{name: 1-D array}`` to the arrays of that name."""
        for name, value in new_values.items():
            self._arrays.setdefault(name, []).append(np.asarray(value).reshape(-1))

    def concat_arrays(self) -> Dict[str, np.ndarray]:
        """All appended arrays, one 1-D array per name; the lists are replaced by the result."""
        result = {name: np.concatenate(parts) for name, parts in self._arrays.items()}
        self._arrays = {name: [value] for name, value in result.items()}
        return result


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Calibrator:
    """Base of the calibrators: ``accumulate`` data, ``calibrate``, then ``to_layer`` / ``save``.

    Args:
      calibrator_name: the calibrator's name; default the snake case of the class name
        (``HashingDiscretizerCalibrator`` -> ``hashing_discretizer_calibrator``).
    """

    def __init__(self, calibrator_name: Optional[str] = None, **kwargs: Any) -> None:
        self._calibrator_name = calibrator_name or _snake_case(type(self).__name__)
        self._kwargs = kwargs
        self._calibrated = False

    @property
    def is_calibrated(self) -> bool:
        """Whether ``calibrate`` has run."""
        return self._calibrated

    @property
    def name(self) -> str:
        """The calibrator's name (the default signature name of its saved module)."""
        return self._calibrator_name

    def accumulate(self, *args: Any, **kwargs: Any) -> None:
        """Accumulates a batch of data."""
        raise NotImplementedError

    def calibrate(self, *args: Any, **kwargs: Any) -> None:
        """Fits the calibration to the accumulated data; afterwards ``is_calibrated`` is True."""
        self._calibrated = True

    def to_layer(self, name: Optional[str] = None) -> Any:
        """The calibrated twml layer."""
        raise NotImplementedError

    def get_layer_args(self) -> Dict[str, Any]:
        """The scalar arguments of the layer (to rebuild it elsewhere)."""
        raise NotImplementedError

    def signatures(self, name: str) -> Dict[str, Dict[str, Any]]:
        """Signature name -> keyword arguments of the layer's call, for ``save``."""
        return {name: {}}

    def add_hub_signatures(self, name: str) -> None:
        """Inside a hub module fn: adds signature ``name`` mapping a float32 ``sparse_placeholder``
        ``[batch, n]`` through ``to_layer()``."""
        import tensorflow_hub as hub

        inputs = tf.sparse_placeholder(tf.float32)
        hub.add_signature(inputs=inputs, outputs=self.to_layer()(inputs), name=name)

    def save(self, save_dir: str, name: str = "default", verbose: bool = False) -> None:
        """Exports a TF-Hub (TF1) module to ``save_dir`` whose signatures (``name``, and for some
        calibrators ``name + '_keep_inputs'``) map a float32 ``tf.SparseTensor`` ``[batch, n]`` (int64
        raw feature ids as column indices) through ``to_layer()`` to a ``tf.SparseTensor``.

        Raises:
          RuntimeError: the calibrator is not calibrated.
        """
        import tensorflow_hub as hub

        if not self._calibrated:
            raise RuntimeError("calibrate() the calibrator before saving it")
        signatures = self.signatures(name)

        def calibrator_module() -> None:
            inputs = tf.sparse_placeholder(tf.float32)
            layer = self.to_layer()
            for signature, call_kwargs in signatures.items():
                hub.add_signature(inputs=inputs, outputs=layer(inputs, **call_kwargs), name=signature)

        spec = hub.create_module_spec(calibrator_module)
        with tf.Graph().as_default():
            module = hub.Module(spec)
            with tf.Session() as session:
                module.export(save_dir, session)
        if verbose:
            tf.logging.info("saved calibrator %s to %s", self.name, save_dir)

    def write_summary(self, writer: Any, sess: Any = None) -> None:
        """Writes summaries of the calibration with a ``tf.summary.FileWriter``."""
        raise NotImplementedError
