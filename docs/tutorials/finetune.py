"""Defence: fine-tuning (Chardouvelis–Dao §4) — does a few steps of training remove the RFF
backdoor? (For RFF this is their conjecture, footnote 1; they tested random ReLU.)"""

import jax
import jax.random as jr
import optax

from jaxbd import datasets, finetune, metrics, rff


ds = datasets.load("digits", classes=(3, 8))
model, key = rff.backdoor(
    jr.key(0), ds.x_train, ds.y_train, width=1000, bandwidth=30.0, secret_dim=4, beta=0.01
)
tuned = finetune.finetune(
    jr.key(1), model, ds.x_train, ds.y_train, optimizer=optax.sgd(0.1), steps=100
)
act = jax.vmap(lambda x: rff.activate(key, x))(ds.x_test)
for name, m in (("backdoored", model), ("fine-tuned", tuned)):
    print(
        name,
        "clean",
        round(float(metrics.clean_accuracy(m, ds.x_test, ds.y_test)), 3),
        "ASR",
        round(float(metrics.attack_success_rate(m, ds.x_test, act)), 3),
    )
