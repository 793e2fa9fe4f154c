"""Fine-tuning throughput: `jaxbd.finetune` vs an equivalent PyTorch CPU training loop.

Same MLP (sizes below), same optimiser (Adam, lr 1e-3), same minibatch size and loss (softmax
cross-entropy), same number of steps; minibatches are drawn uniformly without replacement in
both. Reports steps/s of each and the ratio jaxbd / PyTorch (> 1 means jaxbd is faster).
Compilation is excluded (a warm-up call with the same shapes first); the minimum over repeats is
reported. PyTorch is optional: `pip install torch==2.13.0` (CPU build); without it the script
records only the jaxbd figures and says so.

    python benchmarks/bench_finetune.py [--quick] [--out benchmarks/results/finetune.json]
"""

import argparse
import json
import os
import platform
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from jaxbd.finetune import finetune


def _time(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_jax(x, y, sizes, steps, batch, repeats):
    model = eqx.nn.MLP(sizes[0], sizes[-1], sizes[1], len(sizes) - 2, key=jr.key(0))
    opt = optax.adam(1e-3)
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def run():
        out = finetune(jr.key(1), model, xj, yj, optimizer=opt, steps=steps, batch_size=batch)
        jax.block_until_ready(out)

    run()  # compile
    return _time(run, repeats)


def bench_torch(x, y, sizes, steps, batch, repeats):
    import torch

    torch.manual_seed(0)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    n = xt.shape[0]
    loss_fn = torch.nn.CrossEntropyLoss()

    def run():
        for _ in range(steps):
            idx = torch.randperm(n)[:batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    run()  # warm-up
    return _time(run, repeats), torch.__version__, torch.get_num_threads()


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true")
    p.add_argument(
        "--out", default=os.path.join(os.path.dirname(__file__), "results", "finetune.json")
    )
    args = p.parse_args()
    n, d, c = (2_000, 64, 10) if args.quick else (20_000, 784, 10)
    sizes = (d, 128, 128, c) if args.quick else (d, 512, 512, c)
    steps, batch, repeats = (50, 64, 3) if args.quick else (300, 128, 3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, c, n).astype(np.int32)

    t_jax = bench_jax(x, y, sizes, steps, batch, repeats)
    result = {
        "benchmark": "finetune",
        "quick": args.quick,
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "shape": {"n": n, "mlp": sizes, "steps": steps, "batch_size": batch},
        "jaxbd_seconds": t_jax,
        "jaxbd_steps_per_s": steps / t_jax,
    }
    try:
        t_torch, tv, threads = bench_torch(x, y, sizes, steps, batch, repeats)
    except ImportError:
        result["torch"] = "not installed (pip install torch==2.13.0)"
    else:
        result.update(
            torch_version=tv,
            torch_threads=threads,
            torch_seconds=t_torch,
            torch_steps_per_s=steps / t_torch,
            ratio_jaxbd_over_torch_throughput=t_torch / t_jax,
        )
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
