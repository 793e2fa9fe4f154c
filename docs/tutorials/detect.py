"""Defence: white-box detection. Every distinguisher is a registered class (a traced statistic,
a host p-value and its calibration); the functions are thin wrappers."""

import jax.random as jr

from jaxbd import detect


honest = jr.normal(jr.key(0), (256, 32))  # the honest null: i.i.d. N(0, 1) first layer
print("registered distinguishers:", detect.names())
for name in detect.names():
    d = detect.get(name)()
    try:
        res = d(honest, key=jr.key(1))
    except ValueError as e:  # a test that needs another shape says so
        print(f"{name}: {e}")
        continue
    print(f"{name}: p = {res.p_value:.3f} ({res.calibration})")
