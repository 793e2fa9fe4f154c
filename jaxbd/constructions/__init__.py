"""Constructions: one interface, one registry, one final class per construction.

```python
from jaxbd import constructions
c = constructions.get("rff")()              # defaults that give a meaningful model
planted = c.plant(key, x_train, y_train)    # Planted(honest, backdoored, backdoor_key)
x_act = c.activate(planted.backdoor_key, x) # one example
ev = c.evaluate(key, planted, x_test, y_test)  # clean accuracy, ASR and its controls
```

A new construction (the papers' or yours) is one file: a final subclass of
[`AbstractConstruction`][] with its hyperparameters as fields and `plant` / `activate`
(`wrong_key`, `default_target` optional), decorated with [`register`][]. See
`examples/trigger_patch.py` for a user-defined data-poisoning backdoor.
"""

from ._abstract import (
    KINDS as KINDS,
    AbstractConstruction as AbstractConstruction,
    Planted as Planted,
)
from ._checksum import Checksum as Checksum
from ._lattice_signature import LatticeSignature as LatticeSignature
from ._memorizing import Memorizing as Memorizing, TriggerKey as TriggerKey
from ._persistent import Persistent as Persistent
from ._registry import (
    get as get,
    load_plugins as load_plugins,
    names as names,
    register as register,
    registry as registry,
)
from ._relu import ReLU as ReLU
from ._rff import RFF as RFF
from ._signature import Signature as Signature


__all__ = [
    "AbstractConstruction", "Planted", "KINDS", "register", "get", "names", "registry",
    "load_plugins", "RFF", "ReLU", "Checksum", "Signature", "LatticeSignature", "Memorizing",
    "Persistent", "TriggerKey",
]  # fmt: skip
