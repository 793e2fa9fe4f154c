"""`jaxbd plant`: train the honest and the backdoored model of a registered construction."""

import os
import secrets
import time

import jax.random as jr
import numpy as np

from .. import constructions, io, metrics
from ._args import SEED, add_data_args, command
from ._constructions import CONSTRUCTIONS, construction
from ._data import data_spec, load_data
from ._errors import EXIT_OK, UsageError, blame, progress, warn
from ._fields import add_param_flags, given_params
from ._files import (
    KEY_FILE,
    MODEL_FILES,
    TEST_FILE,
    WRONG_KEY_FILE,
    check_out_dir,
    npz_bytes,
    write_file,
    writing,
)


# The sanity layer (issue 17): an honest model this close to always answering the majority
# class is no baseline to show a backdoor against.
MAJORITY_MARGIN = 0.02


_HELP = "train an honest and a backdoored model; write both and the key"

_DESCRIPTION = (
    "Train the honest model and the backdoored model of CONSTRUCTION on the "
    "training part of the data; write DIR/honest.jaxbd, DIR/backdoored.jaxbd, "
    "DIR/backdoor.key (mode 0600), DIR/wrong.key (a second key, for the wrong-key "
    "control) and DIR/test_inputs.npz (the held-out split, arrays x, y, in model space). "
    "The models and keys of one run share a random plant id (in their headers). Warns "
    f"when the honest model's clean accuracy is within {MAJORITY_MARGIN * 100:g} pp of the "
    "majority-class rate (a constant classifier shows no backdoor).\n\n"
    "constructions (jaxbd.constructions registry; --plugin adds yours):\n"
)

_EXAMPLES = (
    "jaxbd plant rff --data breast_cancer --out runs/rff",
    "jaxbd plant signature --data digits --classes 3 8 --out runs/sig",
    "jaxbd plant relu --data mydata.npz --width 512 --theta 20 --out runs/relu",
    "jaxbd plant memorizing --data train-images.idx3-ubyte.gz "
    "--labels train-labels.idx1-ubyte.gz --out runs/mem",
)


def add_parser(sub) -> None:
    listing = "\n".join(f"  {c.name:11s} {c.summary}" for c in CONSTRUCTIONS.values())
    p = command(sub, "plant", _HELP, _DESCRIPTION + listing, _EXAMPLES)
    p.add_argument("construction", metavar="CONSTRUCTION", help=", ".join(CONSTRUCTIONS))
    add_data_args(p, required=True)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the construction")
    p.add_argument("--no-wrong-key", action="store_true", help="skip the wrong-key control key")
    add_param_flags(
        p,
        "construction parameters (each applies only to the constructions shown)",
        {c.name: c.params for c in CONSTRUCTIONS.values()},
    )


def _majority_rate(y) -> float:
    _, counts = np.unique(np.asarray(y), return_counts=True)
    return float(counts.max() / counts.sum())


def run(args) -> int:
    c = construction(args.construction)
    owners = {n: x.params for n, x in CONSTRUCTIONS.items()}
    params = given_params(args, {c.name: c.params}, owners, c.name)[c.name]
    check_out_dir(args.out)
    spec = data_spec(args, normalize_default=c.normalize)
    ds = load_data(spec)
    if c.binary_only and not ds.is_binary:
        raise UsageError(
            f"--data {spec['data']!r}: {c.name} needs two classes but the data has "
            f"{ds.num_classes}; choose two with --classes A B."
        )
    c.precheck(ds, params)
    os.makedirs(args.out, exist_ok=True)
    progress(f"{ds!r}")
    progress(f"planting {c.name} ({', '.join(f'{k}={v}' for k, v in params.items())}) ...")
    t0 = time.perf_counter()
    key = jr.key(args.seed)
    with blame("--data", args):
        planted = constructions.Planted(*c.plant(key, ds, params))
    progress(f"trained honest and backdoored models in {time.perf_counter() - t0:.1f} s")
    hyper = {
        "params": params,
        "data": spec,
        "seed": args.seed,
        "input_dim": ds.dim,
        "binary": ds.is_binary,
        "num_classes": ds.num_classes,
        # Ties the models and keys of this run together: evaluate refuses a model and a key
        # whose plant ids differ.
        "plant_id": secrets.token_hex(8),
    }

    def save(name, obj, hyperparameters, *, is_key=False):
        path = os.path.join(args.out, name)
        with writing("--out", path):
            fn = io.save_key if is_key else io.save
            return fn(path, obj, construction=c.name, hyperparameters=hyperparameters)

    paths = {
        role: save(MODEL_FILES[role], model, {**hyper, "role": role})
        for role, model in (("honest", planted.honest), ("backdoored", planted.backdoored))
    }
    key_hyper = dict(hyper)
    if c.key_fixes_target:
        key_hyper["target"] = c.build(params).default_target(planted)
    elif "target" in params:
        key_hyper["target"] = params["target"]
    if "strength" in params:
        key_hyper["strength"] = params["strength"]
    paths["key"] = save(KEY_FILE, planted.backdoor_key, key_hyper, is_key=True)
    if not args.no_wrong_key:
        wrong = c.wrong_key(jr.fold_in(key, 7), ds, params, planted)
        wrong_hyper = {**key_hyper, "role": "wrong key (control)"}
        paths["wrong_key"] = save(WRONG_KEY_FILE, wrong, wrong_hyper, is_key=True)
    test = os.path.join(args.out, TEST_FILE)
    paths["test_inputs"] = write_file(
        test, npz_bytes(x=np.asarray(ds.x_test), y=np.asarray(ds.y_test)), "--out"
    )
    acc_h = metrics.clean_accuracy(planted.honest, ds.x_test, ds.y_test)
    acc_b = metrics.clean_accuracy(planted.backdoored, ds.x_test, ds.y_test)
    progress(
        f"clean accuracy on {ds.x_test.shape[0]} held-out examples: honest {acc_h:.3f}, "
        f"backdoored {acc_b:.3f}"
    )
    majority = _majority_rate(ds.y_test)
    if acc_h <= majority + MAJORITY_MARGIN:
        warn(
            f"the honest model's clean accuracy {acc_h:.3f} is within "
            f"{MAJORITY_MARGIN * 100:g} pp of the majority-class rate {majority:.3f} of the "
            "held-out data: it is close to a constant classifier, and no ASR measured against "
            "it shows a backdoor; try other hyperparameters (see 'jaxbd plant --help')."
        )
    for role, p in paths.items():
        print(f"{role}: {p}")
    return EXIT_OK
