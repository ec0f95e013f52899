"""discretize: fit the discretizers of a v2 feature config and export them as one hub module (§7.4).

A v2 config (``twml.contrib.feature_config``) whose hashed sparse outputs ask for discretization
(``extract_features_as_hashed_sparse(..., discretize_num_bins, discretize_output_size_bits,
discretize_type)``) parses those outputs raw and lists one calibrator per output name in
``discretize_config``. :func:`discretize` fits them all in one pass over the data and saves::

    <params.discretizer_save_dir>/            a TF-Hub (TF1) module, one signature per output name
    <params.discretizer_save_dir>/<name>_bin.json   per calibrator: feature_ids, bin_boundaries, output_bits

The model graph then applies ``hub.Module(params.discretizer_save_dir)(features[name],
signature=name)`` to each raw output (see :func:`apply_discretizers`).
"""

import json
import logging
import os
import time
from typing import Any, Callable, Dict, Mapping, Optional

import numpy as np
import tensorflow.compat.v1 as tf

from twml.trainers import cluster

_LOG = logging.getLogger(__name__)

#: How often non-chief workers look for the chief's module.
MODULE_POLL_SECS = 60
HUB_MODULE_FILE = "tfhub_module.pb"


def _discretize_config(feature_config: Any) -> Dict[str, Any]:
    if isinstance(feature_config, Mapping):
        config = feature_config["discretize_config"]
    else:
        config = getattr(feature_config, "discretize_config", None)
    if not config:
        raise ValueError(
            "discretize: the feature config has no discretize_config (no extract_features_as_hashed_sparse output "
            "with discretize_num_bins / discretize_output_size_bits / discretize_type)"
        )
    return dict(config)


def _accumulate(calibrator: Any, sparse: Any, weights: Optional[np.ndarray]) -> None:
    """Feeds one batch of a raw output (a SparseTensorValue ``[batch, n]``) to ``calibrator``:
    keys = column indices, values, and each entry's record weight (1 without weights)."""
    indices = np.asarray(sparse.indices).reshape(-1, 2)
    if weights is None:
        entry_weights = np.ones(len(indices), np.float32)
    else:
        entry_weights = np.asarray(weights, np.float32).reshape(-1)[indices[:, 0]]
    calibrator.accumulate(indices[:, 1], np.asarray(sparse.values), entry_weights)


def accumulate_and_calibrate(
    discretize_config: Mapping[str, Any], input_fn: Callable[[], Any], max_steps: Optional[int] = None
) -> int:
    """Runs ``input_fn()`` in a plain session until it is exhausted (or ``max_steps`` batches) and
    accumulates every calibrator on its output, then calibrates them.

    Args:
      discretize_config: output name -> calibrator (``accumulate(keys, values, weights)``, ``calibrate()``).
      input_fn: builds, in the current graph, ``features`` or ``(features, labels)`` where
        ``features[name]`` is a float32 ``tf.SparseTensor`` ``[batch, n]`` per output name and
        ``features['weights']`` (optional) float32 ``[batch]`` or ``[batch, 1]``.
      max_steps: at most this many batches; None or <= 0: until OutOfRangeError.

    Returns:
      the number of batches accumulated.

    Raises:
      KeyError: an output name is missing from the features.
    """
    with tf.Graph().as_default():
        output = input_fn()
        features = output[0] if isinstance(output, (tuple, list)) else output
        missing = [name for name in discretize_config if name not in features]
        if missing:
            raise KeyError("discretize: input_fn's features lack the outputs %s" % ", ".join(map(repr, missing)))
        fetches = {name: features[name] for name in discretize_config}
        if "weights" in features:
            fetches["weights"] = features["weights"]
        with tf.Session() as session:
            # Initializable iterators register their initializer as a table initializer.
            session.run([tf.global_variables_initializer(), tf.local_variables_initializer(), tf.tables_initializer()])
            steps = 0
            while not max_steps or max_steps <= 0 or steps < max_steps:
                try:
                    batch = session.run(fetches)
                except tf.errors.OutOfRangeError:
                    break
                for name, calibrator in discretize_config.items():
                    _accumulate(calibrator, batch[name], batch.get("weights"))
                steps += 1
    for calibrator in discretize_config.values():
        calibrator.calibrate()
    return steps


def export_discretizers(discretize_config: Mapping[str, Any], save_dir: str) -> None:
    """Saves calibrated calibrators as ONE TF-Hub module in ``save_dir``: per output name, the
    signatures of the calibrator's own ``save`` renamed after the output (``name``, and for a
    ``PercentileDiscretizerCalibrator`` also ``name + '_keep_inputs'``), each mapping a float32
    ``tf.SparseTensor`` ``[batch, n]`` to the discretized ``tf.SparseTensor``; plus
    ``<save_dir>/<name>_bin.json`` = ``{feature_ids, bin_boundaries, output_bits}`` per calibrator
    that has bins (feature ids ordered by index, boundaries float ``[n_feature][n_bin + 1]``).

    Raises:
      RuntimeError: a calibrator is not calibrated.
    """
    import tensorflow_hub as hub

    for name, calibrator in discretize_config.items():
        if not calibrator.is_calibrated:
            raise RuntimeError("discretize: calibrator of %r is not calibrated" % name)

    def module_fn() -> None:
        for name, calibrator in discretize_config.items():
            layer = calibrator.to_layer(name)
            for signature, call_kwargs in calibrator.signatures(name).items():
                inputs = tf.sparse_placeholder(tf.float32)
                hub.add_signature(inputs=inputs, outputs=layer(inputs, **call_kwargs), name=signature)

    spec = hub.create_module_spec(module_fn)
    with tf.Graph().as_default():
        module = hub.Module(spec)
        with tf.Session() as session:
            # Some layers (MDL) hold their calibration in variables.
            session.run(tf.global_variables_initializer())
            module.export(save_dir, session)
    for name, calibrator in discretize_config.items():
        bin_vals = getattr(calibrator, "bin_vals", None)
        if bin_vals is None:
            continue
        content = {
            "feature_ids": calibrator.feature_ids().tolist(),
            "bin_boundaries": np.asarray(bin_vals).tolist(),
            "output_bits": calibrator.out_bits,
        }
        with tf.gfile.Open(os.path.join(save_dir, name + "_bin.json"), "w") as handle:
            json.dump(content, handle)


def discretize(params: Any, feature_config: Any, input_fn: Callable[[], Any], debug: bool = False) -> Dict[str, Any]:
    """Fits every calibrator of ``feature_config()['discretize_config']`` on ``input_fn`` and
    exports them as one hub module to ``params.discretizer_save_dir`` (see
    :func:`export_discretizers`).

    On the chief (or a local run) the data is read by raw sessions, at most
    ``params.discretizer_max_steps`` batches when set (``debug``: each calibrator's layer arguments
    are logged). Other workers wait (polling every 60 s) for
    ``<discretizer_save_dir>/tfhub_module.pb`` and return an empty dict.

    Args:
      params: with ``discretizer_save_dir`` (and optionally ``discretizer_max_steps``).
      feature_config: a function returning a v2 ``FeatureConfig`` (or a mapping with
        ``'discretize_config'``), as the original calls it; a config itself is accepted too.
      input_fn: as :func:`accumulate_and_calibrate` (e.g. ``data_record_input_fn`` with the config's
        parse function).

    Returns:
      the calibrated discretize_config (output name -> calibrator).

    Raises:
      ValueError: no ``discretizer_save_dir``, or a config without discretizing outputs.
    """
    save_dir = getattr(params, "discretizer_save_dir", None)
    if not save_dir:
        raise ValueError("discretize needs params.discretizer_save_dir (--discretizer.save_dir)")
    if not cluster.is_chief():
        module = os.path.join(save_dir, HUB_MODULE_FILE)
        while not tf.io.gfile.exists(module):
            _LOG.info("waiting for the chief's discretizer module %s", module)
            time.sleep(MODULE_POLL_SECS)
        return {}
    config = _discretize_config(feature_config() if callable(feature_config) else feature_config)
    steps = accumulate_and_calibrate(config, input_fn, getattr(params, "discretizer_max_steps", None))
    _LOG.info("discretize: calibrated %s on %d batches", ", ".join(config), steps)
    if debug:
        for name, calibrator in config.items():
            _LOG.info("discretize: %s: %s", name, calibrator.get_layer_args())
    export_discretizers(config, save_dir)
    return config


def apply_discretizers(features: Dict[str, Any], discretizer_save_dir: str, names: Any = None) -> Dict[str, Any]:
    """In a model graph: replaces each raw output ``features[name]`` by the discretizer module's
    signature ``name`` applied to it (a ``tf.SparseTensor`` ``[batch, 2**discretize_output_size_bits]``).

    Args:
      names: output names (default: every signature of the module without ``_keep_inputs``).

    Returns:
      ``features`` (modified in place).
    """
    import tensorflow_hub as hub

    module = hub.Module(discretizer_save_dir)
    if names is None:
        names = [s for s in module.get_signature_names() if not s.endswith("_keep_inputs")]
    for name in names:
        features[name] = module(features[name], signature=name)
    return features
