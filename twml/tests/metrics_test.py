"""twml.metrics (reference §10): every streaming metric against an independent numpy computation."""

import os
import tempfile

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml  # noqa: F401  (graph mode)
from twml import metrics as M

EPS = 1e-5
LO32, HI32 = float(np.float32(EPS)), float(np.float32(1 - EPS))  # the clip bounds as TF's float32 sees them


# ---------------------------------------------------------------------------------------------------------------
# data and streaming helpers


def make_data(n, seed, ties=False):
    rng = np.random.RandomState(seed)
    logits = rng.normal(-1.0, 1.5, n)
    labels = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    # an imperfect, miscalibrated predictor
    preds = 1.0 / (1.0 + np.exp(-(0.8 * logits + rng.normal(0.0, 0.7, n) - 0.3)))
    if ties:
        preds = np.round(preds, 2)
    preds = np.clip(preds, 0.0, 1.0).astype(np.float32)
    weights = rng.uniform(0.5, 2.0, n).astype(np.float32)
    return labels, preds, weights


def split(arrays, sizes):
    out, start = [], 0
    for size in sizes:
        out.append(tuple(a[start : start + size] for a in arrays))
        start += size
    return out


SIZES = [700, 300, 1200, 800]


def stream(factory, batches, with_weights=True, column=False, **kwargs):
    """Runs factory over the batches; returns (updates after each batch, final value)."""
    shape = [None, 1] if column else [None]
    with tf.Graph().as_default():
        y = tf.placeholder(tf.float32, shape)
        p = tf.placeholder(tf.float32, shape)
        w = tf.placeholder(tf.float32, [None]) if with_weights else None
        value_op, update_op = factory(y, p, w, **kwargs)
        names = {v.op.name for v in tf.get_collection(tf.GraphKeys.LOCAL_VARIABLES)}
        assert names == {v.op.name for v in tf.get_collection(tf.GraphKeys.METRIC_VARIABLES)}
        assert not tf.trainable_variables()
        with tf.Session() as session:
            session.run(tf.local_variables_initializer())
            updates = []
            for labels, preds, weights in batches:
                feed = {y: labels.reshape(-1, 1) if column else labels, p: preds.reshape(-1, 1) if column else preds}
                if with_weights:
                    feed[w] = weights
                updates.append(session.run(update_op, feed))
            return np.array(updates), session.run(value_op)


def ce(p, y):
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def rce_from(loss, pos, weight):
    c = pos / weight
    return 100.0 * (1.0 - (loss / weight) / ce(c, c))


def np_rce_family(batches, mode, weighted=True):
    """Streams the RCE family in float64; mode in rce/nrce/arce/arce_original and deprecated_* variants."""
    loss = pos = total = q = wpos = 0.0
    results = []
    for y, p, w in batches:
        y, p = y.astype(np.float64), p.astype(np.float64)
        w = w.astype(np.float64) if weighted else np.ones_like(y)
        running = not mode.startswith("deprecated_")
        kind = mode.replace("deprecated_", "")
        if kind == "rce":
            p2, w2, y_add = p, w, np.sum(w * y)
        elif kind == "arce_original":
            batch_y, batch_wy = np.sum(y), np.sum(w * y)
            if running:
                pos_run, wpos = pos + batch_y, wpos + batch_wy
                a = pos_run / wpos
            else:
                a = batch_y / batch_wy
            b = (len(y) - batch_y) / (np.sum(w) - batch_wy)
            p2 = a * p / (a * p + b * (1 - p))
            w2, y_add = np.ones_like(w), batch_y
        else:
            q += np.sum(w * p)
            a = (pos + np.sum(w * y)) / q if running else np.sum(w * y) / np.sum(w * p)
            if kind == "arce":
                b = (np.sum(w) - np.sum(w * y)) / (np.sum(w) - np.sum(w * p))
                p2 = a * p / (a * p + b * (1 - p))
            else:
                p2 = a * p
            w2, y_add = w, np.sum(w * y)
        # TF forms p' and the clip bounds in float32: with p' clipped at 1 − 1e−5, float32(1 − 1e−5) leaves
        # 1.0014e−5 instead of 1e−5, a 1e−3 change of that sample's CE, so the reference clips the same way
        p2 = p2.astype(np.float32).astype(np.float64)
        loss += np.sum(w2 * ce(np.clip(p2, LO32, HI32), y))
        total += np.sum(w2)
        pos += y_add
        results.append(rce_from(loss, pos, total))
    return np.array(results)


@pytest.fixture(scope="module")
def data():
    return make_data(sum(SIZES), seed=3)


@pytest.fixture(scope="module")
def batches(data):
    return split(data, SIZES)


# ---------------------------------------------------------------------------------------------------------------
# simple statistics


def test_total_weight_num_samples_ctr(batches, data):
    y, p, w = data
    updates, value = stream(M.total_weight, batches)
    np.testing.assert_allclose(updates, np.cumsum([b[2].astype(np.float64).sum() for b in batches]), rtol=1e-12)
    np.testing.assert_allclose(value, w.astype(np.float64).sum(), rtol=1e-12)
    assert stream(M.total_weight, batches, with_weights=False)[1] == len(y)
    assert stream(M.num_samples, batches, column=True)[1] == len(y)
    np.testing.assert_allclose(stream(M.ctr, batches)[1], np.sum(w * y) / np.sum(w), rtol=1e-5)
    np.testing.assert_allclose(stream(M.ctr, batches, column=True)[1], np.sum(w * y) / np.sum(w), rtol=1e-5)
    np.testing.assert_allclose(stream(M.predicted_ctr, batches)[1], np.sum(w * p) / np.sum(w), rtol=1e-5)


def test_pred_std_dev(batches, data):
    _, p, w = (a.astype(np.float64) for a in data)
    mean = np.sum(w * p) / np.sum(w)
    expected = np.sqrt(np.sum(w * (p - mean) ** 2) / np.sum(w))
    np.testing.assert_allclose(stream(M.prediction_std_dev, batches)[1], expected, rtol=1e-9)


# ---------------------------------------------------------------------------------------------------------------
# RCE family
# TF accumulates these in float32 (per-batch sums then running sums), numpy in float64; RCE = 100·(1 − ratio)
# amplifies the ratio's ~1e-7 relative rounding by 100/RCE, so rtol 1e-5 holds here where RCE is ~10-30%.

RCE_CASES = [
    ("rce", M.rce),
    ("nrce", M.nrce),
    ("arce", M.arce),
    ("arce_original", M.arce_original),
    ("deprecated_nrce", M.deprecated_nrce),
    ("deprecated_arce", M.deprecated_arce),
    ("deprecated_arce_original", M.deprecated_arce_original),
]


@pytest.mark.parametrize("mode,factory", RCE_CASES)
def test_rce_family_streaming(batches, mode, factory):
    updates, value = stream(factory, batches)
    expected = np_rce_family(batches, mode)
    np.testing.assert_allclose(updates, expected, rtol=1e-5)
    np.testing.assert_allclose(value, expected[-1], rtol=1e-5)


def test_rce_flags_and_unweighted(batches):
    np.testing.assert_allclose(
        stream(M.rce, batches, normalize=True, arce=True)[1], np_rce_family(batches, "arce")[-1], rtol=1e-5
    )
    np.testing.assert_allclose(
        stream(M.rce, batches, normalize=True, arce=True, up_weight=False)[1],
        np_rce_family(batches, "arce_original")[-1],
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        stream(M.nrce, batches, with_weights=False, column=True)[1],
        np_rce_family(batches, "nrce", weighted=False)[-1],
        rtol=1e-5,
    )


def test_nrce_is_batch_order_dependent_but_deprecated_differs(batches):
    # sanity of the reference itself: running and batch-only normalisers must give different numbers
    assert abs(np_rce_family(batches, "nrce")[-1] - np_rce_family(batches, "deprecated_nrce")[-1]) > 1e-3


def test_lolly_nrce(batches, data):
    y, p, w = (a.astype(np.float64) for a in data)
    pos, total, q = np.sum(w * y), np.sum(w), np.sum(w * p)
    loss = np.sum(w * ce(np.clip(p, EPS, 1 - EPS), y))
    a = pos / q
    s = [np.sum(w * ((1 - y) * p) ** j) for j in range(1, 6)]
    norm_loss = loss - pos * np.log(a) + sum(s[j - 1] * (a**j - 1) / j for j in range(1, 6))
    expected = rce_from(norm_loss, pos, total)
    updates, value = stream(M.lolly_nrce, batches)
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    np.testing.assert_allclose(updates[-1], expected, rtol=1e-5)
    # the 5-term expansion only roughly tracks the exactly normalised RCE (large a·p converge slowly)
    exact = rce_from(np.sum(w * ce(np.clip(a * p, EPS, 1 - EPS), y)), pos, total)
    assert abs(value - exact) < 3.0


def np_rce_std_err(y, p, w):
    y, p, w = (a.astype(np.float64) for a in (y, p, w))
    f = np.stack([w * ce(np.clip(p, EPS, 1 - EPS), y), w * y, w], axis=1)
    n, tot, outer = len(y), f.sum(0), f.T @ f
    f0, f1, f2 = tot
    r, c = f0 / f2, f1 / f2
    h = ce(c, c)
    dh = np.log((1 - c) / c)
    grad = np.array(
        [
            -100.0 / (f2 * h),
            100.0 * r * dh / (h * h * f2),
            -100.0 * ((-f0 / f2**2) * h - r * dh * (-f1 / f2**2)) / (h * h),
        ]
    )
    return np.sqrt(grad @ (outer - np.outer(tot, tot) / n) @ grad)


def test_rce_std_err(batches, data):
    updates, value = stream(M.rce_std_err, batches)
    np.testing.assert_allclose(value, np_rce_std_err(*data), rtol=1e-6)
    first = batches[0]
    np.testing.assert_allclose(updates[0], np_rce_std_err(*first), rtol=1e-6)
    # the delta-method error is close to the bootstrap spread of RCE
    rng = np.random.RandomState(0)
    y, p, w = (a.astype(np.float64) for a in data)
    boots = []
    for _ in range(200):
        idx = rng.randint(0, len(y), len(y))
        boots.append(
            rce_from(
                np.sum(w[idx] * ce(np.clip(p[idx], EPS, 1 - EPS), y[idx])), np.sum(w[idx] * y[idx]), np.sum(w[idx])
            )
        )
    assert 0.7 < value / np.std(boots) < 1.4


def test_metric_std_err_generic_mean(batches, data):
    # metric = weighted mean of predictions: stderr by the delta method has a closed form
    def transform(predictions, labels, weights):  # the original's order: predictions first
        p = tf.cast(tf.reshape(predictions, [-1]), tf.float64)
        w = tf.cast(tf.reshape(weights, [-1]), tf.float64)
        return tf.stack([w * p, w], axis=1)

    _, value = stream(M.metric_std_err, batches, transform=transform, metric=lambda f: f[0] / f[1])
    _, p, w = (a.astype(np.float64) for a in data)
    mean = np.sum(w * p) / np.sum(w)
    expected = np.sqrt(np.sum((w * (p - mean)) ** 2)) / np.sum(w)
    np.testing.assert_allclose(value, expected, rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# AUCs


def np_exact_auc(y, p, w):
    """Tie-aware weighted ROC AUC: P(score_pos > score_neg) + ½ P(tie), pairs weighted by w_pos·w_neg."""
    values, inverse = np.unique(p, return_inverse=True)
    pos = np.bincount(inverse, weights=w * y, minlength=len(values))
    neg = np.bincount(inverse, weights=w * (1 - y), minlength=len(values))
    below = np.cumsum(neg) - neg
    return np.sum(pos * (below + 0.5 * neg)) / (pos.sum() * neg.sum())


def auc_thresholds(num=200):
    return np.array([-1e-7] + [(i + 1) / (num - 1) for i in range(num - 2)] + [1 + 1e-7], np.float32)


def np_confusion(y, p, w, thresholds):
    above = p[None, :] > thresholds[:, None]
    tp = np.sum(above * (w * y)[None], axis=1)
    fp = np.sum(above * (w * (1 - y))[None], axis=1)
    fn = np.sum(~above * (w * y)[None], axis=1)
    tn = np.sum(~above * (w * (1 - y))[None], axis=1)
    return tp, fp, tn, fn


def np_careful_pr_auc(y, p, w):
    tp, fp, _, fn = np_confusion(y.astype(np.float64), p, w.astype(np.float64), auc_thresholds())
    total = tp + fp
    dtp = tp[:-1] - tp[1:]
    dp = np.maximum(total[:-1] - total[1:], 0)
    slope = np.where(dp > 0, dtp / np.where(dp > 0, dp, 1), 0.0)
    intercept = tp[1:] - slope * total[1:]
    both = (total[:-1] > 0) & (total[1:] > 0)
    ratio = np.where(both, total[:-1] / np.where(both, total[1:], 1), 1.0)
    recall_den = np.maximum(tp[1:] + fn[1:], 0)
    inc = slope * (dtp + intercept * np.log(ratio))
    return np.sum(np.where(recall_den > 0, inc / np.where(recall_den > 0, recall_den, 1), 0.0))


@pytest.fixture(scope="module")
def big():
    return make_data(10000, seed=11, ties=True)


def test_roc_auc_close_to_exact(big):
    y, p, w = big
    _, value = stream(M.roc_auc, split(big, [2500] * 4))
    exact = np_exact_auc(y.astype(np.float64), p.astype(np.float64), w.astype(np.float64))
    assert 0.6 < exact < 0.95
    assert abs(value - exact) < 0.005
    # unweighted too
    _, value = stream(M.roc_auc, split(big, [5000] * 2), with_weights=False)
    assert abs(value - np_exact_auc(y.astype(np.float64), p.astype(np.float64), np.ones(len(y)))) < 0.005


def test_exact_auc_reference_by_pairs():
    # the numpy reference itself against the O(n²) pair definition
    y, p, w = make_data(300, seed=5, ties=True)
    pos, neg = y == 1, y == 0
    diff = p[pos][:, None] - p[neg][None, :]
    w = w.astype(np.float64)
    pair_w = w[pos][:, None] * w[neg][None, :]
    brute = np.sum(pair_w * ((diff > 0) + 0.5 * (diff == 0))) / pair_w.sum()
    np.testing.assert_allclose(np_exact_auc(y, p, w), brute, rtol=1e-12)


def test_pr_auc_rule(big):
    y, p, w = big
    _, value = stream(M.pr_auc, split(big, [2500] * 4))
    expected = np_careful_pr_auc(y, p, w)
    assert 0.2 < expected < 0.95
    np.testing.assert_allclose(value, expected, rtol=1e-4)


def test_pr_curve_summary(batches, data):
    y, p, w = data
    with tf.Graph().as_default():
        yt, pt, wt = (
            tf.placeholder(tf.float32, [None]),
            tf.placeholder(tf.float32, [None]),
            tf.placeholder(tf.float32, [None]),
        )
        value_op, update_op = M.pr_curve(yt, pt, wt, name="pr_curve")
        with tf.Session() as session:
            session.run(tf.local_variables_initializer())
            for b in batches:
                session.run(update_op, {yt: b[0], pt: b[1], wt: b[2]})
            serialized = session.run(value_op)
    summary = tf.Summary.FromString(serialized)
    assert summary.value[0].tag.startswith("pr_curve")
    curve = tf.make_ndarray(summary.value[0].tensor)
    assert curve.shape == (6, 201)
    thresholds = np.array([i / 200.0 for i in range(201)], np.float32)
    tp, fp, tn, fn = np_confusion(y.astype(np.float64), p, w.astype(np.float64), thresholds)
    np.testing.assert_allclose(curve[0], tp, rtol=1e-4)
    np.testing.assert_allclose(curve[1], fp, rtol=1e-4)
    np.testing.assert_allclose(curve[2], tn, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(curve[3], fn, rtol=1e-4, atol=1e-2)


# ---------------------------------------------------------------------------------------------------------------
# thresholded metrics and the metric fns


def run_metric_fn(metric_fn, graph_output_fn, labels, weights):
    """graph_output_fn builds graph_output from constants; evaluates the ops of one batch."""
    with tf.Graph().as_default():
        graph_output = graph_output_fn()
        ops = metric_fn(graph_output, tf.constant(labels), None if weights is None else tf.constant(weights))
        with tf.Session() as session:
            session.run(tf.local_variables_initializer())
            session.run({k: v[1] for k, v in ops.items()})
            return {k: v for k, v in session.run({k: v[0] for k, v in ops.items()}).items()}


def np_thresholded(y, hard, w):
    y, hard = y.astype(bool), hard.astype(bool)
    tp, fp = np.sum(w * (y & hard)), np.sum(w * (~y & hard))
    fn, tn = np.sum(w * (y & ~hard)), np.sum(w * (~y & ~hard))
    return {
        "accuracy": (tp + tn) / w.sum(),
        "precision": tp / (tp + fp),
        "recall": tp / (tp + fn),
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "true_negatives": tn,
    }


THRESHOLDED = [
    "accuracy",
    "precision",
    "recall",
    "true_positives",
    "false_positives",
    "false_negatives",
    "true_negatives",
]


@pytest.mark.parametrize("threshold", [None, 0.3])
def test_thresholded_metrics_from_output(data, threshold):
    y, p, w = (a[:1500] for a in data)

    def graph_output():
        out = {"output": tf.constant(p.reshape(-1, 1))}
        if threshold is not None:
            out["threshold"] = tf.constant(threshold)
        return out

    result = run_metric_fn(M.get_binary_class_metric_fn(THRESHOLDED), graph_output, y.reshape(-1, 1), w)
    expected = np_thresholded(y, p >= (0.5 if threshold is None else threshold), w.astype(np.float64))
    assert list(result) == THRESHOLDED
    for key in THRESHOLDED:
        np.testing.assert_allclose(result[key], expected[key], rtol=1e-5, err_msg=key)


def test_thresholded_metrics_use_hard_output(data):
    y, p, w = (a[:1000] for a in data)
    hard = np.arange(1000) % 3 == 0  # unrelated to p: proves hard_output wins over output/threshold

    def graph_output():
        return {"output": tf.constant(p), "threshold": tf.constant(0.5), "hard_output": tf.constant(hard)}

    result = run_metric_fn(M.get_binary_class_metric_fn(["Accuracy", "PRECISION", "recall"]), graph_output, y, w)
    expected = np_thresholded(y, hard, w.astype(np.float64))
    for key in ["accuracy", "precision", "recall"]:
        np.testing.assert_allclose(result[key], expected[key], rtol=1e-5, err_msg=key)


AT_PERCENTILES = [
    "precision_at_percentiles",
    "recall_at_percentiles",
    "false_positives_at_percentiles",
    "false_negatives_at_percentiles",
    "true_positives_at_percentiles",
    "true_negatives_at_percentiles",
]


def test_at_percentiles(data):
    y, p, w = (a[:2000] for a in data)
    result = run_metric_fn(M.get_binary_class_metric_fn(AT_PERCENTILES), lambda: {"output": tf.constant(p)}, y, w)
    thresholds = np.linspace(0, 1, 101).astype(np.float32)
    tp, fp, tn, fn = np_confusion(y.astype(np.float64), p, w.astype(np.float64), thresholds)
    expected = {
        "true_positives_at_percentiles": tp,
        "false_positives_at_percentiles": fp,
        "true_negatives_at_percentiles": tn,
        "false_negatives_at_percentiles": fn,
        "precision_at_percentiles": np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1e-12), 0.0),
        "recall_at_percentiles": tp / (tp + fn),
    }
    for key in AT_PERCENTILES:
        assert result[key].shape == (101,)
        np.testing.assert_allclose(result[key], expected[key], rtol=1e-4, atol=1e-3, err_msg=key)


def test_default_metric_fn_keys_and_values(data):
    y, p, w = (a[:1500] for a in data)
    assert set(M.DEFAULT_BINARY_CLASS_METRICS) <= set(M.SUPPORTED_BINARY_CLASS_METRICS)
    assert len(M.SUPPORTED_BINARY_CLASS_METRICS) == 30
    result = run_metric_fn(M.get_binary_class_metric_fn(), lambda: {"output": tf.constant(p[:, None])}, y[:, None], w)
    assert list(result) == M.DEFAULT_BINARY_CLASS_METRICS
    np.testing.assert_allclose(result["rce"], np_rce_family([(y, p, w)], "rce")[0], rtol=1e-5)
    np.testing.assert_allclose(result["total_weight"], w.astype(np.float64).sum(), rtol=1e-9)


def test_all_supported_metrics_build_and_run(data):
    y, p, w = (a[:500] for a in data)
    result = run_metric_fn(
        M.get_binary_class_metric_fn(list(M.SUPPORTED_BINARY_CLASS_METRICS)), lambda: {"output": tf.constant(p)}, y, w
    )
    assert list(result) == list(M.SUPPORTED_BINARY_CLASS_METRICS)
    for key, value in result.items():
        if key != "pr_curve":
            assert np.all(np.isfinite(value)), key


def test_custom_and_duplicate_metrics(data):
    y, p, w = (a[:500] for a in data)

    def double_ctr(labels, predictions, weights=None, name=None):
        value, update = M.ctr(labels, predictions, weights, name=name)
        return 2.0 * value, 2.0 * update

    fn = M.get_binary_class_metric_fn(["RCE", "rce", ("Double_CTR", double_ctr, False)])
    result = run_metric_fn(fn, lambda: {"output": tf.constant(p)}, y, w)
    assert list(result) == ["rce", "double_ctr"]
    np.testing.assert_allclose(result["double_ctr"], 2 * np.sum(w * y) / np.sum(w), rtol=1e-5)
    with pytest.raises(ValueError):
        M.get_binary_class_metric_fn(["no_such_metric"])


# ---------------------------------------------------------------------------------------------------------------
# multi-class fns


def np_rce_one(y, p, w):
    return np_rce_family([(y, p, w)], "rce")[0]


@pytest.mark.parametrize("weight_shape", ["none", "batch", "batch1", "per_class"])
def test_multi_binary_class_metric_fn(weight_shape):
    rng = np.random.RandomState(2)
    n = 800
    cols = [make_data(n, seed=20 + i) for i in range(3)]
    y = np.stack([c[0] for c in cols], 1)
    p = np.stack([c[1] for c in cols], 1)
    w_per = np.stack([c[2] for c in cols], 1)
    w_shared = rng.uniform(0.5, 2.0, n).astype(np.float32)
    weights = {"none": None, "batch": w_shared, "batch1": w_shared[:, None], "per_class": w_per}[weight_shape]
    fn = M.get_multi_binary_class_metric_fn(["rce", "accuracy", "total_weight"], classes=["a", "b", "c"])
    result = run_metric_fn(fn, lambda: {"output": tf.constant(p)}, y, weights)
    assert sorted(result) == sorted("%s_%s" % (m, c) for m in ["rce", "accuracy", "total_weight"] for c in "abc")
    for i, cls in enumerate("abc"):
        w = {"none": np.ones(n, np.float32), "batch": w_shared, "batch1": w_shared, "per_class": w_per[:, i]}[
            weight_shape
        ]
        np.testing.assert_allclose(result["rce_" + cls], np_rce_one(y[:, i], p[:, i], w), rtol=1e-5)
        np.testing.assert_allclose(result["total_weight_" + cls], w.astype(np.float64).sum(), rtol=1e-9)
        np.testing.assert_allclose(
            result["accuracy_" + cls],
            np_thresholded(y[:, i], p[:, i] >= 0.5, w.astype(np.float64))["accuracy"],
            rtol=1e-5,
        )


def test_multi_binary_default_names_uncalibrated_and_combine():
    n = 600
    cols = [make_data(n, seed=40 + i) for i in range(2)]
    y = np.stack([c[0] for c in cols], 1)
    p = np.stack([c[1] for c in cols], 1)
    raw = np.clip(p * 0.8 + 0.05, 0, 1).astype(np.float32)
    w = cols[0][2]

    fn = M.combine_metric_fns(
        M.get_multi_binary_class_metric_fn(["rce"]),
        M.get_multi_binary_class_uncalibrated_metric_fn(["rce"]),
        M.get_multi_binary_class_uncalibrated_metric_fn(["rce"], keep_weight=False),
    )
    result = run_metric_fn(fn, lambda: {"output": tf.constant(p), "uncalibrated_output": tf.constant(raw)}, y, w)
    assert sorted(result) == sorted(
        ["rce_0", "rce_1", "uncalibrated_rce_0", "uncalibrated_rce_1", "unweighted_rce_0", "unweighted_rce_1"]
    )
    for i in range(2):
        np.testing.assert_allclose(result["rce_%d" % i], np_rce_one(y[:, i], p[:, i], w), rtol=1e-5)
        np.testing.assert_allclose(result["uncalibrated_rce_%d" % i], np_rce_one(y[:, i], raw[:, i], w), rtol=1e-5)
        np.testing.assert_allclose(
            result["unweighted_rce_%d" % i], np_rce_one(y[:, i], raw[:, i], np.ones(n)), rtol=1e-5
        )


def test_multi_binary_requires_static_classes():
    fn = M.get_multi_binary_class_metric_fn(["rce"])
    with tf.Graph().as_default():
        out = tf.placeholder(tf.float32, [None, None])
        with pytest.raises(ValueError):
            fn({"output": out}, out, None)


# ---------------------------------------------------------------------------------------------------------------
# estimator integration


def test_metric_fn_as_estimator_eval_metric_ops(data):
    y, p, w = (a[:1200] for a in data)
    metric_fn = M.get_binary_class_metric_fn(["rce", "total_weight", "roc_auc", "pr_curve"])

    def model_fn(features, labels, mode):
        bias = tf.get_variable("bias", [], initializer=tf.zeros_initializer())
        output = features["p"] + 0.0 * bias
        loss = tf.reduce_mean(tf.square(output - labels)) + 0.0 * bias
        train_op = tf.group(tf.assign_add(tf.train.get_or_create_global_step(), 1))
        return tf.estimator.EstimatorSpec(
            mode, loss=loss, train_op=train_op, eval_metric_ops=metric_fn({"output": output}, labels, features["w"])
        )

    def input_fn():
        dataset = tf.data.Dataset.from_tensor_slices(({"p": p, "w": w}, y))
        return dataset.batch(300)

    with tempfile.TemporaryDirectory() as model_dir:
        config = tf.estimator.RunConfig(
            model_dir=model_dir,
            session_config=tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1),
        )
        estimator = tf.estimator.Estimator(model_fn, config=config)
        estimator.train(input_fn, steps=1)
        result = estimator.evaluate(input_fn)
        assert os.path.isdir(os.path.join(model_dir, "eval"))
    np.testing.assert_allclose(result["rce"], np_rce_one(y, p, w), rtol=1e-5)
    np.testing.assert_allclose(result["total_weight"], w.astype(np.float64).sum(), rtol=1e-6)
    assert (
        abs(result["roc_auc"] - np_exact_auc(y.astype(np.float64), p.astype(np.float64), w.astype(np.float64))) < 0.01
    )
