"""PercentileDiscretizerCalibrator: weighted-percentile bin boundaries per feature (reference §7.2)."""

import json
import os
from typing import Any, Dict, Mapping, Optional

import numpy as np
import tensorflow.compat.v1 as tf

import twml
from libtwml import _core
from twml.contrib.calibrators.calibrator import CalibrationFeature, Calibrator

#: The weight ``PercentileDiscretizerCalibrator.accumulate`` gives every value when ``weights`` is None.
DEFAULT_SAMPLE_WEIGHT = 1


class PercentileDiscretizerFeature(CalibrationFeature):
    """One feature's accumulated ``values`` and ``weights``, calibrated to weighted percentiles."""

    def calibrate(self, bin_vals: np.ndarray, percentiles: np.ndarray, percentile_indices: bool = False) -> Any:
        """Writes the feature's ``len(percentiles)`` boundaries into ``bin_vals`` (float32 ``[n_bin + 1]``).

        Values are sorted; the normalised cumulative weights ``cw`` (``cw[0] = 0``, ``cw[-1] = 1``)
        locate each percentile (§5.5 bisection), the first and last boundaries are the minimum and
        maximum. With fewer values than boundaries: ``[-inf, v0, ..., v_{k-1}, +inf, ...]``.

        Returns:
          with ``percentile_indices``, the int ``[n_bin + 1]`` value index of each boundary (None
          for too few values); otherwise None.
        """
        arrays = self.concat_arrays()
        values = arrays["values"]
        weights = arrays["weights"]
        order = np.argsort(values, kind="stable")
        values = values[order]
        weights = weights[order]
        cumulative = np.cumsum(weights).astype(np.float64)
        cumulative -= cumulative[0]
        if cumulative[-1] > 0:
            cumulative /= cumulative[-1]
        cumulative = cumulative.astype(np.float32)
        n_boundaries = len(percentiles)
        if len(values) < n_boundaries:
            bin_vals[0] = -np.inf
            bin_vals[1 : len(values) + 1] = values
            bin_vals[len(values) + 1 :] = np.inf
            self._calibrated = True
            return None
        # The discretizer ops' own bisection (reference §5.5), from the core.
        indices = _core.bin_search(cumulative, percentiles)
        indices[0] = 0
        indices[-1] = len(values) - 1
        bin_vals[:] = values[indices]
        self._calibrated = True
        return indices if percentile_indices else None


class PercentileDiscretizerCalibrator(Calibrator):
    """Accumulates sparse (feature id, value, weight) data and computes ``n_bin + 1`` weighted
    percentile boundaries per feature, for ``twml.layers.PercentileDiscretizer``.

    Args:
      n_bin: bins per feature.
      out_bits: the layer's output key space is ``[0, 2**out_bits)``.
      bin_histogram: keep the count of values per bin after ``calibrate`` (``bin_histograms``).
      allow_empty_calibration: ``calibrate`` without any accumulated feature does not raise.
    """

    def __init__(
        self,
        n_bin: int,
        out_bits: int,
        bin_histogram: bool = True,
        allow_empty_calibration: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._n_bin = int(n_bin)
        self._out_bits = int(out_bits)
        self._bin_histogram = bin_histogram
        self._allow_empty_calibration = allow_empty_calibration
        self._features: Dict[int, PercentileDiscretizerFeature] = {}
        self._hash_map: Dict[int, int] = {}
        self._bin_ids: Optional[np.ndarray] = None
        self._bin_vals: Optional[np.ndarray] = None
        self.bin_histograms: Dict[int, np.ndarray] = {}

    @property
    def hash_map(self) -> Dict[int, int]:
        """Feature id -> 0-based index, in order of first appearance."""
        return self._hash_map

    @property
    def bin_ids(self) -> Optional[np.ndarray]:
        """int64 ``[n_feature, n_bin + 1]``: 1-based output keys of the boundaries (after calibrate)."""
        return self._bin_ids

    @property
    def bin_vals(self) -> Optional[np.ndarray]:
        """float32 ``[n_feature, n_bin + 1]`` boundaries, row = feature index (after calibrate)."""
        return self._bin_vals

    def accumulate(self, feature_keys: Any, feature_vals: Any, weights: Any = None) -> None:
        """Appends a batch: ``feature_keys`` int64 ``[n]``, ``feature_vals`` float ``[n]``, ``weights``
        float ``[n]`` (default 1). New keys get the next index in ascending key order."""
        keys = np.asarray(feature_keys, np.int64).reshape(-1)
        vals = np.asarray(feature_vals).reshape(-1)
        weights = np.ones(keys.shape, np.float32) if weights is None else np.asarray(weights).reshape(-1)
        if not keys.shape == vals.shape == weights.shape:
            raise ValueError(
                "feature_keys, feature_vals and weights must have the same shape, got %s, %s, %s"
                % (keys.shape, vals.shape, weights.shape)
            )
        for key in np.unique(keys):
            mask = keys == key
            key = int(key)
            if key not in self._hash_map:
                self._hash_map[key] = len(self._hash_map)
                self._features[key] = PercentileDiscretizerFeature(key)
            self._features[key].add_values({"values": vals[mask], "weights": weights[mask]})

    def accumulate_feature(self, output: Mapping[str, Any]) -> None:
        """Accumulates a prediction batch with ``feature_ids``, ``feature_values`` and ``weights``."""
        self.accumulate(output["feature_ids"], output["feature_values"], output["weights"])

    def accumulate_features(self, inputs: Mapping[str, Any], name: str) -> None:
        """Accumulates the SparseTensor value ``inputs[name]`` (``[batch, n]``, columns = feature
        ids) weighted by ``inputs['weights']`` ``[batch]`` (or ``[batch, 1]``) gathered by row."""
        sparse = inputs[name]
        indices = np.asarray(sparse.indices)
        weights = np.asarray(inputs["weights"]).reshape(-1)[indices[:, 0]]
        self.accumulate(indices[:, 1], sparse.values, weights)

    def calibrate(self, debug: bool = False) -> None:
        """Computes ``bin_ids`` and ``bin_vals`` (§7.2).

        Raises:
          RuntimeError: no feature was accumulated and ``allow_empty_calibration`` is False.
        """
        n_feature = len(self._hash_map)
        if n_feature == 0 and not self._allow_empty_calibration:
            raise RuntimeError("no feature was accumulated: nothing to calibrate")
        width = self._n_bin + 1
        self._bin_ids = np.arange(1, n_feature * width + 1, dtype=np.int64).reshape(n_feature, width)
        self._bin_vals = np.zeros((n_feature, width), np.float32)
        percentiles = np.linspace(0, 1, num=width, dtype=np.float32)
        for key, index in self._hash_map.items():
            feature = self._features[key]
            feature.calibrate(self._bin_vals[index], percentiles)
            if self._bin_histogram or debug:
                values = feature.concat_arrays()["values"]
                counts = np.bincount(np.searchsorted(self._bin_vals[index], values, side="left"), minlength=width + 1)
                self.bin_histograms[key] = counts
        super().calibrate()

    @property
    def out_bits(self) -> int:
        """Bits of the output key space (``2**out_bits`` columns)."""
        return self._out_bits

    def feature_ids(self) -> np.ndarray:
        """int64 ``[n_feature]`` feature ids ordered by index."""
        ids = np.zeros(len(self._hash_map), np.int64)
        for key, index in self._hash_map.items():
            ids[index] = key
        return ids

    def get_layer_args(self) -> Dict[str, Any]:
        return {"n_feature": len(self._hash_map), "n_bin": self._n_bin, "out_bits": self._out_bits}

    def _layer_kwargs(self, name: Optional[str], limit_out_bits: bool = True) -> Dict[str, Any]:
        """The constructor arguments every discretizer layer of a calibration takes: n_feature,
        n_bin, out_bits, bin_values, hash_keys/hash_values (feature id -> index), bin_ids,
        feature_offsets, name and the calibrator's extra kwargs.

        Raises:
          RuntimeError: not calibrated; ValueError: with ``limit_out_bits``, ``2**out_bits <=
            n_feature * (n_bin + 1)`` (the layer's output keys would not fit).
        """
        if not self._calibrated:
            raise RuntimeError("calibrate() the calibrator before to_layer()")
        n_feature = len(self._hash_map)
        width = self._n_bin + 1
        if limit_out_bits and (1 << self._out_bits) <= n_feature * width:
            raise ValueError(
                "2**out_bits = %d must exceed n_feature * (n_bin + 1) = %d" % (1 << self._out_bits, n_feature * width)
            )
        return dict(
            n_feature=n_feature,
            n_bin=self._n_bin,
            out_bits=self._out_bits,
            bin_values=self._bin_vals.reshape(-1),
            hash_keys=np.array(list(self._hash_map.keys()), np.int64),
            hash_values=np.array(list(self._hash_map.values()), np.int64),
            bin_ids=self._bin_ids.reshape(-1),
            feature_offsets=np.arange(0, n_feature * width, width, dtype=np.int64),
            name=name,
            **self._kwargs,
        )

    def to_layer(self, name: Optional[str] = None) -> Any:
        """``twml.layers.PercentileDiscretizer`` of the calibration.

        Raises:
          RuntimeError: not calibrated; ValueError: ``2**out_bits <= n_feature * (n_bin + 1)``.
        """
        return twml.layers.PercentileDiscretizer(**self._layer_kwargs(name))

    def signatures(self, name: str) -> Dict[str, Dict[str, Any]]:
        return {name: {"keep_inputs": False}, name + "_keep_inputs": {"keep_inputs": True}}

    def save(self, save_dir: str, name: str = "default", verbose: bool = False) -> None:
        """The TF-Hub module (signatures ``name`` and ``name + '_keep_inputs'``) and
        ``<save_dir>/<name>_bin.json`` = ``{feature_ids, bin_boundaries, output_bits}`` (feature ids
        ordered by index, boundaries ``[n_feature][n_bin + 1]``)."""
        super().save(save_dir, name=name, verbose=verbose)
        content = {
            "feature_ids": self.feature_ids().tolist(),
            "bin_boundaries": self._bin_vals.tolist(),
            "output_bits": self._out_bits,
        }
        with tf.gfile.Open(os.path.join(save_dir, name + "_bin.json"), "w") as file:
            json.dump(content, file)

    def write_summary(self, writer: Any, sess: Any = None) -> None:
        """Writes one histogram summary of the boundaries per feature (tag ``<name>/<feature id>``)."""
        values = []
        for key, index in self._hash_map.items():
            bounds = self._bin_vals[index]
            finite = bounds[np.isfinite(bounds)]
            histogram = tf.HistogramProto(
                min=float(finite.min()) if finite.size else 0.0,
                max=float(finite.max()) if finite.size else 0.0,
                num=float(finite.size),
                sum=float(finite.sum()),
                sum_squares=float(np.square(finite.astype(np.float64)).sum()),
            )
            histogram.bucket_limit.extend(finite.astype(np.float64).tolist())
            histogram.bucket.extend([1.0] * finite.size)
            values.append(tf.Summary.Value(tag="%s/%d" % (self.name, key), histo=histogram))
        writer.add_summary(tf.Summary(value=values))
        writer.flush()
