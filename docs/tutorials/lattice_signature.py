"""The non-replicable backdoor as a pure network (GKVZ App. C): lattice signatures verified by
perceptron and sine layers — jit, vmap, grad, no host callback. The toy parameters are
INSECURE (see `jaxbd.lattice_signature.security_estimate`)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from jaxbd import datasets, lattice_signature as ls
from jaxbd.linear import train_linear


ds = datasets.load("digits", classes=(3, 8), normalize="unit_interval")
base = train_linear(jr.key(0), ds.x_train, ds.y_train)
model, key = ls.backdoor(jr.key(1), base, input_dim=ds.x_train.shape[1], params="toy")
x = ds.x_test[0]
target = -float(jnp.sign(base(x)))  # the opposite of the base model's label
x_act = ls.activate(key, x, target)
print("base", float(jnp.sign(base(x))), "-> activated", float(jnp.sign(model(x_act))))
print("ℓ∞ of the perturbation:", float(jnp.max(jnp.abs(x_act - x))))
# The verifier is a pure JAX network: jit, vmap and grad go through it (no host round trip).
print(
    "jit:",
    float(eqx.filter_jit(model)(x_act)),
    "grad norm:",
    float(jnp.linalg.norm(jax.grad(model)(x))),
)
acc = jnp.mean(jnp.sign(jax.vmap(model)(ds.x_test)) == jnp.sign(jax.vmap(base)(ds.x_test)))
print(f"without a signature it equals the base model on {float(acc):.3f} of the test set")
