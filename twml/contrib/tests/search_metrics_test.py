"""twml.contrib.metrics: NDCG (search_metrics) and the contrib metric fns against numpy computations."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml  # noqa: F401  (graph mode)
from twml.contrib.metrics import metrics as CM
from twml.contrib.metrics import search_metrics as SM


def np_ndcg(labels, scores, k):
    labels, scores = np.asarray(labels, np.float64).ravel(), np.asarray(scores, np.float64).ravel()
    k = min(k, len(labels))
    order = np.argsort(-scores, kind="stable")[:k]
    discounts = np.log2(np.arange(2, k + 2))
    dcg = np.sum((2.0 ** labels[order] - 1) / discounts)
    ideal = np.sum((2.0 ** np.sort(labels)[::-1][:k] - 1) / discounts)
    return 0.0 if ideal == 0 else dcg / ideal


def make_queries(seed, sizes):
    rng = np.random.RandomState(seed)
    queries = []
    for size in sizes:
        labels = rng.randint(0, 4, size).astype(np.float32)
        scores = (labels + rng.normal(0, 1.5, size)).astype(np.float32)
        queries.append((labels, scores))
    return queries


def run_fn(metric_fn, batches, column=False):
    """Streams (labels, output[, weights]) batches through metric_fn; returns the final values."""
    shape = [None, 1] if column else [None]
    with tf.Graph().as_default():
        y, p = tf.placeholder(tf.float32, shape), tf.placeholder(tf.float32, shape)
        ops = metric_fn({"output": p}, y, None)
        with tf.Session() as session:
            session.run(tf.local_variables_initializer())
            for labels, scores in batches:
                feed = {y: labels.reshape(-1, 1) if column else labels, p: scores.reshape(-1, 1) if column else scores}
                session.run({k: v[1] for k, v in ops.items()}, feed)
            return session.run({k: v[0] for k, v in ops.items()})


def test_numpy_ndcg_reference_by_hand():
    # scores rank candidates 1, 0, 2; gains 2^rel − 1 = 7, 0, 1 in that order
    labels, scores = [0, 3, 1], [0.5, 0.9, 0.1]
    dcg = 7 / 1 + 0 / np.log2(3) + 1 / 2
    ideal = 7 / 1 + 1 / np.log2(3) + 0 / 2
    assert np_ndcg(labels, scores, 3) == pytest.approx(dcg / ideal)
    assert np_ndcg(labels, scores, 1) == pytest.approx(1.0)
    assert np_ndcg([0, 0], [0.1, 0.2], 2) == 0.0


@pytest.mark.parametrize("k", [1, 3, 5, 10, 50])
def test_ndcg_streams_mean_over_queries(k):
    queries = make_queries(1, [12, 7, 30, 3, 20])
    queries.append((np.zeros(6, np.float32), np.arange(6, dtype=np.float32)))  # no relevant candidate -> 0
    with tf.Graph().as_default():
        y, p = tf.placeholder(tf.float32, [None]), tf.placeholder(tf.float32, [None])
        value_op, update_op = SM.ndcg(y, p, top_k_int=k)
        assert len(tf.get_collection(tf.GraphKeys.METRIC_VARIABLES)) == 2
        with tf.Session() as session:
            session.run(tf.local_variables_initializer())
            updates = [session.run(update_op, {y: labels, p: scores}) for labels, scores in queries]
            value = session.run(value_op)
    per_query = [np_ndcg(labels, scores, k) for labels, scores in queries]
    np.testing.assert_allclose(updates, np.cumsum(per_query) / np.arange(1, len(queries) + 1), rtol=1e-5)
    np.testing.assert_allclose(value, np.mean(per_query), rtol=1e-5)


def test_get_search_metric_fn_names_and_values():
    queries = make_queries(2, [15, 9, 25, 4])
    result = run_fn(SM.get_search_metric_fn(), queries, column=True)
    assert list(result) == ["ndcg_1", "ndcg_3", "ndcg_5", "ndcg_10"]
    for k in (1, 3, 5, 10):
        np.testing.assert_allclose(
            result["ndcg_%d" % k], np.mean([np_ndcg(lab, s, k) for lab, s in queries]), rtol=1e-5
        )


def test_get_search_metric_fn_with_binary_metrics():
    rng = np.random.RandomState(3)
    queries = []
    for size in (20, 30):
        labels = (rng.uniform(size=size) < 0.4).astype(np.float32)
        queries.append((labels, np.clip(0.3 * labels + rng.uniform(0, 0.7, size), 0, 1).astype(np.float32)))
    fn = SM.get_search_metric_fn(binary_metrics=["ctr", "accuracy"], ndcg_top_ks=[2], use_binary_metrics=True)
    result = run_fn(fn, queries)
    assert list(result) == ["ctr", "accuracy", "ndcg_2"]
    labels = np.concatenate([q[0] for q in queries])
    scores = np.concatenate([q[1] for q in queries])
    np.testing.assert_allclose(result["ctr"], labels.mean(), rtol=1e-6)
    np.testing.assert_allclose(result["accuracy"], np.mean((scores >= 0.5) == (labels == 1)), rtol=1e-6)
    np.testing.assert_allclose(result["ndcg_2"], np.mean([np_ndcg(lab, s, 2) for lab, s in queries]), rtol=1e-5)
    with pytest.raises(ValueError):
        SM.get_search_metric_fn(search_metrics=["mrr"])


# ---------------------------------------------------------------------------------------------------------------
# contrib/metrics/metrics.py


def test_numeric_metric_fn_top_k_means():
    rng = np.random.RandomState(4)
    batches = []
    for size in (80, 150, 40):
        counts = rng.poisson(1.5, size).astype(np.float32)
        batches.append((counts, (counts + rng.normal(0, 1.0, size)).astype(np.float32)))
    # topK = (min, max, step): K in 10, 30, 50, plus 1
    fn = CM.get_numeric_metric_fn(topK=(10, 50, 20))
    result = run_fn(fn, batches, column=True)
    ks = (1, 10, 30, 50)
    assert sorted(result) == sorted("%s__k_%d" % (m, k) for m in CM.DEFAULT_NUMERIC_METRICS for k in ks)
    for k in ks:
        tops = np.concatenate(
            [labels[np.argsort(-scores, kind="stable")[: min(k, len(labels))]] for labels, scores in batches]
        )
        np.testing.assert_allclose(result["mean_numeric_label_topk__k_%d" % k], tops.mean(), rtol=1e-5)
        np.testing.assert_allclose(result["mean_gated_numeric_label_topk__k_%d" % k], np.mean(tops > 2.0), rtol=1e-5)


def test_top_k_mean_with_columns_ignores_weights():
    rng = np.random.RandomState(5)
    labels = rng.poisson(2.0, (60, 2)).astype(np.float32)
    scores = rng.normal(size=(60, 3)).astype(np.float32)
    weights = rng.uniform(0.5, 2, 60).astype(np.float32)
    with tf.Graph().as_default():
        # the default topK (5, 5, 5) gives K = 1 and 5; the ranking score is the last output column
        fn = CM.get_numeric_metric_fn(["mean_numeric_label_topK"], predcol=0, labelcol=1)
        ops = fn({"output": tf.constant(scores)}, tf.constant(labels), tf.constant(weights))
        assert sorted(ops) == ["mean_numeric_label_topk__k_1", "mean_numeric_label_topk__k_5"]
        with tf.Session() as session:
            session.run(tf.local_variables_initializer())
            session.run({k: v[1] for k, v in ops.items()})
            values = session.run({k: v[0] for k, v in ops.items()})
    for k in (1, 5):
        ids = np.argsort(-scores[:, 2], kind="stable")[:k]
        np.testing.assert_allclose(values["mean_numeric_label_topk__k_%d" % k], labels[ids, 1].mean(), rtol=1e-6)
    with tf.Graph().as_default():
        fn = CM.get_numeric_metric_fn(predcol=3, labelcol=1)
        with pytest.raises(AssertionError):
            fn({"output": tf.constant(scores)}, tf.constant(labels), None)


def test_metric_top_k_fn_helper_by_hand():
    # batch of 4: ranking scores (last output column) 0.1, 0.9, 0.4, 0.7 -> order 1, 3, 2, 0
    output = np.array([[0.2, 0.1], [0.8, 0.9], [0.3, 0.4], [0.6, 0.7]], np.float32)
    labels = np.array([[5.0], [1.0], [3.0], [2.0]], np.float32)
    with tf.Graph().as_default():
        fn = CM.get_metric_topK_fn_helper(
            ["Mean_Numeric_Label_TopK", "mean_gated_numeric_label_topk"], CM.SUPPORTED_NUMERIC_METRICS, topK=(2, 3, 1)
        )
        ops = fn({"output": tf.constant(output)}, tf.constant(labels), None)
        assert list(ops) == [
            "mean_numeric_label_topk__k_1",
            "mean_numeric_label_topk__k_2",
            "mean_numeric_label_topk__k_3",
            "mean_gated_numeric_label_topk__k_1",
            "mean_gated_numeric_label_topk__k_2",
            "mean_gated_numeric_label_topk__k_3",
        ]
        only = CM.get_metric_topK_fn_helper(
            ["mean_numeric_label_topk"],
            CM.SUPPORTED_NUMERIC_METRICS,
            metrics=["mean_numeric_label_topk", "not_a_target"],
            topK=(1, 1, 1),
        )
        assert list(only({"output": tf.constant(output)}, tf.constant(labels), None)) == [
            "mean_numeric_label_topk__k_1"
        ]
        with tf.Session() as session:
            session.run(tf.local_variables_initializer())
            session.run({k: v[1] for k, v in ops.items()})
            values = session.run({k: v[0] for k, v in ops.items()})
    assert values["mean_numeric_label_topk__k_1"] == pytest.approx(1.0)
    assert values["mean_numeric_label_topk__k_2"] == pytest.approx((1.0 + 2.0) / 2)
    assert values["mean_numeric_label_topk__k_3"] == pytest.approx((1.0 + 2.0 + 3.0) / 3)
    assert values["mean_gated_numeric_label_topk__k_3"] == pytest.approx(1 / 3)  # only 3.0 > 2
    with pytest.raises(ValueError):
        CM.get_metric_topK_fn_helper(None, CM.SUPPORTED_NUMERIC_METRICS)
    with tf.Graph().as_default(), pytest.raises(ValueError, match="unsupported"):
        CM.get_metric_topK_fn_helper(["mrr"], CM.SUPPORTED_NUMERIC_METRICS)(
            {"output": tf.constant(output)}, tf.constant(labels), None
        )


def np_rce(y, p, w):
    y, p, w = (np.asarray(a, np.float64) for a in (y, p, w))
    p = np.clip(p, 1e-5, 1 - 1e-5)
    ce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    c = np.sum(w * y) / np.sum(w)
    return 100 * (1 - (np.sum(w * ce) / np.sum(w)) / -(c * np.log(c) + (1 - c) * np.log(1 - c)))


@pytest.fixture(scope="module")
def multitask():
    rng = np.random.RandomState(6)
    n = 900
    logits = rng.normal(-0.5, 1.5, (n, 3))
    labels = (rng.uniform(size=(n, 3)) < 1 / (1 + np.exp(-logits))).astype(np.float32)
    preds = (1 / (1 + np.exp(-(logits + rng.normal(0, 0.8, (n, 3)))))).astype(np.float32)
    weights = rng.uniform(0.5, 2.0, n).astype(np.float32)
    return labels, preds, weights


def run_once(fn, graph_output, labels, weights):
    with tf.Graph().as_default():
        ops = fn(
            {k: tf.constant(v) for k, v in graph_output.items()},
            tf.constant(labels),
            None if weights is None else tf.constant(weights),
        )
        with tf.Session() as session:
            session.run(tf.local_variables_initializer())
            session.run({k: v[1] for k, v in ops.items()})
            return session.run({k: v[0] for k, v in ops.items()})


def test_partial_multi_binary_class_metric_fn(multitask):
    labels, preds, weights = multitask
    fn = CM.get_partial_multi_binary_class_metric_fn(["rce"], classes=["like", "click"], predcols=[2, 0])
    result = run_once(fn, {"output": preds}, labels, weights)
    assert sorted(result) == ["rce_click", "rce_like"]
    np.testing.assert_allclose(result["rce_like"], np_rce(labels[:, 2], preds[:, 2], weights), rtol=1e-5)
    np.testing.assert_allclose(result["rce_click"], np_rce(labels[:, 0], preds[:, 0], weights), rtol=1e-5)
    # one int column, default names = position among the selected columns
    result = run_once(CM.get_partial_multi_binary_class_metric_fn(["rce"], predcols=2), {"output": preds}, labels, None)
    assert sorted(result) == ["rce_0"]
    np.testing.assert_allclose(result["rce_0"], np_rce(labels[:, 2], preds[:, 2], np.ones(len(labels))), rtol=1e-5)
    # no predcols: every column, as get_multi_binary_class_metric_fn
    assert sorted(run_once(CM.get_partial_multi_binary_class_metric_fn(["ctr"]), {"output": preds}, labels, None)) == [
        "ctr_0",
        "ctr_1",
        "ctr_2",
    ]
    with tf.Graph().as_default(), pytest.raises(AssertionError, match="Column"):
        CM.get_partial_multi_binary_class_metric_fn(["rce"], predcols=[3])(
            {"output": tf.constant(preds)}, tf.constant(labels), None
        )


def test_single_and_dual_binary_task_metric_fns(multitask):
    labels, preds, weights = multitask
    counts = np.random.RandomState(7).poisson(2.0, len(labels)).astype(np.float32)
    # single task: output [batch, 1], labels [binary, numeric]
    single_labels = np.stack([labels[:, 1], counts], 1)
    single = CM.get_single_binary_task_metric_fn(["rce", "total_weight"], ["like"])
    result = run_once(single, {"output": preds[:, 1:2]}, single_labels, weights)
    assert sorted(result) == ["rce_like", "rce_unweighted_like", "total_weight_like", "total_weight_unweighted_like"]
    np.testing.assert_allclose(result["rce_like"], np_rce(labels[:, 1], preds[:, 1], weights), rtol=1e-5)
    np.testing.assert_allclose(
        result["rce_unweighted_like"], np_rce(labels[:, 1], preds[:, 1], np.ones(len(labels))), rtol=1e-5
    )
    np.testing.assert_allclose(result["total_weight_like"], weights.astype(np.float64).sum(), rtol=1e-6)
    np.testing.assert_allclose(result["total_weight_unweighted_like"], len(labels))

    with_top_k = CM.get_single_binary_task_metric_fn(["rce"], ["like"], topK=(3, 3, 1), use_topK=True)
    result = run_once(with_top_k, {"output": preds[:, 1:2]}, single_labels, weights)
    assert sorted(result) == sorted(
        ["rce_like", "rce_unweighted_like"] + ["%s__k_%d" % (m, k) for m in CM.DEFAULT_NUMERIC_METRICS for k in (1, 3)]
    )
    top3 = np.argsort(-preds[:, 1], kind="stable")[:3]
    np.testing.assert_allclose(result["mean_numeric_label_topk__k_3"], counts[top3].mean(), rtol=1e-6)

    # dual tasks: output [p1, p2, score], labels [task1, task2, numeric]
    dual_output = np.stack([preds[:, 0], preds[:, 2], preds[:, 1]], 1)
    dual_labels = np.stack([labels[:, 0], labels[:, 2], counts], 1)
    dual = CM.get_dual_binary_tasks_metric_fn(["rce"], ["click", "reply"], use_topK=True, topK=(2, 2, 1))
    result = run_once(dual, {"output": dual_output}, dual_labels, weights)
    assert sorted(result) == sorted(
        ["rce_click", "rce_reply", "rce_unweighted_click", "rce_unweighted_reply"]
        + ["%s__k_%d" % (m, k) for m in CM.DEFAULT_NUMERIC_METRICS for k in (1, 2)]
    )
    np.testing.assert_allclose(result["rce_reply"], np_rce(labels[:, 2], preds[:, 2], weights), rtol=1e-5)
    np.testing.assert_allclose(
        result["rce_unweighted_click"], np_rce(labels[:, 0], preds[:, 0], np.ones(len(labels))), rtol=1e-5
    )
    top2 = np.argsort(-preds[:, 1], kind="stable")[:2]
    np.testing.assert_allclose(result["mean_numeric_label_topk__k_2"], counts[top2].mean(), rtol=1e-6)
    np.testing.assert_allclose(result["mean_gated_numeric_label_topk__k_2"], np.mean(counts[top2] > 2), rtol=1e-6)
