"""IsotonicCalibrator: binned weighted isotonic regression of predictions on targets (reference §7.3)."""

from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import tensorflow.compat.v1 as tf

import twml
from twml.contrib.calibrators.calibrator import CalibrationFeature, Calibrator


def isotonic_regression(y: Any, sample_weight: Optional[Any] = None, increasing: bool = True) -> np.ndarray:
    """Weighted isotonic regression of a sequence by pool-adjacent-violators.

    Finds the monotone sequence ``f`` minimising ``sum_i w_i (y_i - f_i)**2`` (non-decreasing, or
    non-increasing when ``increasing`` is False), in the order ``y`` is given (like sklearn's
    ``isotonic_regression``, which the original called).

    Args:
      y: float ``[n]`` values.
      sample_weight: float ``[n]`` non-negative weights (default 1). A pooled block whose weights
        sum to 0 takes the plain mean of its values, so zero-weight samples never produce NaN.
      increasing: fit a non-decreasing (True) or non-increasing (False) sequence.

    Returns:
      float64 ``[n]``: the fitted values.

    Raises:
      ValueError: shapes differ, or a weight is negative or not finite.
    """
    values = np.asarray(y, np.float64).reshape(-1)
    weights = np.ones_like(values) if sample_weight is None else np.asarray(sample_weight, np.float64).reshape(-1)
    if weights.shape != values.shape:
        raise ValueError("y and sample_weight must have the same length, got %s and %s" % (values.shape, weights.shape))
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    n = values.size
    if n == 0:
        return values.copy()
    if not increasing:
        return -isotonic_regression(-values, weights, increasing=True)
    # Ties in y never violate monotonicity: pre-pool runs of equal consecutive values so that
    # long constant stretches (binary targets) cost one block each.
    starts = np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))
    run_w = np.add.reduceat(weights, starts)
    run_wy = np.add.reduceat(weights * values, starts)
    run_y = np.add.reduceat(values, starts)
    run_n = np.diff(np.append(starts, n)).astype(np.float64)

    # The block stack: sums of w*y, w, y and counts; its mean is sum_wy/sum_w (plain mean if sum_w == 0).
    block_wy: List[float] = []
    block_w: List[float] = []
    block_y: List[float] = []
    block_n: List[float] = []
    block_mean: List[float] = []
    for wy, w, ys, count in zip(run_wy.tolist(), run_w.tolist(), run_y.tolist(), run_n.tolist()):
        mean = wy / w if w > 0 else ys / count
        while block_mean and block_mean[-1] > mean:
            wy += block_wy.pop()
            w += block_w.pop()
            ys += block_y.pop()
            count += block_n.pop()
            block_mean.pop()
            mean = wy / w if w > 0 else ys / count
        block_wy.append(wy)
        block_w.append(w)
        block_y.append(ys)
        block_n.append(count)
        block_mean.append(mean)
    return np.repeat(np.array(block_mean), np.array(block_n, np.int64))


def _bin_boundaries(n: int, n_bin: int, similar_bins: bool) -> np.ndarray:
    """Start of each of the ``n_bin`` bins over ``n`` sorted samples, plus ``n`` (§7.3)."""
    step = n // n_bin
    if similar_bins:
        starts = np.floor(np.linspace(0, n - step, n_bin)).astype(np.int64)
    else:
        starts = np.arange(0, step * n_bin, step, dtype=np.int64)
    return np.append(starts, n)


def _weighted_bin_means(values: np.ndarray, weights: np.ndarray, boundaries: np.ndarray) -> np.ndarray:
    """Weighted mean of ``values`` over each ``[boundaries[i], boundaries[i+1])`` (plain mean at weight 0)."""
    starts = boundaries[:-1]
    sum_w = np.add.reduceat(weights, starts)
    sum_wv = np.add.reduceat(weights * values, starts)
    plain = np.add.reduceat(values, starts) / np.diff(boundaries)
    safe_w = np.where(sum_w > 0, sum_w, 1.0)
    return np.where(sum_w > 0, sum_wv / safe_w, plain)


class IsotonicFeature(CalibrationFeature):
    """One class column's accumulated ``value`` (predictions), ``target`` and ``weight`` arrays."""

    def calibrate(self, n_bin: int, similar_bins: bool = False) -> Dict[str, np.ndarray]:
        """Sorts by prediction, fits the weighted isotonic regression of targets and bins it.

        Returns:
          ``{'bin_boundaries': int64 [n_bin + 1], 'xs': float64 [n_bin], 'ys': float64 [n_bin]}``:
          per bin the weighted mean prediction (``xs``) and weighted mean fitted target (``ys``).

        Raises:
          ValueError: fewer samples than ``n_bin``.
        """
        arrays = self.concat_arrays()
        predictions = arrays["value"].astype(np.float64)
        targets = arrays["target"].astype(np.float64)
        weights = arrays["weight"].astype(np.float64)
        n = predictions.size
        if n_bin > n:
            raise ValueError(
                "IsotonicCalibrator needs at least n_bin = %d samples per class, class %d has %d"
                % (n_bin, self.feature_id, n)
            )
        # A stable sort keeps ties in arrival order, so results are reproducible.
        order = np.argsort(predictions, kind="stable")
        predictions, targets, weights = predictions[order], targets[order], weights[order]
        fitted = isotonic_regression(targets, weights)
        boundaries = _bin_boundaries(n, n_bin, similar_bins)
        self._calibrated = True
        return {
            "bin_boundaries": boundaries,
            "xs": _weighted_bin_means(predictions, weights, boundaries),
            "ys": _weighted_bin_means(fitted, weights, boundaries),
        }


class IsotonicCalibrator(Calibrator):
    """Calibrates each of ``d`` prediction columns against its targets by binned weighted isotonic
    regression, for ``twml.layers.Isotonic`` (piecewise-linear interpolation through per-bin points).

    ``calibrate`` sorts each column's samples by prediction, fits a non-decreasing weighted
    isotonic regression of the targets in that order, splits the ``N`` sorted samples into
    ``n_bin`` contiguous bins (``step = N // n_bin``; bins start at ``0, step, ..., step*(n_bin-1)``
    and the last one takes the remainder; with ``similar_bins`` the starts are
    ``floor(linspace(0, N - step, n_bin))``) and keeps per bin the weighted mean prediction
    (``xs``) and weighted mean fitted target (``ys``).

    Args:
      n_bin: bins (interpolation points) per column; needs at least that many samples.
      similar_bins: spread the bin starts evenly over ``[0, N - step]`` instead of a fixed step.
      calibrator_name: default ``'isotonic_calibrator'``.
    """

    def __init__(self, n_bin: int, similar_bins: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(n_bin) < 1:
            raise ValueError("IsotonicCalibrator's n_bin must be >= 1, got %s" % n_bin)
        self._n_bin = int(n_bin)
        self._similar_bins = bool(similar_bins)
        self._features: List[IsotonicFeature] = []
        self._xs_input: Optional[np.ndarray] = None
        self._ys_input: Optional[np.ndarray] = None
        self._bin_boundaries: Optional[np.ndarray] = None

    @property
    def n_bin(self) -> int:
        """Bins per column."""
        return self._n_bin

    @property
    def n_class(self) -> int:
        """Number of calibrated columns (0 before the first ``accumulate``)."""
        return len(self._features)

    @property
    def xs_input(self) -> Optional[np.ndarray]:
        """float32 ``[n_class, n_bin]`` per-bin weighted mean predictions (after calibrate)."""
        return self._xs_input

    @property
    def ys_input(self) -> Optional[np.ndarray]:
        """float32 ``[n_class, n_bin]`` per-bin weighted mean isotonic outputs (after calibrate)."""
        return self._ys_input

    @property
    def bin_boundaries(self) -> Optional[np.ndarray]:
        """int64 ``[n_class, n_bin + 1]`` sample positions (in prediction order) where bins start,
        then N (after calibrate)."""
        return self._bin_boundaries

    def accumulate(self, predictions: Any, targets: Any, weights: Any = None) -> None:
        """Appends a batch.

        Args:
          predictions: float ``[n, d]`` (or ``[n]`` for ``d = 1``) model outputs.
          targets: float, predictions' shape: labels.
          weights: float ``[n]`` (or ``[n, 1]``) sample weights shared by all columns; default 1.

        Raises:
          ValueError: shapes disagree, or ``d`` differs from earlier batches.
        """
        predictions = np.asarray(predictions)
        targets = np.asarray(targets)
        if predictions.ndim == 1:
            predictions = predictions.reshape(-1, 1)
        if targets.ndim == 1:
            targets = targets.reshape(-1, 1)
        if predictions.ndim != 2 or predictions.shape != targets.shape:
            raise ValueError(
                "predictions and targets must both have shape [n, d], got %s and %s"
                % (predictions.shape, targets.shape)
            )
        n, d = predictions.shape
        if weights is None:
            weights = np.ones(n, np.float64)
        else:
            weights = np.asarray(weights)
            if weights.size != n or (weights.ndim == 2 and weights.shape[1] != 1) or weights.ndim > 2:
                raise ValueError("weights must have shape [%d] or [%d, 1], got %s" % (n, n, weights.shape))
            weights = weights.reshape(-1)
        if self._features and d != len(self._features):
            raise ValueError("predictions have %d columns, earlier batches had %d" % (d, len(self._features)))
        if not self._features:
            self._features = [IsotonicFeature(column) for column in range(d)]
        for column, feature in enumerate(self._features):
            feature.add_values({"value": predictions[:, column], "target": targets[:, column], "weight": weights})

    def accumulate_feature(self, output: Mapping[str, Any]) -> None:
        """Accumulates a prediction batch (e.g. from ``estimator.predict(yield_single_examples=False)``)
        with ``predictions``, ``targets`` (or ``labels``) and optional ``weights``."""
        targets = output["targets"] if "targets" in output else output["labels"]
        self.accumulate(output["predictions"], targets, output.get("weights"))

    def calibrate(self) -> None:
        """Computes ``xs_input``, ``ys_input`` and ``bin_boundaries`` (see the class doc).

        Raises:
          RuntimeError: nothing was accumulated; ValueError: a column has fewer than n_bin samples.
        """
        if not self._features:
            raise RuntimeError("accumulate() data before calibrate(): IsotonicCalibrator has no samples")
        results = [feature.calibrate(self._n_bin, self._similar_bins) for feature in self._features]
        self._xs_input = np.stack([r["xs"] for r in results]).astype(np.float32)
        self._ys_input = np.stack([r["ys"] for r in results]).astype(np.float32)
        self._bin_boundaries = np.stack([r["bin_boundaries"] for r in results])
        super().calibrate()

    def calibration_state(self) -> Dict[str, Any]:
        """The result of ``calibrate`` as JSON-ready lists: ``{"xs": [n_class][n_bin], "ys": ...,
        "bin_boundaries": [n_class][n_bin + 1]}`` (float32 values, exact through JSON).

        Raises:
          RuntimeError: not calibrated.
        """
        if not self._calibrated:
            raise RuntimeError("calibrate() the calibrator before calibration_state()")
        return {
            "xs": self._xs_input.tolist(),
            "ys": self._ys_input.tolist(),
            "bin_boundaries": self._bin_boundaries.tolist(),
        }

    def load_calibration_state(self, state: Mapping[str, Any]) -> None:
        """Makes the calibrator calibrated with a :meth:`calibration_state` (a rerun reusing an
        earlier calibration); accumulated samples are dropped.

        Raises:
          ValueError: the state's arrays do not have the shapes ``[k, n_bin]`` / ``[k, n_bin + 1]``.
        """
        xs = np.asarray(state["xs"], np.float32)
        ys = np.asarray(state["ys"], np.float32)
        boundaries = np.asarray(state["bin_boundaries"], np.int64)
        if (
            xs.ndim != 2
            or xs.shape[1] != self._n_bin
            or ys.shape != xs.shape
            or boundaries.shape != (xs.shape[0], self._n_bin + 1)
        ):
            raise ValueError(
                "isotonic calibration state: expected xs and ys [k, %d] and bin_boundaries [k, %d], "
                "got %s, %s and %s" % (self._n_bin, self._n_bin + 1, xs.shape, ys.shape, boundaries.shape)
            )
        self._features = [IsotonicFeature(column) for column in range(xs.shape[0])]
        self._xs_input, self._ys_input, self._bin_boundaries = xs, ys, boundaries
        super().calibrate()

    def get_layer_args(self) -> Dict[str, Any]:
        return {"n_unit": self.n_class, "n_bin": self._n_bin}

    def to_layer(self, name: Optional[str] = None) -> twml.layers.Isotonic:
        """``twml.layers.Isotonic(n_class, n_bin, xs_input, ys_input)``: maps float ``[batch, n_class]``
        predictions to calibrated values of the same shape and dtype.

        Raises:
          RuntimeError: not calibrated.
        """
        if not self._calibrated:
            raise RuntimeError("calibrate() the calibrator before to_layer()")
        return twml.layers.Isotonic(
            n_unit=self.n_class,
            n_bin=self._n_bin,
            xs_input=self._xs_input,
            ys_input=self._ys_input,
            name=name,
            **self._kwargs,
        )

    def save(self, save_dir: str, name: Optional[str] = None, verbose: bool = False) -> None:
        """Exports a TF-Hub (TF1) module to ``save_dir`` with one signature, ``name`` (default the
        calibrator's name, ``isotonic_calibrator``), mapping a float32 ``[batch, n_class]`` tensor
        through ``to_layer()`` to float32 ``[batch, n_class]``.

        Raises:
          RuntimeError: not calibrated.
        """
        import tensorflow_hub as hub

        if not self._calibrated:
            raise RuntimeError("calibrate() the calibrator before saving it")
        signature = name or self.name
        n_class = self.n_class

        def calibrator_module() -> None:
            inputs = tf.placeholder(tf.float32, shape=[None, n_class], name="predictions")
            hub.add_signature(inputs=inputs, outputs=self.to_layer()(inputs), name=signature)

        spec = hub.create_module_spec(calibrator_module)
        with tf.Graph().as_default():
            module = hub.Module(spec)
            with tf.Session() as session:
                module.export(save_dir, session)
        if verbose:
            tf.logging.info("saved calibrator %s to %s (signature %s)", self.name, save_dir, signature)

    def write_summary(self, writer: Any, sess: Any = None) -> None:
        """Writes, per class column ``c``, a histogram summary ``<name>/xs/<c>`` and ``<name>/ys/<c>``
        of the calibration points."""
        if not self._calibrated:
            raise RuntimeError("calibrate() the calibrator before write_summary()")
        values = []
        for kind, table in (("xs", self._xs_input), ("ys", self._ys_input)):
            for column, row in enumerate(table.astype(np.float64)):
                histogram = tf.HistogramProto(
                    min=float(row.min()),
                    max=float(row.max()),
                    num=float(row.size),
                    sum=float(row.sum()),
                    sum_squares=float(np.square(row).sum()),
                )
                histogram.bucket_limit.extend(row.tolist())
                histogram.bucket.extend([1.0] * row.size)
                values.append(tf.Summary.Value(tag="%s/%s/%d" % (self.name, kind, column), histo=histogram))
        writer.add_summary(tf.Summary(value=values))
        writer.flush()


#: The weight ``IsotonicCalibrator.accumulate`` gives every prediction when ``weights`` is None.
DEFAULT_SAMPLE_WEIGHT = 1


def sort_values(inputs: Any, target: Any, weight: Any, ascending: bool = True) -> tuple:
    """The three 1-D numpy arrays reordered by ``inputs`` (ascending, or descending when ``ascending``
    is False).

    Raises:
      ValueError: ``target`` or ``weight`` has another length than ``inputs``.
    """
    inputs, target, weight = np.asarray(inputs), np.asarray(target), np.asarray(weight)
    if len(target) != len(inputs) or len(weight) != len(inputs):
        raise ValueError(
            "sort_values: inputs, target and weight must have the same length (%d, %d, %d)"
            % (len(inputs), len(target), len(weight))
        )
    order = inputs.argsort()
    if not ascending:
        order = order[::-1]
    return inputs[order], target[order], weight[order]
