"""`jaxbd certify`: randomized-smoothing certificates (CERTIFY, Cohen et al. 2019; GKVZ §7)."""

import os

import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .. import metrics
from ._args import (
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY,
    add_data_args,
    add_json_out,
    add_max_examples,
    add_seed,
    command,
)
from ._data import check_features, first, hyper, model_data
from ._errors import UsageError, blame, progress
from ._files import (
    check_out_path,
    finish,
    load_model,
    npz_bytes,
    print_table,
    read_inputs,
    read_labels,
    write_file,
)


ROWS = """
num_examples: inputs
abstain_rate: abstain rate
mean_radius: mean certified l2 radius (non-abstained)
agreement_with_model: smoothed label == model label
certified_accuracy: certified accuracy
model_accuracy: model accuracy
"""  # result key: table label


_HELP = "randomized-smoothing certificates (CERTIFY) for a saved model"

_DESCRIPTION = (
    "Gaussian smoothing of a saved model (jaxbd.smoothing.certify_batch, Cohen "
    "et al. 2019; GKVZ §7): per input the smoothed label (or abstain) and a certified l2 "
    "radius. Inputs: --input FILE (e.g. activated inputs) or the held-out split of the "
    "data."
)

_EXAMPLES = (
    "jaxbd certify --model runs/rff/backdoored.jaxbd --sigma 0.5 --max-examples 50",
    "jaxbd certify --model runs/rff/backdoored.jaxbd --input runs/rff/activated.npz "
    "--sigma 0.5 --out certs.npz",
)


def add_parser(sub) -> None:
    c = command(sub, "certify", _HELP, _DESCRIPTION, _EXAMPLES)
    c.add_argument("--model", required=True, metavar="M", help="the model to smooth")
    c.add_argument("--input", metavar="FILE", help=".npz (x, optional y) or .npy inputs")
    c.add_argument("--sigma", type=POSITIVE, required=True, help="noise std of the smoothing, > 0")
    c.add_argument("--n0", type=POSITIVE_INT, default=100, help="draws choosing the class")
    c.add_argument("--num-samples", type=POSITIVE_INT, default=1000, help="draws for the bound")
    c.add_argument(
        "--alpha", type=PROBABILITY, default=0.001, help="failure probability, in (0, 1)"
    )
    add_max_examples(c, "certify the first N >= 1 inputs")
    add_seed(c, "the noise draws")
    c.add_argument("--out", metavar="FILE", help="write labels and radii (.npz)")
    add_json_out(c)
    add_data_args(c, required=False)


def _inputs(args, mh):
    """`(x, y or None, flag)` from `--input`, else the held-out split of the model's data."""
    if args.input and args.data:
        raise UsageError("--input: give either --input FILE or --data, not both.")
    if not args.input:
        ds, data_flag = model_data(args, mh)
        return ds.x_test, ds.y_test, data_flag
    data_flag = f"--input {args.input!r}"
    x = read_inputs(args.input).astype(np.float32)
    h = hyper(mh)
    check_features(x.shape[1], h.get("input_dim"), "the model", data_flag)
    y = read_labels(args.input, x.shape[0])
    if y is not None and h.get("binary") is not None:
        allowed = [-1, 1] if h["binary"] else list(range(h.get("num_classes") or 0))
        if allowed and not np.isin(y, allowed).all():
            raise UsageError(
                f"{data_flag}: array 'y' holds labels outside the model's "
                f"{'+1/-1' if h['binary'] else f'0..{len(allowed) - 1}'}."
            )
    return jnp.asarray(x), None if y is None else jnp.asarray(y), data_flag


def certify(args) -> dict:
    """What `jaxbd certify` computes: CERTIFY (Cohen et al.) of the smoothed model per input."""
    from .. import smoothing

    if args.out:
        check_out_path(args.out, "--out", (".npz",))
    if args.json_out:
        check_out_path(args.json_out, "--json-out")
    model, mh = load_model(args.model, "--model")
    x, y, data_flag = _inputs(args, mh)
    x = first(args.max_examples, x)
    y = None if y is None else first(args.max_examples, y)
    with blame(data_flag, args):
        metrics.predict(model, x[:1])  # the model runs on these inputs (clear error if not)
    progress(f"certifying {x.shape[0]} input(s), sigma={args.sigma}, n={args.num_samples} ...")
    with blame(data_flag, args):
        labels, radii = smoothing.certify_batch(
            jr.key(args.seed),
            model,
            x,
            sigma=args.sigma,
            n0=args.n0,
            num_samples=args.num_samples,
            alpha=args.alpha,
        )
        labels, radii = np.asarray(labels), np.asarray(radii)
        plain = np.asarray(metrics.predict(model, x))
    abstain = labels == smoothing.ABSTAIN
    out = {
        "model": os.path.abspath(args.model),
        "sigma": args.sigma,
        "n0": args.n0,
        "num_samples": args.num_samples,
        "alpha": args.alpha,
        "seed": args.seed,
        "num_examples": int(x.shape[0]),
        "abstain_rate": float(abstain.mean()),
        "mean_radius": float(radii[~abstain].mean()) if (~abstain).any() else 0.0,
        "agreement_with_model": float(np.mean(labels == plain.astype(labels.dtype))),
    }
    if y is not None:
        yy = np.asarray(y)
        out["certified_accuracy"] = float(np.mean((labels == yy.astype(labels.dtype)) & ~abstain))
        out["model_accuracy"] = float(np.mean(plain == yy.astype(plain.dtype)))
    if args.out:
        out["out"] = write_file(args.out, npz_bytes(label=labels, radius=radii), "--out")
    return out


def run(args) -> int:
    res = certify(args)
    print_table(ROWS, res)
    if "out" in res:
        print(f"certificates: {res['out']}")
    return finish(args, res)
