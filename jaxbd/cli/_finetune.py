"""`jaxbd finetune`: fine-tune a saved model with optax and save it (Chardouvelis–Dao §4)."""

import os
import time

import jax.random as jr

from .. import io, metrics
from ._args import NONNEG_INT, POSITIVE, POSITIVE_INT, add_data_args, add_seed, command
from ._data import hyper, model_data
from ._errors import EXIT_OK, UsageError, blame, progress, squash
from ._files import check_out_path, load_model, writing


_HELP = "fine-tune a saved model on (clean) training data"

_DESCRIPTION = (
    "Fine-tune any saved model with optax on the training part of the data "
    "(jaxbd.finetune.finetune; Chardouvelis–Dao §4) and save the result; then run evaluate "
    "on it to see whether the backdoor survived."
)

_EXAMPLES = (
    "jaxbd finetune --model runs/rff/backdoored.jaxbd --steps 200 --out runs/rff/tuned.jaxbd",
)


def add_parser(sub) -> None:
    f = command(sub, "finetune", _HELP, _DESCRIPTION, _EXAMPLES)
    f.add_argument("--model", required=True, metavar="M", help="the model to fine-tune")
    f.add_argument("--out", required=True, metavar="FILE", help="where to save the tuned model")
    f.add_argument("--steps", type=NONNEG_INT, default=100, help="optimizer steps, >= 0")
    f.add_argument("--learning-rate", type=POSITIVE, default=1e-3, help="learning rate, > 0")
    f.add_argument("--optimizer", choices=("adam", "sgd"), default="adam", help="optax optimizer")
    f.add_argument(
        "--batch-size", type=POSITIVE_INT, help="examples per step (default: full batch)"
    )
    add_seed(f, "the batch order")
    add_data_args(f, required=False)


def run(args) -> int:
    import optax

    from .. import finetune

    check_out_path(args.out, "--out")
    model, mh = load_model(args.model, "--model")
    ds, data_flag = model_data(args, mh)
    n = int(ds.x_train.shape[0])
    if args.batch_size is not None and args.batch_size > n:
        raise UsageError(
            f"--batch-size: must be at most the {n} training examples, got {args.batch_size}."
        )
    opt = {"adam": optax.adam, "sgd": optax.sgd}[args.optimizer](args.learning_rate)
    progress(f"fine-tuning for {args.steps} steps ({args.optimizer}, lr {args.learning_rate}) ...")
    t0 = time.perf_counter()
    with blame(data_flag, args):
        tuned = finetune.finetune(
            jr.key(args.seed),
            model,
            ds.x_train,
            ds.y_train,
            optimizer=opt,
            steps=args.steps,
            batch_size=args.batch_size,
        )
        acc = [metrics.clean_accuracy(m, ds.x_test, ds.y_test) for m in (model, tuned)]
    progress(
        f"done in {time.perf_counter() - t0:.1f} s; clean accuracy {acc[0]:.3f} -> {acc[1]:.3f}"
    )
    h = dict(hyper(mh))
    h["finetune"] = {
        "from": os.path.abspath(args.model),
        "steps": args.steps,
        "optimizer": args.optimizer,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    try:
        with writing("--out", args.out):
            path = io.save(args.out, tuned, construction=mh.get("construction"), hyperparameters=h)
    except ValueError as e:
        raise UsageError(f"--out {args.out!r}: {squash(e)}") from e
    print(f"finetuned: {path}")
    return EXIT_OK
