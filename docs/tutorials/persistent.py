"""Persistent networks (GKVZ §5.3, Thm 5.7): same sign as the model, zero gradients, and no
single weight change within the bound alters any output."""

import jax
import jax.numpy as jnp
import jax.random as jr

from jaxbd import datasets, persistent
from jaxbd.linear import train_linear


ds = datasets.load("breast_cancer")
base = train_linear(jr.key(0), ds.x_train, ds.y_train)
p = persistent.make_persistent(base, input_dim=ds.x_train.shape[1])
agree = jnp.mean(jnp.sign(jax.vmap(p)(ds.x_test)) == jnp.sign(jax.vmap(base)(ds.x_test)))
print(f"same sign as the base model on {float(agree):.3f} of the test set")
