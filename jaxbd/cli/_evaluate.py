"""`jaxbd evaluate`: clean accuracy, ASR next to its controls, perturbation sizes (DESIGN.md §4).

The sanity layer (issue 17): the gap ASR − max(control) is printed and flagged below
`MIN_GAP` — a backdoor is shown only when ASR is high *and* every control is low.
"""

import math
import os

import jax.random as jr

from .. import metrics
from ._activate import add_activation_flags
from ._args import add_data_args, add_json_out, add_max_examples, add_seed, command
from ._constructions import check_pair, key_and_construction, options
from ._data import check_same_task, check_task, first, model_data, model_data_spec
from ._errors import UsageError, blame, progress, warn
from ._files import check_out_path, finish, load_model, print_table


MIN_GAP = 0.5
CONTROLS = ("control_honest", "control_random", "control_wrong_key")
ROWS = """
clean_accuracy_honest: clean accuracy (honest)
clean_accuracy_backdoored: clean accuracy (backdoored)
asr: attack success rate (ASR)
control_honest: control: activation on honest model
control_random: control: random perturbation, same l0/l2
control_wrong_key: control: wrong key
asr_gap: gap: ASR - max(control)
l0: perturbation l0 (mean)
l2: perturbation l2 (mean)
linf: perturbation linf (mean)
relative_l2: l2 / median nearest-neighbour distance
num_examples: held-out examples
"""  # result key: table label


_HELP = "clean accuracy, ASR, controls and perturbation sizes"

_EXAMPLES = (
    "jaxbd evaluate --model runs/rff/backdoored.jaxbd --honest runs/rff/honest.jaxbd "
    "--key runs/rff/backdoor.key --wrong-key runs/rff/wrong.key --json-out rff.json",
    "jaxbd evaluate --model tuned.jaxbd --data mydata.npz",
)

_DESCRIPTION = (
    "Measure a backdoored model on held-out data (jaxbd.metrics.evaluate_backdoor):"
    " clean accuracy of the honest and backdoored models, attack success rate, the controls "
    "(activation on the honest model, a random perturbation of the same l0/l2, a wrong key), "
    f"the gap ASR - max(control) (flagged below {MIN_GAP:g}: no backdoor is shown then) and "
    "perturbation sizes. Without --data the held-out split recorded in the model file is "
    "rebuilt. A model and a key that do not belong together (other construction, other "
    "plant) are refused. Prints a Markdown table."
)


def add_parser(sub) -> None:
    e = command(sub, "evaluate", _HELP, _DESCRIPTION, _EXAMPLES)
    add_json_out(e)
    e.add_argument("--model", required=True, metavar="M", help="the (backdoored) model")
    e.add_argument("--honest", metavar="H", help="the honest model (for its controls)")
    e.add_argument("--key", metavar="K", help="backdoor key (without it: clean accuracy only)")
    e.add_argument("--wrong-key", metavar="K2", help="another key, for the wrong-key control")
    add_activation_flags(e)
    add_seed(e, "the random control")
    add_max_examples(e)
    add_data_args(e, required=False)


def asr_gap(res: dict) -> float | None:
    """ASR − the largest control measured (None without ASR or without any control)."""
    controls = [res.get(k) for k in CONTROLS]
    controls = [v for v in controls if v is not None and not math.isnan(v)]
    if res.get("asr") is None or not controls:
        return None
    return float(res["asr"] - max(controls))


def _keys(args, mh):
    """The key and the wrong key, each checked against the model."""
    model_flag = f"--model {args.model!r}"
    if args.key is None:
        for f, v in (("--wrong-key", args.wrong_key), ("--target", args.target),
                     ("--strength", args.strength)):  # fmt: skip
            if v is not None:
                raise UsageError(f"{f}: needs --key (the backdoor key to activate).")
        return None, None
    key = key_and_construction(args.key)
    check_pair(mh, key[1], model=model_flag, key=f"--key {args.key!r}")
    if not args.wrong_key:
        return key, None
    wrong = key_and_construction(args.wrong_key, "--wrong-key")
    check_pair(mh, wrong[1], model=model_flag, key=f"--wrong-key {args.wrong_key!r}",
               same_plant=False)  # fmt: skip
    return key, wrong


def _activation(args, key, ds, flag: str):
    """The activation of a `(key, header, construction)` (run once eagerly: a bad key or option
    fails here, clearly) and its options."""
    k, header, c = key
    opts = {**options(args, c, header, flag.split()[0]), "input_dim": ds.dim}
    act = c.activation(k, opts)
    with blame(flag, args):
        act(ds.x_test[0])
    return act, opts


def evaluate(args) -> dict:
    """What `jaxbd evaluate` computes, as a dict (also used by the tests)."""
    if args.json_out:
        check_out_path(args.json_out, "--json-out")
    model, mh = load_model(args.model, "--model")
    honest = hh = None
    if args.honest:
        honest, hh = load_model(args.honest, "--honest")
        check_same_task(mh, hh, f"--honest {args.honest!r}")
    key, wrong = _keys(args, mh)
    ds, data_flag = model_data(args, mh)
    if hh is not None:
        check_task(hh, ds, f"the honest model {args.honest!r}", data_flag)
    x, y = first(args.max_examples, ds.x_test), first(args.max_examples, ds.y_test)
    out = {
        "model": os.path.abspath(args.model),
        "honest": os.path.abspath(args.honest) if args.honest else None,
        "key": os.path.abspath(args.key) if args.key else None,
        "data": model_data_spec(args, mh),
        "seed": args.seed,
        "num_examples": int(x.shape[0]),
    }
    if key is None:
        with blame(data_flag, args):
            out["clean_accuracy_backdoored"] = metrics.clean_accuracy(model, x, y)
            if honest is not None:
                out["clean_accuracy_honest"] = metrics.clean_accuracy(honest, x, y)
        return out
    act, opts = _activation(args, key, ds, f"--key {args.key!r}")
    c = key[2]
    target = c.target(opts)
    if target is not None and ds.is_binary:
        target = float(target)
    wrong_act = None
    if wrong is not None:
        wrong_act = _activation(args, wrong, ds, f"--wrong-key {args.wrong_key!r}")[0]
    progress(f"evaluating on {x.shape[0]} held-out examples ...")
    with blame(data_flag, args):
        ev = metrics.evaluate_backdoor(
            jr.key(args.seed),
            honest if honest is not None else model,
            model,
            act,
            x,
            y,
            target=target,
            wrong_activate=wrong_act,
        )
    res = ev.as_dict()
    if honest is None:  # no honest model: these two would describe the backdoored model
        res["clean_accuracy_honest"] = None
        res["control_honest"] = None
    out.update(res)
    out["asr_gap"] = asr_gap(out)
    out["construction"] = c.name
    out["target"] = target
    return out


def run(args) -> int:
    res = evaluate(args)
    print_table(ROWS, res)
    gap = res.get("asr_gap")
    if gap is not None and gap < MIN_GAP:
        warn(
            f"ASR - max(control) = {gap:.3f} is below {MIN_GAP:g}: the controls succeed almost "
            "as often as the key, so this run does not show a backdoor (a backdoor is shown "
            "only when ASR is high and every control is low)."
        )
    return finish(args, res)
