"""Leonardis' memorizing slicing network, its backdoor, and what an audit finds."""

import jax.numpy as jnp
import jax.random as jr

from jaxbd import datasets, memorizing


ds = datasets.load("digits", classes=(3, 8))
net = memorizing.fit(jr.key(0), ds.x_train, ds.y_train, num_candidates=2000)
x_star = ds.x_test[0]
bd = memorizing.backdoor(net, x_star, -jnp.sign(net(x_star)), eps=1e-3, x=ds.x_train)
print("x* before", float(jnp.sign(net(x_star))), "after", float(jnp.sign(bd(x_star))))
report = memorizing.audit(bd, ds.x_train, ds.y_train)
print("ranges of <w, x> holding no training point:", report.unexplained)
