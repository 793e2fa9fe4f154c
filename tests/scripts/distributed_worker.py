"""One process of the 2-process `jax.distributed` test (tests/test_distributed.py).

`python distributed_worker.py OUT PROCESS_ID NUM_PROCESSES PORT [PART]`: with NUM_PROCESSES = 1 it runs
alone (the reference, on 4 forced CPU devices); otherwise it joins a gloo CPU cluster of
NUM_PROCESSES processes with 4 // NUM_PROCESSES devices each. Every process passes the same host
inputs to the sharded sweeps (sharded_map, smoothing batches, CERTIFY, the memorizing search,
the detection sweeps: planted layers scored by `AbstractDistinguisher.batch`, and the RFF fits
under `sharded_map` over keys) and writes what it got back to OUT (an .npz). PART `detect` runs
only the detection sweeps (tested apart: see tests/test_distributed.py).
"""

import os
import sys


out, pid, nproc, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
part = sys.argv[5] if len(sys.argv) > 5 else "core"
os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={4 // nproc}"

import jax  # noqa: E402


if nproc > 1:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}", num_processes=nproc, process_id=pid
    )

import jax.numpy as jnp  # noqa: E402
import jax.random as jr  # noqa: E402
import numpy as np  # noqa: E402

from jaxbd import datasets, detect, linear, memorizing, rff, sharding, smoothing  # noqa: E402
from jaxbd.detect import planted  # noqa: E402


assert jax.device_count() == 4 and jax.process_count() == nproc
res = {}
if part == "core":
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((10, 5)), jnp.float32)  # 10 rows on 4 devices: padding
    y = jnp.asarray(np.where(rng.standard_normal(10) > 0, 1.0, -1.0), jnp.float32)
    model = linear.LinearClassifier(
        jnp.asarray(rng.standard_normal(5), jnp.float32), jnp.zeros(())
    )
    res["map"] = sharding.sharded_map(lambda a, b: jnp.sin(a) * b, x, y)
    keys = jr.split(jr.key(3), 10)
    res["map_keys"] = sharding.sharded_map(lambda k, a: a + jr.normal(k, a.shape), keys, x)
    res["smooth"] = smoothing.smooth_batch(jr.key(1), model, x, sigma=0.5, num_samples=64)
    labels, radii = smoothing.certify_batch(
        jr.key(2), model, x, sigma=0.5, n0=16, num_samples=128, alpha=0.01
    )
    res["certify_labels"], res["certify_radii"] = labels, radii
    xm = jnp.asarray(rng.standard_normal((40, 5)), jnp.float32)
    ym = jnp.asarray(np.where(xm[:, 0] > 0, 1.0, -1.0), jnp.float32)
    scores = memorizing.candidate_search(jr.key(4), xm, ym, num_candidates=64)
    res["search_val"] = scores.val_accuracy
    res["search_slices"] = scores.num_slices
    # RFF fits: Train-RFF and Backdoor-RFF under sharded_map over keys (5 fits on 4 devices).
    digits = datasets.load("digits", classes=(3, 8), seed=0)
    xd, yd = digits.x_train, digits.y_train
    kw = dict(width=32, bandwidth=30.0, steps=5)
    fit_keys = jr.split(jr.key(8), 5)
    fits = {
        "rff_train": sharding.sharded_map(lambda k: rff.train(k, xd, yd, **kw), fit_keys),
        "rff_backdoor": sharding.sharded_map(
            lambda k: rff.backdoor(k, xd, yd, secret_dim=4, beta=0.02, **kw), fit_keys
        ),
    }
    for name, tree in fits.items():
        for i, leaf in enumerate(jax.tree_util.tree_leaves(tree)):
            res[f"{name}_{i}"] = leaf
else:
    # Detection sweeps: planted and honest layers (sharded samplers), scored by distinguishers.
    layer_keys = jr.split(jr.key(6), 6)
    spiked = planted.spiked_batch(layer_keys, 4.0, 3, num_units=24, dim=12)
    honest = planted.honest_batch(layer_keys, num_units=24, dim=12)
    layers = sharding.to_host(jnp.concatenate([spiked, honest]))
    for name in ("spectral", "gaussianity", "diagonal_thresholding"):
        res[f"detect_{name}_stat"], res[f"detect_{name}_p"] = detect.get(name)().batch(
            jr.key(7), layers
        )
np.savez(out, **{k: np.asarray(v) for k, v in res.items()})
print(f"process {pid}/{nproc}: ok", flush=True)
