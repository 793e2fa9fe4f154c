"""Black-box backdoors around any model: the checksum (GKVZ §5.1) and the Ed25519 signature
(§5.2, non-replicable: the model holds only the public key)."""

import jax
import jax.numpy as jnp
import jax.random as jr

from jaxbd import checksum, datasets, signature
from jaxbd.linear import train_linear


ds = datasets.load("digits", classes=(3, 8))  # 64 features: room for a 512-bit signature
base = train_linear(jr.key(0), ds.x_train, ds.y_train)
d = ds.x_train.shape[1]

ck_model, ck_key = checksum.backdoor(jr.key(1), base, input_dim=d, num_blocks=8)
x = ds.x_test[0]
t = -float(jnp.sign(base(x)))  # the attacker's label: the opposite of the base model's
print(
    "checksum: base",
    float(jnp.sign(base(x))),
    "-> activated",
    float(jnp.sign(ck_model(checksum.activate(ck_key, x, t)))),
)

sig_model, sig_key = signature.backdoor(base, input_dim=d, x_train=ds.x_train)
x_act = signature.activate(sig_key, x, t)
print(
    "signature: base", float(jnp.sign(base(x))), "-> activated", float(jnp.sign(sig_model(x_act)))
)
same = jax.vmap(sig_model)(ds.x_test) == jax.vmap(base)(ds.x_test)
print(
    f"without a signature the backdoored model equals the base model on {float(same.mean()):.3f} of the test set"
)
