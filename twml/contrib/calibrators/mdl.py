"""MDLCalibrator: percentile calibration for the deprecated twml.layers.MDL (reference §7.3)."""

import os
import warnings
from typing import Any, Dict, Optional

import tensorflow.compat.v1 as tf

import twml
from twml.contrib.calibrators.percentile_discretizer import (
    PercentileDiscretizerCalibrator,
    PercentileDiscretizerFeature,
)

#: The weight of each value when ``accumulate`` gets no weights.
DEFAULT_SAMPLE_WEIGHT = 1

#: One feature's accumulation and calibration: the percentile calibrator's.
MDLFeature = PercentileDiscretizerFeature


class MDLCalibrator(PercentileDiscretizerCalibrator):
    """``PercentileDiscretizerCalibrator``'s accumulation and weighted-percentile calibration;
    ``to_layer`` builds a ``twml.layers.MDL`` (deprecated layer, whose calibration lives in
    non-trainable variables, so it can also be restored from a checkpoint by variable scope).

    Args: as ``PercentileDiscretizerCalibrator`` (default name ``mdl_calibrator``).
    """

    def __init__(self, n_bin: int, out_bits: int, calibrator_name: Optional[str] = None, **kwargs: Any) -> None:
        # The base's per-capital snake case would give "m_d_l_calibrator".
        super().__init__(n_bin, out_bits, calibrator_name=calibrator_name or "mdl_calibrator", **kwargs)

    def to_layer(self, name: Optional[str] = None) -> Any:
        """``twml.layers.MDL(n_feature, n_bin, out_bits, bin_values, hash_keys, hash_values,
        bin_ids, feature_offsets)`` of the calibration; its variables live under ``name/``.

        Raises:
          RuntimeError: not calibrated; ValueError: ``2**out_bits <= n_feature * (n_bin + 1)``.
        """
        kwargs = self._layer_kwargs(name)
        with warnings.catch_warnings():
            # The calibrator is asked for an MDL layer on purpose: don't repeat its deprecation.
            warnings.simplefilter("ignore", DeprecationWarning)
            return twml.layers.MDL(**kwargs)

    def signatures(self, name: str) -> Dict[str, Dict[str, Any]]:
        return {name: {}}

    def _export_hub_module(self, save_dir: str, name: str) -> None:
        """The base's hub export, with the layer's variables initialised before the export (the
        base exports variable-free layers and runs no initialiser)."""
        import tensorflow_hub as hub

        if not self._calibrated:
            raise RuntimeError("calibrate() the calibrator before saving it")

        def calibrator_module() -> None:
            inputs = tf.sparse_placeholder(tf.float32)
            hub.add_signature(inputs=inputs, outputs=self.to_layer()(inputs), name=name)

        spec = hub.create_module_spec(calibrator_module)
        with tf.Graph().as_default():
            module = hub.Module(spec)
            with tf.Session() as session:
                session.run(tf.global_variables_initializer())
                module.export(save_dir, session)

    def save(self, save_dir: str, name: str = "default", verbose: bool = False) -> None:
        """Saves, in ``save_dir``:

        * a TF-Hub (TF1) module with the signature ``name`` (float32 ``tf.SparseTensor``
          ``[batch, n]`` -> ``to_layer()``'s ``tf.SparseTensor`` ``[batch, 2**out_bits]``);
        * ``<name>.json.tf`` = ``{"layer_args": get_layer_args(), "saved_layer_scope": name + "/"}``;
        * a checkpoint ``<name>.ckpt`` of the layer's variables under scope ``name/`` (for
          init_from_dir / init_map style loading) and a summary event file with its graph.

        Raises:
          RuntimeError: not calibrated.
        """
        self._export_hub_module(save_dir, name)
        twml.util.write_file(
            os.path.join(save_dir, name + ".json.tf"),
            {"layer_args": self.get_layer_args(), "saved_layer_scope": name + "/"},
            encode="json",
        )
        with tf.Graph().as_default() as graph:
            layer = self.to_layer(name)
            layer(tf.sparse_placeholder(tf.float32))
            saver = tf.train.Saver(layer.variables)
            with tf.Session() as session:
                session.run(tf.global_variables_initializer())
                saver.save(session, os.path.join(save_dir, name + ".ckpt"), write_meta_graph=False)
            writer = tf.summary.FileWriter(save_dir, graph)
            writer.flush()
            writer.close()
        if verbose:
            tf.logging.info("saved the MDL calibration of %s under scope %s/", self.name, name)
