"""twml.contrib.utils: ranking losses, NDCG, masks, scores, normalisers, similarity and interpolation
against numpy formulas and hand-computed cases; datasets (overlap resolution, date-ranged file lists)
on real files and device against TensorFlow."""

import datetime
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml  # noqa: F401  (graph mode)
from twml.contrib.utils import datasets, device, interp, loss_fns, masks, math_fns, normalizer, scores, similarities


def run(tensor):
    with tf.Session() as session:
        return session.run(tensor)


def sce(z, x):
    return np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))


def slog(x):
    return np.log(np.maximum(x, 1e-8))


Y = np.array([[2.0], [0.0], [1.0], [1.0], [3.0]], np.float32)


S = np.array([[0.3], [1.2], [-0.4], [0.9], [0.1]], np.float32)


def np_ndcg(y, s, k):
    y, s = y.ravel(), s.ravel()
    k = min(k, len(y))
    order = np.argsort(-s, kind="stable")[:k]
    d = np.log2(np.arange(2, k + 2))
    idcg = np.sum((2 ** np.sort(y)[::-1][:k] - 1) / d)
    return 0.0 if idcg == 0 else np.sum((2 ** y[order] - 1) / d) / idcg


def test_safe_div_and_log():
    out = run(math_fns.safe_div(tf.constant([1.0, 2.0, 3.0]), tf.constant([2.0, 0.0, -1.0])))
    np.testing.assert_allclose(out, [0.5, 0.0, 0.0])
    np.testing.assert_allclose(run(math_fns.safe_log(tf.constant([0.0, np.e]))), [np.log(1e-8), 1.0], rtol=1e-6)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 9])
def test_cal_ndcg_matches_numpy(k):
    np.testing.assert_allclose(run(math_fns.cal_ndcg(Y, S, k)), np_ndcg(Y, S, k), rtol=1e-5)


def test_cal_swapped_ndcg_is_the_ndcg_change_of_swapping_two_positions():
    k = 4
    out = run(math_fns.cal_swapped_ndcg(Y, S, k))
    y, s = Y.ravel(), S.ravel()
    order = list(np.argsort(-s, kind="stable")[:k])
    d = np.log2(np.arange(2, k + 2))
    idcg = np.sum((2 ** np.sort(y)[::-1][:k] - 1) / d)
    gains = 2 ** y[order] - 1
    base = np.sum(gains / d) / idcg
    for i in range(k):
        for j in range(k):
            swapped = gains.copy()
            swapped[i], swapped[j] = swapped[j], swapped[i]
            assert out[i, j] == pytest.approx(abs(base - np.sum(swapped / d) / idcg), abs=1e-6)


def test_scores_and_masks():
    pair_labels = run(scores.get_pairwise_label_scores(Y))
    np.testing.assert_allclose(pair_labels, 0.5 * (1 + np.clip(Y - Y.T, -1, 1)))
    np.testing.assert_allclose(run(scores.get_pairwise_scores(S)), S - S.T, rtol=1e-6)
    mask, count = run(masks.diag_mask(5, pair_labels))
    np.testing.assert_array_equal(mask, 1 - np.eye(5))
    assert count == 20
    mask, count = run(masks.full_mask(5, tf.constant(pair_labels)))
    np.testing.assert_array_equal(mask, (pair_labels != 0.5).astype(np.float32))
    assert count == mask.sum() == 18  # the two candidates labelled 1 tie


@pytest.mark.parametrize("mask", ["full_mask", "diag_mask"])
def test_pair_and_lambda_losses(mask):
    labels, logits = 0.5 * (1 + np.clip(Y - Y.T, -1, 1)), S - S.T
    m = (labels != 0.5) if mask == "full_mask" else (1 - np.eye(5))
    params = SimpleNamespace(mask=mask)
    expected = np.sum(m * sce(labels, logits)) / np.sum(m)
    assert run(loss_fns.get_pair_loss(labels, logits, params)) == pytest.approx(expected, rel=1e-5)
    swapped = np.arange(25, dtype=np.float32).reshape(5, 5) / 25
    expected = np.sum(m * swapped * sce(labels, logits)) / np.sum(m)
    assert run(loss_fns.get_lambda_pair_loss(labels, logits, params, swapped)) == pytest.approx(expected, rel=1e-5)


def test_pointwise_and_listnet_losses():
    z = (Y > 1).astype(np.float32)
    w = np.array([[1.0], [2.0], [0.5], [1.0], [3.0]], np.float32)
    assert run(loss_fns.get_pointwise_loss(z, S)) == pytest.approx(np.mean(sce(z, S)), rel=1e-5)
    assert run(loss_fns.get_pointwise_loss(z, S, w)) == pytest.approx(np.mean(sce(z, S) * w) / np.mean(w), rel=1e-5)
    py, ps = np.exp(Y) / np.exp(Y).sum(), np.exp(S) / np.exp(S).sum()
    assert run(loss_fns.get_listnet_loss(Y, S)) == pytest.approx(np.mean(-py * slog(ps)), rel=1e-5)
    assert run(loss_fns.get_listnet_loss(Y, S, w)) == pytest.approx(np.mean(-py * slog(ps) * w) / np.mean(w), rel=1e-5)


def test_listmle_loss_is_the_plackett_luce_likelihood():
    y, s = Y.ravel(), S.ravel().astype(np.float64)
    order = np.argsort(-y, kind="stable")  # ties: lower index first
    ordered = s[order]
    expected = sum(np.log(np.sum(np.exp(ordered[t:]))) - ordered[t] for t in range(len(y) - 1)) / len(y)
    assert run(loss_fns.get_listmle_loss(Y, S)) == pytest.approx(expected, rel=1e-5)
    assert run(loss_fns.get_listmle_loss([[1.0]], [[0.7]])) == 0.0


def test_attrank_loss():
    y, s = Y.ravel(), S.ravel()
    target = np.where(y > 0, np.exp(y), 0) / np.sum(np.where(y > 0, np.exp(y), 0))
    p = np.exp(s) / np.exp(s).sum()
    expected = np.mean(-(target * slog(p) + (1 - target) * slog(1 - p)))
    assert run(loss_fns.get_attrank_loss(Y, S)) == pytest.approx(expected, rel=1e-5)
    zero = run(loss_fns.get_attrank_loss(np.zeros([3, 1], np.float32), S[:3]))
    p3 = np.exp(S[:3].ravel()) / np.exp(S[:3].ravel()).sum()
    assert zero == pytest.approx(np.mean(-slog(1 - p3)), rel=1e-5)


def test_normalizers():
    x = np.array([[1.0, -2.0, 0.0], [3.0, 4.0, 0.0], [-1.0, 1.0, 0.0]], np.float32)
    mean = x.mean(0)
    peak = np.abs(x.max(0))
    expected = np.where(peak > 0, (x - mean) / np.where(peak > 0, peak, 1), 0)
    np.testing.assert_allclose(run(normalizer.mean_max_normalizaiton(x)), expected, rtol=1e-6)
    np.testing.assert_allclose(run(normalizer.standard_normalizaiton(x)), (x - mean) / (x.var(0) + 1e-7), rtol=1e-5)


def test_cosine_similarity():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]], np.float32)
    b = np.array([[0.0, 2.0], [2.0, 2.0], [1.0, 0.0]], np.float32)
    np.testing.assert_allclose(run(similarities.cosine_similarity(a, b, axis=1)), [0.0, 1.0, 0.0], atol=1e-6)


def test_linear_interpolation():
    xs, ys = np.array([0.0, 1.0, 3.0], np.float32), np.array([0.0, 2.0, 3.0], np.float32)
    inputs = np.array([[-1.0, 0.5], [2.0, 9.0]], np.float32)
    np.testing.assert_allclose(
        run(interp.linear_interp1(inputs, xs.reshape(1, -1), ys.reshape(1, -1))), np.interp(inputs, xs, ys), rtol=1e-6
    )
    ref_x = np.array([[0.0, 1.0, 2.0], [0.0, 10.0, 20.0]], np.float32)
    ref_y = np.array([[0.0, 1.0, 4.0], [5.0, 6.0, 7.0]], np.float32)
    values, classes = np.array([1.5, 15.0, -3.0, 2.5], np.float32), np.array([0, 1, 1, 0])
    expected = [np.interp(v, ref_x[c], ref_y[c]) for v, c in zip(values, classes)]
    np.testing.assert_allclose(run(interp.linear_interp1_by_class(values, classes, ref_x, ref_y)), expected, rtol=1e-6)
    with pytest.raises(ValueError):
        interp.linear_interp1(np.zeros([2, 2, 2], np.float32), np.zeros([2, 2, 2], np.float32), xs)


TRAIN = ["f/a", "f/b", "f/c", "f/d", "f/b"]


EVAL = ["f/c", "f/d", "f/e", "f/f"]


@pytest.mark.parametrize("fraction,to_eval", [(0.0, 0), (0.5, 1), (1.0, 2)])
def test_resolve_train_and_eval_files_overlap(fraction, to_eval):
    train, evaluation = datasets.resolve_train_and_eval_files_overlap(TRAIN, EVAL, fraction, seed=4)
    overlap = {"f/c", "f/d"}
    assert train == sorted(train) and evaluation == sorted(evaluation)
    assert not set(train) & set(evaluation)  # each file in exactly one list
    assert set(train) | set(evaluation) == set(TRAIN) | set(EVAL)
    assert len(set(evaluation) & overlap) == to_eval  # int(len(overlap) * fraction) go to eval
    assert {"f/e", "f/f"} <= set(evaluation) and {"f/a", "f/b"} <= set(train)
    assert datasets.resolve_train_and_eval_files_overlap(TRAIN, EVAL, fraction, seed=4) == (train, evaluation)


def test_time_based_files_for_train_and_eval(tmp_path):
    start = datetime.datetime(2021, 1, 31, 22)
    hours = [start + datetime.timedelta(hours=h) for h in range(6)]  # 22:00 Jan 31 .. 03:00 Feb 1
    files = []
    for when in hours:
        directory = tmp_path / when.strftime("%Y/%m/%d/%H")
        directory.mkdir(parents=True)
        (directory / "part-0.lzo").write_bytes(b"")
        (directory / "skip.txt").write_bytes(b"")
        files.append(str(directory / "part-0.lzo"))
    assert datasets.get_time_based_dataset_files is twml.util.list_files_by_datetime
    train, evaluation = datasets.get_time_based_dataset_files_for_train_and_eval(
        str(tmp_path), hours[0], hours[3], hours[2], hours[5], fraction_kept_for_eval=1.0
    )
    assert train == sorted(files[0:2]) and evaluation == sorted(files[2:6])
    train, evaluation = datasets.get_time_based_dataset_files_for_train_and_eval(
        str(tmp_path), hours[0], hours[3], hours[2], hours[5], fraction_kept_for_eval=0.0
    )
    assert train == sorted(files[0:4]) and evaluation == sorted(files[4:6])


def test_device_helpers_agree_with_tensorflow():
    devices = device.get_device_map()
    assert devices["/device:CPU:0"] == "CPU"
    gpus = tf.config.list_physical_devices("GPU")
    assert device.get_gpu_count() == len(gpus) == len(device.get_gpu_list())
    assert device.is_gpu_available() == bool(gpus)
    assert all(devices[name] == "GPU" for name in device.get_gpu_list())
