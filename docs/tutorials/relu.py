"""Random ReLU features with a sparse-PCA backdoor (GKVZ App. A, Alg. 8/9), through the
construction interface: plant, activate, evaluate with its controls."""

import jax.random as jr

from jaxbd import constructions, datasets


c = constructions.get("relu")()  # head trained by default; head="uniform" is Alg. 7 literally
ds = datasets.load("breast_cancer", normalize=c.normalize)
planted = c.plant(jr.key(0), ds.x_train, ds.y_train)
ev = c.evaluate(jr.key(1), planted, ds.x_test, ds.y_test)
print(c.hyperparameters())
print(
    f"clean accuracy: honest {ev.clean_accuracy_honest:.3f}, backdoored {ev.clean_accuracy_backdoored:.3f}"
)
print(
    f"ASR {ev.asr:.3f}; controls: honest {ev.control_honest:.3f}, "
    f"random {ev.control_random:.3f}, wrong key {ev.control_wrong_key:.3f}"
)
