"""`jaxbd activate`: apply a backdoor key to every example of a file."""

import jax
import jax.numpy as jnp
import numpy as np

from ._args import NONNEG, command, label
from ._constructions import key_and_construction, options
from ._data import check_features
from ._errors import EXIT_OK, blame, progress
from ._files import check_out_path, read_inputs, write_outputs


def add_activation_flags(p) -> None:
    """`--target` and `--strength` (activate, evaluate): default, the key's recorded value."""
    p.add_argument(
        "--target",
        type=label,
        help="attacker's label for targeted backdoors (checksum, signature, lattice-signature): "
        "+1/-1 or 0..c-1 (default: the one recorded in the key)",
    )
    p.add_argument(
        "--strength",
        type=NONNEG,
        help="activation strength, >= 0 (relu; default: the one recorded in the key)",
    )


_HELP = "activate a backdoor on your inputs"

_DESCRIPTION = (
    "Apply the backdoor key to every example of FILE (a .npz with array x, "
    "shape (n, d) or (d,), or a .npy; floating, finite) and write the activated examples "
    "to OUT (.npz with array x, or .npy; written atomically). Inputs live in the model's "
    "input space (e.g. the test_inputs.npz written by plant)."
)

_EXAMPLES = (
    "jaxbd activate --key runs/rff/backdoor.key --input runs/rff/test_inputs.npz "
    "--out runs/rff/activated.npz",
    "jaxbd activate --key runs/sig/backdoor.key --input x.npy --target -1 --out xa.npy",
)


def add_parser(sub) -> None:
    a = command(sub, "activate", _HELP, _DESCRIPTION, _EXAMPLES)
    for name, meta, text in (
        ("--key", "K", "backdoor key file (.key)"),
        ("--input", "FILE", ".npz (array x) or .npy"),
        ("--out", "FILE", ".npz or .npy to write"),
    ):
        a.add_argument(name, required=True, metavar=meta, help=text)
    add_activation_flags(a)


def run(args) -> int:
    check_out_path(args.out, "--out", (".npz", ".npy"))
    key, header, c = key_and_construction(args.key)
    opts = options(args, c, header)
    x = read_inputs(args.input)
    check_features(x.shape[1], opts["input_dim"], "the key", f"--input {args.input!r}")
    xs = jnp.asarray(x)
    act = c.activation(key, opts)
    with blame(f"--input {args.input!r}", args):
        act(xs[0])  # one example eagerly first: a bad input fails here, clearly
        progress(f"activating {xs.shape[0]} example(s) with a {c.name} key ...")
        out = np.asarray(jax.vmap(act)(xs))
    print(f"activated: {write_outputs(args.out, out)}")
    return EXIT_OK
