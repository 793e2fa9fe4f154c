"""Defence: Gaussian smoothing and certification (GKVZ §7; Cohen et al.'s PREDICT/CERTIFY)."""

import jax.numpy as jnp
import jax.random as jr

from jaxbd import datasets, smoothing
from jaxbd.linear import train_linear


ds = datasets.load("digits")  # 10 classes: logits
model = train_linear(jr.key(0), ds.x_train, ds.y_train)
labels, radii = smoothing.certify_batch(
    jr.key(1), model, ds.x_test[:50], sigma=0.5, n0=100, num_samples=2000, alpha=0.001
)
ok = (labels == ds.y_test[:50]) & (labels != smoothing.ABSTAIN)
print(f"certified accuracy {float(ok.mean()):.2f}, median radius {float(jnp.median(radii)):.3f}")
