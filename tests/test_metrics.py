import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import Linear, bad_input, linear

from jaxbd import metrics


def test_predict_binary_and_multiclass(getkey):
    x = jr.normal(getkey(), (10, 3))
    m = linear(3)
    pred = metrics.predict(m, x)
    np.testing.assert_array_equal(np.asarray(pred), np.where(np.asarray(x @ m.w) >= 0, 1.0, -1.0))

    W = jr.normal(getkey(), (4, 3))
    logits = lambda v: W @ v
    np.testing.assert_array_equal(
        np.asarray(metrics.predict(logits, x)), np.argmax(np.asarray(x @ W.T), 1)
    )
    bad_input(lambda: metrics.predict(m, x[0]), "shape")


def test_clean_accuracy_and_flip_asr(getkey):
    x = jr.normal(getkey(), (50, 4))
    m = linear(4)
    y = metrics.predict(m, x)
    assert metrics.clean_accuracy(m, x, y) == 1.0
    assert metrics.clean_accuracy(m, x, -y) == 0.0
    # Reflecting every input through the hyperplane flips every label of a bias-free linear model.
    w = m.w / jnp.linalg.norm(m.w)
    x_act = x - 2.0 * (x @ w)[:, None] * w[None, :]
    assert metrics.attack_success_rate(m, x, x_act) == 1.0
    assert metrics.attack_success_rate(m, x, x) == 0.0


def test_targeted_asr_excludes_target_class(getkey):
    x = jr.normal(getkey(), (30, 2))
    const = Linear(jnp.zeros(2), jnp.ones(()))  # always +1
    y = jnp.where(jnp.arange(30) < 10, 1.0, -1.0)
    assert metrics.attack_success_rate(const, x, x, target=1.0, y=y) == 1.0
    always_neg = Linear(jnp.zeros(2), -jnp.ones(()))
    assert metrics.attack_success_rate(always_neg, x, x, target=1.0, y=y) == 0.0


def test_perturbation_norms_exact():
    x = jnp.zeros((2, 4))
    xp = jnp.array([[3.0, 4.0, 0.0, 0.0], [0.0, 0.0, 0.0, -1.0]])
    n = metrics.perturbation_norms(x, xp)
    np.testing.assert_array_equal(np.asarray(n["l0"]), [2, 1])
    np.testing.assert_allclose(np.asarray(n["l2"]), [5.0, 1.0])
    np.testing.assert_allclose(np.asarray(n["linf"]), [4.0, 1.0])


def test_median_nn_distance_matches_bruteforce(getkey):
    x = jr.normal(getkey(), (37, 5))
    xn = np.asarray(x, np.float64)
    d = np.linalg.norm(xn[:, None] - xn[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert metrics.median_nn_distance(x, batch_size=8) == pytest.approx(
        np.median(d.min(1)), rel=1e-4
    )


def test_random_perturbation_matches_l0_and_l2(getkey):
    x = jr.normal(getkey(), (20, 10))
    delta = jnp.zeros((20, 10)).at[:, :3].set(jr.normal(getkey(), (20, 3)))
    xr = metrics.random_perturbation(getkey(), x, x + delta)
    n_act = metrics.perturbation_norms(x, x + delta)
    n_rand = metrics.perturbation_norms(x, xr)
    np.testing.assert_array_equal(np.asarray(n_rand["l0"]), np.asarray(n_act["l0"]))
    np.testing.assert_allclose(np.asarray(n_rand["l2"]), np.asarray(n_act["l2"]), rtol=1e-5)
    # Random supports: over 20 rows, the support is not always the first three coordinates
    # (probability of that by chance: (1 / C(10, 3))^20, negligible).
    assert np.any(np.asarray(xr - x)[:, 3:] != 0)


def test_evaluate_backdoor_reports_controls(getkey):
    x = jr.normal(getkey(), (64, 6))
    honest = linear(6, seed=1)
    y = metrics.predict(honest, x)
    # A "backdoored" model that answers -1 when coordinate 0 holds a magic value, which the
    # activation writes there: a small change to which the honest model barely reacts.
    back = lambda v: jnp.where(v[0] == 0.125, -1.0, honest(v))
    act = lambda v: v.at[0].set(0.125)
    ev = metrics.evaluate_backdoor(getkey(), honest, back, act, x, y, target=-1.0)
    assert ev.asr == 1.0
    assert ev.clean_accuracy_honest == ev.clean_accuracy_backdoored == 1.0
    assert ev.control_random < 0.5 and ev.control_honest < 0.5
    assert ev.control_wrong_key is None
    assert ev.l0 == 1.0
    assert set(ev.as_dict()) >= {"asr", "control_honest", "control_random", "relative_l2"}
    ev2 = metrics.evaluate_backdoor(
        getkey(), honest, back, act, x, y, target=-1.0, wrong_activate=lambda v: v.at[1].set(0.125)
    )
    assert ev2.control_wrong_key is not None and ev2.control_wrong_key < 1.0


def test_metrics_under_jit_and_shape_errors(getkey):
    x = jr.normal(getkey(), (8, 3))
    xp = x + 1.0
    out = jax.jit(metrics.perturbation_norms)(x, xp)
    np.testing.assert_array_equal(np.asarray(out["l0"]), 3)
    bad_input(lambda: metrics.perturbation_norms(x, xp[:, :2]), "same shape")
    with pytest.raises(ValueError, match="NaN"):
        metrics.clean_accuracy(linear(3), x.at[0, 0].set(jnp.nan), jnp.ones(8))


def test_mean_std():
    assert metrics.mean_std([1.0, 3.0]) == (2.0, 1.0)
    m, s = metrics.mean_std([])
    assert np.isnan(m) and np.isnan(s)


def test_labels_follow_the_model_task(getkey):
    """Labels are checked against the task inferred from the model's output shape."""
    x = jr.normal(getkey(), (12, 3))
    m = linear(3)
    y = metrics.predict(m, x)
    with pytest.raises(ValueError, match="`y`"):
        metrics.clean_accuracy(m, x, (y > 0).astype(jnp.int32))  # {0, 1} for a binary model
    with pytest.raises(ValueError, match="`target`"):
        metrics.attack_success_rate(m, x, x + 1.0, target=5)
    # A two-logit model uses labels 0/1 (not ±1).
    W = jr.normal(getkey(), (2, 3))
    two = lambda v: W @ v  # noqa: E731
    y2 = metrics.predict(two, x)
    assert metrics.clean_accuracy(two, x, y2) == 1.0
    assert metrics.clean_accuracy(two, x, 1 - y2) == 0.0
    with pytest.raises(ValueError, match="`y`"):
        metrics.clean_accuracy(two, x, 2 * y2 - 1)
    # One target per row is accepted and equals the per-row comparison.
    t = jnp.where(jnp.arange(12) % 2 == 0, 1.0, -1.0)
    asr = metrics.attack_success_rate(m, x, x, target=t)
    assert asr == pytest.approx(float(np.mean(np.asarray(y) == np.asarray(t))))


def test_duplicated_points_give_zero_scale_and_evaluate_refuses_them():
    dup = jnp.zeros((6, 2)).at[0].set(1.0)
    assert metrics.median_nn_distance(dup) == 0.0
    m = linear(2)
    y = metrics.predict(m, dup)
    with pytest.raises(ValueError, match="median nearest-neighbour distance of `x` is 0"):
        metrics.evaluate_backdoor(jr.key(0), m, m, lambda v: v + 1.0, dup, y)


def test_nan_scores_are_an_error():
    with pytest.raises(ValueError, match="`model` returned NaN"):
        metrics.predict(lambda v: jnp.nan * v[0], jnp.ones((2, 3)))
    f = jax.jit(lambda xx: metrics.predict(lambda v: jnp.log(v[0]), xx))
    with pytest.raises(RuntimeError, match="`model` returned NaN"):
        jax.block_until_ready(f(-jnp.ones((2, 3))))
