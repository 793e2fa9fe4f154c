"""Random Fourier features with a planted CLWE backdoor (GKVZ §6, Thm 6.3)."""

import jax
import jax.random as jr

from jaxbd import datasets, metrics, rff


ds = datasets.load("digits", classes=(3, 8))  # sklearn's 8x8 digits (not MNIST), labels ±1
honest = rff.train(jr.key(0), ds.x_train, ds.y_train, width=2000, bandwidth=30.0)
model, key = rff.backdoor(
    jr.key(0), ds.x_train, ds.y_train, width=2000, bandwidth=30.0, secret_dim=4, beta=0.01
)
x_act = jax.vmap(lambda x: rff.activate(key, x))(ds.x_test)  # x + bandwidth * omega
ev = metrics.evaluate_backdoor(
    jr.key(1), honest, model, lambda x: rff.activate(key, x), ds.x_test, ds.y_test
)
# The backdoor result, always next to its controls:
print(
    f"clean accuracy: honest {ev.clean_accuracy_honest:.3f}, backdoored {ev.clean_accuracy_backdoored:.3f}"
)
print(
    f"ASR {ev.asr:.3f}; controls: honest {ev.control_honest:.3f}, random {ev.control_random:.3f}"
)
print(f"key size: l2 {ev.l2:.1f} = {ev.relative_l2:.1f} x the median nearest-neighbour distance")
assert ev.asr > 0.9 and ev.control_honest < 0.9
