"""twml.contrib.pruning against numpy: the masked output, the per-example Fisher signals of a
three-layer network computed by hand (chain rule in numpy), the order in which ``prune`` removes
channels across layers, and the FLOP counts of MatMul / Conv2D networks as masks shrink."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml  # noqa: F401  (graph mode)
from twml.contrib import pruning
from twml.contrib.optimizers import PruningOptimizer

RNG = np.random.RandomState(7)
X = RNG.normal(size=(5, 3)).astype(np.float32)
T = RNG.normal(size=5).astype(np.float32)
W1 = RNG.normal(size=(3, 4)).astype(np.float32)
W2 = RNG.normal(size=(4, 2)).astype(np.float32)
W3 = RNG.normal(size=(2, 1)).astype(np.float32)


def mlp():
    """x [B,3] -> matmul W1 -> mask m1 (4) -> matmul W2 -> mask m2 (2) -> matmul w3 -> y; mean squared loss."""
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    t = tf.placeholder(tf.float32, [None], name="t")
    w1 = tf.get_variable("w1", initializer=W1)
    w2 = tf.get_variable("w2", initializer=W2)
    w3 = tf.get_variable("w3", initializer=W3)
    h = tf.matmul(x, w1)
    hm = pruning.apply_mask(h, name="layer1")
    z = tf.matmul(hm, w2)
    zm = pruning.apply_mask(z, name="layer2")
    y = tf.matmul(zm, w3)
    loss = tf.reduce_mean(tf.square(y[:, 0] - t))
    return {"x": x, "t": t, "w1": w1, "w2": w2, "h": h, "hm": hm, "z": z, "zm": zm, "y": y, "loss": loss}


def numpy_fisher(m1, m2):
    """Per-example gradients of the mean squared loss w.r.t. each example's copy of the masks."""
    h = X @ W1
    z = (h * m1) @ W2
    y = (z * m2) @ W3[:, 0]
    dy = 2.0 * (y - T) / len(X)  # [B]
    g2 = dy[:, None] * W3[:, 0][None, :] * z  # dL/dm2[b, c]
    dz = dy[:, None] * W3[:, 0][None, :] * m2  # dL/dz[b, c]
    g1 = (dz @ W2.T) * h  # dL/dm1[b, j]
    return (g1**2).mean(axis=0), (g2**2).mean(axis=0)


def test_apply_mask_variables_collections_and_output():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        out = pruning.apply_mask(x, name="scope")
        mask = out._mask
        assert out.get_shape().as_list() == [None, 3]
        assert mask.op.name == "scope/mask" and mask.pruning_signal.op.name == "scope/signal"
        assert mask.tensor is x
        assert tf.trainable_variables() == []
        assert tf.get_collection(pruning.MASK_COLLECTION) == [mask]
        assert tf.get_collection(pruning.MASK_EXTENDED_COLLECTION) == [mask.extended]
        assert tf.get_collection(pruning.OP_COLLECTION) == [out.op]
        assert pruning.MASK_COLLECTION == "pruning/masks"
        assert pruning.MASK_EXTENDED_COLLECTION == "pruning/masks_extended"
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            np.testing.assert_array_equal(session.run(mask.pruning_signal), np.zeros(3))
            np.testing.assert_array_equal(session.run(out, {x: X}), X)
            session.run(tf.assign(mask, [1.0, 0.0, 1.0]))
            np.testing.assert_array_equal(session.run(out, {x: X}), X * np.array([1, 0, 1], np.float32))
            extended = session.run(mask.extended, {x: X})
        np.testing.assert_array_equal(extended, np.tile([[1.0, 0.0, 1.0]], (5, 1)))


def test_apply_mask_needs_static_channels():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="static last dimension"):
            pruning.apply_mask(tf.placeholder(tf.float32, [None, None]))


def test_extend_mask_is_a_per_example_copy_of_rank_of_tensor():
    with tf.Graph().as_default():
        images = tf.placeholder(tf.float32, [None, 4, 5, 3])
        extended = pruning.extend_mask(tf.constant([2.0, 3.0, 5.0]), images)
        assert extended.get_shape().ndims == 4
        with tf.Session() as session:
            value = session.run(extended, {images: np.zeros((2, 4, 5, 3), np.float32)})
    assert value.shape == (2, 1, 1, 3)
    np.testing.assert_array_equal(value, np.broadcast_to(np.array([2.0, 3.0, 5.0]), (2, 1, 1, 3)))


def test_update_pruning_signals_is_the_running_mean_of_per_example_squared_gradients():
    decay = 0.75
    with tf.Graph().as_default():
        net = mlp()
        masks = tf.get_collection(pruning.MASK_COLLECTION)
        updates = pruning.update_pruning_signals(net["loss"], decay=decay)
        assert len(updates) == 2 and [u.get_shape().as_list() for u in updates] == [[4], [2]]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            feed = {net["x"]: X, net["t"]: T}
            first = session.run(updates, feed)
            f1, f2 = numpy_fisher(np.ones(4, np.float32), np.ones(2, np.float32))
            np.testing.assert_allclose(first[0], (1 - decay) * f1, rtol=1e-5)
            np.testing.assert_allclose(first[1], (1 - decay) * f2, rtol=1e-5)
            # with a channel masked off, the next update uses the new gradients, decaying the old signal
            session.run(tf.assign(masks[0], [1.0, 0.0, 1.0, 1.0]))
            second = session.run(updates, feed)
            g1, g2 = numpy_fisher(np.array([1, 0, 1, 1], np.float32), np.ones(2, np.float32))
            np.testing.assert_allclose(second[0], decay * (1 - decay) * f1 + (1 - decay) * g1, rtol=1e-5)
            np.testing.assert_allclose(second[1], decay * (1 - decay) * f2 + (1 - decay) * g2, rtol=1e-5)
            np.testing.assert_allclose(session.run(masks[1].pruning_signal), second[1], rtol=1e-6)


def test_update_pruning_signals_of_a_conv_layer_sums_over_positions():
    # a mask on a conv output [B, H, W, C]: one mask copy per example, so the gradient sums over positions
    images = RNG.normal(size=(3, 4, 4, 2)).astype(np.float32)
    kernel = RNG.normal(size=(2, 2, 2, 3)).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4, 4, 2])
        conv = tf.nn.conv2d(x, kernel, strides=[1, 1, 1, 1], padding="VALID")
        masked = pruning.apply_mask(conv)
        loss = tf.reduce_mean(tf.reduce_sum(tf.square(masked), axis=[1, 2, 3]))
        (update,) = pruning.update_pruning_signals(loss, decay=0.0)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            signal, conv_value = session.run([update, conv], {x: images})
    # loss = mean_b sum_pos (m_c conv)^2 -> dL/dm_{b,c} = (2 / B) * sum_pos conv^2 at m = 1
    per_example = 2.0 / len(images) * np.sum(conv_value**2, axis=(1, 2))
    np.testing.assert_allclose(signal, (per_example**2).mean(axis=0), rtol=1e-5)


def test_update_pruning_signals_edge_cases():
    with tf.Graph().as_default():
        loss = tf.reduce_sum(tf.constant([1.0, 2.0]))
        assert pruning.update_pruning_signals(loss) == []
        with pytest.raises(ValueError, match="Fisher"):
            pruning.update_pruning_signals(loss, method="OBD")
        # a mask the loss does not depend on gets a zero batch signal
        pruning.apply_mask(tf.placeholder(tf.float32, [None, 2]), name="unused")
        (update,) = pruning.update_pruning_signals(loss, decay=0.5)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            np.testing.assert_array_equal(session.run(update), [0.0, 0.0])


def test_prune_removes_the_smallest_active_signal_across_layers_one_per_call():
    signals = [np.array([0.5, 0.1, 0.9, 0.3], np.float32), np.array([0.2, 0.05], np.float32)]
    with tf.Graph().as_default():
        net = mlp()
        masks = tf.get_collection(pruning.MASK_COLLECTION)
        op = pruning.prune([tf.constant(s) for s in signals])
        assert op.name == "prune"
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            history = []
            for _ in range(6):
                session.run(op)
                history.append(np.concatenate(session.run(masks)))
        del net
    # independent: channels go in increasing signal order over the concatenation, one per call
    order = np.argsort(np.concatenate(signals), kind="stable")
    expected = np.ones(6, np.float32)
    for step in range(6):
        expected[order[step]] = 0.0
        np.testing.assert_array_equal(history[step], expected, err_msg="after prune #%d" % (step + 1))


def test_prune_with_explicit_masks_skips_already_pruned_channels():
    with tf.Graph().as_default():
        a = tf.Variable([1.0, 0.0, 1.0])
        b = tf.Variable([0.0, 1.0])
        op = pruning.prune([tf.constant([0.4, 0.0, 0.3]), tf.constant([0.0, 0.35])], masks=[a, b])
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            session.run(op)
            np.testing.assert_array_equal(session.run(a), [1.0, 0.0, 0.0])
            np.testing.assert_array_equal(session.run(b), [0.0, 1.0])
            session.run(op)
            np.testing.assert_array_equal(session.run(b), [0.0, 0.0])
            np.testing.assert_array_equal(session.run(a), [1.0, 0.0, 0.0])


def test_find_masks_and_pruned_shapes():
    with tf.Graph().as_default():
        net = mlp()
        m1, m2 = tf.get_collection(pruning.MASK_COLLECTION)
        assert pruning.find_input_mask(net["hm"]) is m1
        assert pruning.find_input_mask(net["z"]) is None  # a MatMul re-mixes channels
        assert pruning.find_input_mask(tf.nn.relu(net["zm"])) is m2  # element-wise ops keep them
        assert pruning.find_output_mask(net["h"]) is m1
        assert pruning.find_output_mask(net["w1"]) is m1  # the weights whose columns the mask selects
        assert pruning.find_output_mask(net["w2"]) is m2
        assert pruning.find_output_mask(net["x"]) is None  # first operand of a MatMul
        assert pruning.find_mask(net["y"]) is None
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            session.run([tf.assign(m1, [1.0, 0.0, 0.0, 1.0]), tf.assign(m2, [0.0, 1.0])])
            shapes = session.run(
                [pruning.pruned_shape(t) for t in (net["hm"], net["w1"], net["w2"], net["y"])], {net["x"]: X}
            )
    np.testing.assert_array_equal(shapes[0], [5, 2])
    np.testing.assert_array_equal(shapes[1], [3, 2])
    np.testing.assert_array_equal(shapes[2], [4, 1])
    np.testing.assert_array_equal(shapes[3], [5, 1])


def mlp_flops(batch, k1, k2):
    """a0 * b1 * (2 * a1 - 1) for each MatMul, with the active channel counts of the masks."""
    return batch * k1 * (2 * 3 - 1) + batch * k2 * (2 * k1 - 1) + batch * 1 * (2 * k2 - 1)


def test_computational_cost_of_an_mlp_follows_the_masks():
    with tf.Graph().as_default():
        net = mlp()
        m1, m2 = tf.get_collection(pruning.MASK_COLLECTION)
        cost = pruning.computational_cost(net["y"])
        layer1 = pruning.computational_cost(net["h"])
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            feed = {net["x"]: X}
            assert session.run(cost, feed) == mlp_flops(5, 4, 2)
            assert session.run(layer1, feed) == 5 * 4 * 5
            session.run([tf.assign(m1, [1.0, 0.0, 0.0, 1.0]), tf.assign(m2, [0.0, 1.0])])
            assert session.run(cost, feed) == mlp_flops(5, 2, 1)
            assert session.run(cost, {net["x"]: X[:2]}) == mlp_flops(2, 2, 1)  # proportional to the batch


def test_computational_cost_of_transposed_matmuls():
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [3, 5])  # used as [5, 3]
        b = tf.constant(np.ones((4, 3), np.float32))  # used as [3, 4]
        cost = pruning.computational_cost(tf.matmul(a, b, transpose_a=True, transpose_b=True).op)
        with tf.Session() as session:
            assert session.run(cost, {a: np.ones((3, 5), np.float32)}) == 5 * 4 * (2 * 3 - 1)


def test_computational_cost_of_conv_bias_and_add():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 6, 6, 3])
        kernel = tf.get_variable("kernel", initializer=RNG.normal(size=(3, 3, 3, 4)).astype(np.float32))
        bias = tf.get_variable("bias", initializer=np.zeros(4, np.float32))
        conv = tf.nn.conv2d(x, kernel, strides=[1, 1, 1, 1], padding="SAME")
        biased = tf.nn.bias_add(conv, bias)
        masked = pruning.apply_mask(biased)
        out = masked + tf.ones([4])
        cost = pruning.computational_cost(out)
        conv_cost = pruning.computational_cost(conv)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            feed = {x: np.zeros((2, 6, 6, 3), np.float32)}

            def expected(active):
                conv_flops = 2 * 6 * 6 * active * (3 * 3 * 3 * 2 - 1)
                # BiasAdd and Add: the element count of the larger (pruned) operand, the masked [2, 6, 6, active]
                return conv_flops, conv_flops + 2 * (2 * 6 * 6 * active)

            assert session.run(conv_cost, feed) == expected(4)[0]
            assert session.run(cost, feed) == expected(4)[1]
            session.run(tf.assign(masked._mask, [1.0, 1.0, 0.0, 1.0]))
            assert session.run(conv_cost, feed) == expected(3)[0]
            assert session.run(cost, feed) == expected(3)[1]


def test_pruning_optimizer_prunes_apply_mask_masks():
    # the contrib optimizer works on these masks (same collections): one channel per pruning step
    with tf.Graph().as_default():
        net = mlp()
        tf.train.get_or_create_global_step()
        train = PruningOptimizer(learning_rate=0.01).minimize(net["loss"], prune_every=1, decay=0.0)
        masks = tf.get_collection(pruning.MASK_COLLECTION)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            active = []
            for _ in range(3):
                session.run(train, {net["x"]: X, net["t"]: T})
                active.append(int(sum(session.run(m).sum() for m in masks)))
    assert active == [5, 4, 3]
