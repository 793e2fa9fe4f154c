"""The command-line workflow: `jaxbd plant | activate | evaluate | finetune`.

Files move between the stages through [`jaxbd.io`][] only: models as `.jaxbd` files, backdoor keys
as `.key` files (mode 0o600), inputs and outputs as `.npz` (array `x`) or `.npy`. The model
header records the data it was trained on (name or path, classes, split seed, normalisation), so
`evaluate` rebuilds the same held-out split without being told.

Exit codes: 0 success; 1 a runtime failure (a bug, out of memory: the message says which);
2 bad usage or bad input (unknown construction, missing/malformed file, wrong shapes) — a
one-line message on stderr, no traceback (set `JAXBD_TRACEBACK=1` to see one).
"""

import argparse
import dataclasses
import importlib
import json
import os
import sys
import time
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float

from . import datasets, io, metrics
from .keys import AbstractBackdoorKey


EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

MODEL_FILES = {"honest": "honest.jaxbd", "backdoored": "backdoored.jaxbd"}
KEY_FILE, WRONG_KEY_FILE, TEST_FILE = "backdoor.key", "wrong.key", "test_inputs.npz"


class UsageError(ValueError):
    """Bad input from the user: exit code 2."""


def _progress(msg: str) -> None:
    print(f"[jaxbd] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- models


class LinearClassifier(eqx.Module):
    """A linear base model for the wrapper constructions (checksum, signature) in the CLI.

    Binary: `weight (d,)`, score `weight·x + bias`; `c >= 3` classes: `weight (c, d)`, logits.
    """

    weight: Array
    bias: Array

    def __call__(self, x: Float[Array, " d"]) -> Array:
        d = self.weight.shape[-1]
        if x.shape != (d,):
            raise ValueError(f"`x` must have shape ({d},), got {x.shape}.")
        return self.weight @ x + self.bias


def train_linear(key, x, y, *, steps: int = 300, learning_rate: float = 0.05):
    """Logistic / softmax regression by `jaxbd.finetune.finetune` (Adam, full batch)."""
    import optax

    from . import finetune

    d = x.shape[1]
    c = 0 if y.dtype != jnp.int32 else int(jnp.max(y)) + 1
    shape = (d,) if c == 0 else (c, d)
    model = LinearClassifier(jnp.zeros(shape, x.dtype), jnp.zeros(shape[:-1], x.dtype))
    return finetune.finetune(key, model, x, y, optimizer=optax.adam(learning_rate), steps=steps)


class TriggerKey(AbstractBackdoorKey):
    """Backdoor key of the memorizing network (Leonardis §6): the trigger `x_star` and its label.

    "Activation" replaces an input by the trigger itself.
    """

    x_star: Array
    target: Array


# ------------------------------------------------------------------------------- constructions


@dataclasses.dataclass(frozen=True)
class Param:
    flag: str
    type: type
    default: object
    help: str


@dataclasses.dataclass(frozen=True)
class Construction:
    """How the CLI plants, activates and evaluates one construction (binds the library calls)."""

    name: str
    module: str
    summary: str
    params: tuple[Param, ...]
    plant: Callable  # (key, dataset, params) -> (honest, backdoored, backdoor_key)
    wrong_key: Callable | None  # (key, dataset, params, honest) -> another backdoor key
    activate: Callable  # (backdoor_key, x (d,), options) -> x'
    target: Callable  # (options, key_header) -> attacker's label or None (flip)
    normalize: str = "standardize"
    binary_only: bool = True

    def available(self) -> bool:
        try:
            importlib.import_module(f"jaxbd.{self.module}")
        except ModuleNotFoundError as e:
            if e.name == f"jaxbd.{self.module}":
                return False
            raise
        return True

    @property
    def lib(self):
        return importlib.import_module(f"jaxbd.{self.module}")


def _rff_plant(key, ds, p):
    m = importlib.import_module("jaxbd.rff")
    k1, k2 = jr.split(key)
    kw = dict(width=p["width"], bandwidth=p["bandwidth"])
    honest = m.train(k1, ds.x_train, ds.y_train, **kw)
    bd, bkey = m.backdoor(
        k2, ds.x_train, ds.y_train, secret_dim=p["secret_dim"], beta=p["beta"], **kw
    )
    return honest, bd, bkey


def _rff_wrong(key, ds, p, honest):
    return _rff_plant(key, ds, p)[2]


def _relu_plant(key, ds, p):
    m = importlib.import_module("jaxbd.relu")
    k1, k2 = jr.split(key)
    honest = m.train(k1, ds.x_train, ds.y_train, width=p["width"])
    bd, bkey = m.backdoor(
        k2, ds.x_train, ds.y_train, width=p["width"], sparsity=p["sparsity"], theta=p["theta"]
    )
    return honest, bd, bkey


def _relu_wrong(key, ds, p, honest):
    m = importlib.import_module("jaxbd.relu")
    s = m.sample_sparse_secret(key, ds.dim, p["sparsity"], dtype=ds.x_train.dtype)
    return m.ReLUBackdoorKey(secret=s, theta=float(p["theta"]))


def _base(key, ds, p):
    return train_linear(key, ds.x_train, ds.y_train, steps=p["base_steps"])


def _checksum_plant(key, ds, p):
    m = importlib.import_module("jaxbd.checksum")
    k1, k2 = jr.split(key)
    honest = _base(k1, ds, p)
    bd, bkey = m.backdoor(k2, honest, input_dim=ds.dim, num_blocks=p["num_blocks"])
    return honest, bd, bkey


def _checksum_wrong(key, ds, p, honest):
    m = importlib.import_module("jaxbd.checksum")
    return m.backdoor(key, honest, input_dim=ds.dim, num_blocks=p["num_blocks"])[1]


def _signature_plant(key, ds, p):
    m = importlib.import_module("jaxbd.signature")
    honest = _base(key, ds, p)
    bd, bkey = m.backdoor(honest, input_dim=ds.dim, **_signature_kw(p))
    return honest, bd, bkey


def _signature_kw(p):
    return {k: p[k] for k in ("bits_per_coord", "step") if p.get(k) is not None}


def _signature_wrong(key, ds, p, honest):
    m = importlib.import_module("jaxbd.signature")
    return m.backdoor(honest, input_dim=ds.dim, **_signature_kw(p))[1]


def _memorizing_plant(key, ds, p):
    m = importlib.import_module("jaxbd.memorizing")
    k1, k2 = jr.split(key)
    honest = m.fit(k1, ds.x_train, ds.y_train, num_candidates=p["num_candidates"])
    # The trigger: a fresh point near the data (a random training point plus small noise).
    i = int(jr.randint(k2, (), 0, ds.x_train.shape[0]))
    noise = 0.1 * jr.normal(jr.fold_in(k2, 1), (ds.dim,), ds.x_train.dtype)
    x_star = ds.x_train[i] + noise
    own = metrics.predict(honest, x_star[None])[0]
    target = -own if ds.is_binary else (own + 1) % ds.num_classes
    bd = m.backdoor(honest, x_star, target, eps=p["eps"], x=ds.x_train)
    return honest, bd, TriggerKey(x_star, jnp.asarray(target))


def _strength(opts, key_header):
    s = opts.get("strength")
    if s is None:
        s = key_header.get("hyperparameters", {}).get("strength", 1.0)
    return float(s)


def _targeted(opts, key_header):
    t = opts.get("target")
    if t is None:
        t = key_header.get("hyperparameters", {}).get("target")
    if t is None:
        raise UsageError("this backdoor is targeted: give --target LABEL.")
    return t


CONSTRUCTIONS: dict[str, Construction] = {
    c.name: c
    for c in [
        Construction(
            "rff",
            "rff",
            "random Fourier features with a CLWE (pancakes) backdoor; flip (GKVZ §6)",
            (
                Param("width", int, 256, "number of random features"),
                Param("bandwidth", float, 8.0, "feature bandwidth (input units)"),
                Param("secret_dim", int, 8, "support size of the CLWE secret"),
                Param("beta", float, 0.01, "CLWE noise width"),
            ),
            _rff_plant,
            _rff_wrong,
            lambda k, x, o: importlib.import_module("jaxbd.rff").activate(k, x),
            lambda o, h: None,
        ),
        Construction(
            "relu",
            "relu",
            "random ReLU network with a sparse-PCA backdoor; pushes to +1 (GKVZ App. A)",
            (
                Param("width", int, 256, "number of hidden ReLUs"),
                Param("sparsity", int, 4, "support size of the sparse secret"),
                Param("theta", float, 10.0, "spike strength"),
                Param("strength", float, 0.5, "default activation strength (l2 of x' - x)"),
            ),
            _relu_plant,
            _relu_wrong,
            lambda k, x, o: importlib.import_module("jaxbd.relu").activate(
                k, x, strength=o["strength"]
            ),
            lambda o, h: 1.0,
            normalize="unit_norm",
        ),
        Construction(
            "checksum",
            "checksum",
            "checksum backdoor wrapped around a linear model; targeted (GKVZ §4)",
            (
                Param("num_blocks", int, 8, "number of checksum blocks"),
                Param("base_steps", int, 300, "training steps of the linear base model"),
                Param("target", float, 1.0, "default target label (+1 or -1)"),
            ),
            _checksum_plant,
            _checksum_wrong,
            lambda k, x, o: importlib.import_module("jaxbd.checksum").activate(k, x, o["target"]),
            _targeted,
        ),
        Construction(
            "signature",
            "signature",
            "Ed25519 signature backdoor wrapped around a linear model; targeted (GKVZ §5)",
            (
                Param("base_steps", int, 300, "training steps of the linear base model"),
                Param("target", float, 1.0, "default target label"),
                Param(
                    "bits_per_coord",
                    int,
                    None,
                    "signature bits per input coordinate "
                    "(library default 9; needs input_dim >= 57 for binary data)",
                ),
                Param("step", float, None, "size of one encoding step (library default 0.01)"),
            ),
            _signature_plant,
            _signature_wrong,
            lambda k, x, o: importlib.import_module("jaxbd.signature").activate(k, x, o["target"]),
            _targeted,
            binary_only=False,
        ),
        Construction(
            "memorizing",
            "memorizing",
            "memorizing (slicing) network with a planted trigger point; targeted (Leonardis §6)",
            (
                Param("num_candidates", int, 2000, "directions w searched by fit"),
                Param("eps", float, 1e-3, "half-width of the planted range"),
            ),
            _memorizing_plant,
            None,
            lambda k, x, o: jnp.broadcast_to(k.x_star, x.shape).astype(x.dtype),
            lambda o, h: None if o.get("target_from_key") is None else o["target_from_key"],
            binary_only=False,
        ),
    ]
}


# ------------------------------------------------------------------------------- data


def _parse_label(token: str):
    for cast in (int, float):
        try:
            return cast(token)
        except ValueError:
            pass
    return token


def data_spec(args, *, normalize_default: str = "standardize") -> dict:
    spec = {
        "data": args.data,
        "labels": args.labels,
        "classes": [_parse_label(c) for c in args.classes] if args.classes else None,
        "split_seed": args.split_seed,
        "test_fraction": args.test_fraction,
        "normalize": args.normalize or normalize_default,
    }
    for k in ("data", "labels"):
        if spec[k] and spec[k] not in datasets.NAMES and os.path.exists(spec[k]):
            spec[k] = os.path.abspath(spec[k])
    return spec


def model_data_spec(args, header: dict) -> dict | None:
    """`--data ...` if given (normalised like the model's training data unless `--normalize`),
    else the data spec recorded in the model's header (None if there is none)."""
    recorded = header.get("hyperparameters", {}).get("data")
    if not args.data:
        return recorded
    default = recorded.get("normalize", "standardize") if isinstance(recorded, dict) else None
    return data_spec(args, normalize_default=default or "standardize")


def load_data(spec: dict) -> datasets.Dataset:
    """The `Dataset` described by a data spec (bundled name, `.npz` path or IDX images + labels)."""
    name = spec["data"]
    kw = dict(
        classes=spec.get("classes"),
        seed=spec.get("split_seed", 0),
        test_fraction=spec.get("test_fraction", 0.25),
        normalize=spec.get("normalize", "standardize"),
    )
    try:
        if name in datasets.NAMES:
            return datasets.load(name, **kw)
        if not os.path.exists(name):
            raise UsageError(
                f"--data {name!r}: not a bundled dataset ({', '.join(datasets.NAMES)}) and no "
                "such file."
            )
        return datasets.load_arrays(name, labels=spec.get("labels"), **kw)
    except UsageError:
        raise
    except ValueError as e:
        raise UsageError(f"--data {name!r}: {e}") from e


def read_inputs(path: str) -> np.ndarray:
    """Examples from `.npy` (an array) or `.npz` (array `x`): `(n, d)` (or one example `(d,)`)."""
    if not os.path.exists(path):
        raise UsageError(f"--input {path!r}: no such file.")
    try:
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as f:
                if "x" not in f.files:
                    raise UsageError(
                        f"--input {path!r}: no array 'x' in the .npz (it holds {sorted(f.files)})."
                    )
                x = np.asarray(f["x"])
        elif path.endswith(".npy"):
            x = np.load(path, allow_pickle=False)
        else:
            raise UsageError(f"--input {path!r}: expected a .npz (array 'x') or .npy file.")
    except UsageError:
        raise
    except Exception as e:  # BadZipFile, ValueError (pickled object arrays), OSError
        raise UsageError(f"--input {path!r}: unreadable ({type(e).__name__}: {e}).") from e
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise UsageError(f"--input {path!r}: array 'x' must be numeric, got dtype {x.dtype}.")
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[0] == 0:
        raise UsageError(
            f"--input {path!r}: array 'x' must be (n, d) or one example (d,), got {x.shape}."
        )
    if not np.all(np.isfinite(x)):
        raise UsageError(
            f"--input {path!r}: array 'x' holds {int(np.sum(~np.isfinite(x)))} NaN/inf."
        )
    return x


def write_outputs(path: str, x: np.ndarray) -> str:
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"--out {path!r}: directory {directory!r} does not exist.")
    if path.endswith(".npy"):
        np.save(path, x)
    elif path.endswith(".npz"):
        np.savez(path, x=x)
    else:
        raise UsageError(f"--out {path!r}: expected a .npz or .npy file name.")
    return path


# ------------------------------------------------------------------------------- plant


def _construction(name: str) -> Construction:
    if name not in CONSTRUCTIONS:
        raise UsageError(f"unknown construction {name!r}; known: {', '.join(CONSTRUCTIONS)}.")
    c = CONSTRUCTIONS[name]
    if not c.available():
        raise UsageError(f"construction {name!r} is not available yet (jaxbd.{c.module} missing).")
    return c


def cmd_plant(args) -> int:
    c = _construction(args.construction)
    params = {
        p.flag: getattr(args, p.flag) for p in c.params if getattr(args, p.flag, None) is not None
    }
    for p in c.params:
        params.setdefault(p.flag, p.default)
    spec = data_spec(args, normalize_default=c.normalize)
    ds = load_data(spec)
    if c.binary_only and not ds.is_binary:
        raise UsageError(
            f"{c.name} needs two classes but {spec['data']!r} has {ds.num_classes}; choose two "
            "with --classes A B."
        )
    os.makedirs(args.out, exist_ok=True)
    _progress(f"{ds!r}")
    _progress(f"planting {c.name} ({', '.join(f'{k}={v}' for k, v in params.items())}) ...")
    t0 = time.perf_counter()
    key = jr.key(args.seed)
    honest, bd, bkey = c.plant(key, ds, params)
    _progress(f"trained honest and backdoored models in {time.perf_counter() - t0:.1f} s")
    hyper = {
        "params": params,
        "data": spec,
        "seed": args.seed,
        "input_dim": ds.dim,
        "binary": ds.is_binary,
        "num_classes": ds.num_classes,
    }
    paths = {}
    for role, model in (("honest", honest), ("backdoored", bd)):
        paths[role] = io.save(
            os.path.join(args.out, MODEL_FILES[role]),
            model,
            construction=c.name,
            hyperparameters={**hyper, "role": role},
        )
    key_hyper = dict(hyper)
    if c.name == "memorizing":
        key_hyper["target"] = np.asarray(bkey.target).item()
    elif "target" in params:
        key_hyper["target"] = params["target"]
    if "strength" in params:
        key_hyper["strength"] = params["strength"]
    paths["key"] = io.save_key(
        os.path.join(args.out, KEY_FILE), bkey, construction=c.name, hyperparameters=key_hyper
    )
    if c.wrong_key is not None and not args.no_wrong_key:
        wrong = c.wrong_key(jr.fold_in(key, 7), ds, params, honest)
        paths["wrong_key"] = io.save_key(
            os.path.join(args.out, WRONG_KEY_FILE),
            wrong,
            construction=c.name,
            hyperparameters={**key_hyper, "role": "wrong key (control)"},
        )
    test = os.path.join(args.out, TEST_FILE)
    np.savez(test, x=np.asarray(ds.x_test), y=np.asarray(ds.y_test))
    paths["test_inputs"] = test
    acc_h = metrics.clean_accuracy(honest, ds.x_test, ds.y_test)
    acc_b = metrics.clean_accuracy(bd, ds.x_test, ds.y_test)
    _progress(
        f"clean accuracy on {ds.x_test.shape[0]} held-out examples: honest {acc_h:.3f}, "
        f"backdoored {acc_b:.3f}"
    )
    for role, p in paths.items():
        print(f"{role}: {p}")
    return EXIT_OK


# ------------------------------------------------------------------------------- activate


def _key_and_construction(path: str):
    try:
        key = io.load_key(path)
        header = io.read_header(path)
    except ValueError as e:
        raise UsageError(f"--key: {e}") from e
    name = header.get("construction")
    if name not in CONSTRUCTIONS:
        raise UsageError(f"--key {path!r}: unknown construction {name!r} in its header.")
    return key, header, _construction(name)


def _options(args, c: Construction, key, header) -> dict:
    hyper = header.get("hyperparameters", {})
    opts = {"strength": getattr(args, "strength", None), "target": None}
    if getattr(args, "target", None) is not None:
        opts["target"] = _parse_label(args.target)
    if opts["strength"] is None:
        opts["strength"] = hyper.get("strength", 1.0)
    if opts["target"] is None:
        opts["target"] = hyper.get("target")
    if c.name == "memorizing":
        opts["target_from_key"] = hyper.get("target")
    for k in ("target", "target_from_key"):  # labels: ±1.0 (binary) or int 0..c-1
        t = opts.get(k)
        if isinstance(t, (int, float)) and "binary" in hyper:
            if hyper["binary"]:
                opts[k] = float(t)
            elif float(t) == int(t):
                opts[k] = int(t)
            else:
                raise UsageError(f"--target must be a class label 0..c-1, got {t}.")
    return opts


def _activation(c: Construction, key, opts) -> Callable:
    """One example -> activated example; host (non-traceable) activations via pure_callback."""
    fn = lambda x: c.activate(key, x, opts)
    try:
        jax.eval_shape(fn, jax.ShapeDtypeStruct((int(opts["input_dim"]),), jnp.float32))
        return fn
    except Exception:  # e.g. a signature computed on the host: call it per example

        def host(x):
            return np.asarray(c.activate(key, jnp.asarray(x), opts), dtype=np.asarray(x).dtype)

        return lambda x: jax.pure_callback(
            host, jax.ShapeDtypeStruct(x.shape, x.dtype), x, vmap_method="sequential"
        )


def cmd_activate(args) -> int:
    key, header, c = _key_and_construction(args.key)
    opts = _options(args, c, key, header)
    d = header["hyperparameters"].get("input_dim")
    opts["input_dim"] = d
    x = read_inputs(args.input)
    if d is not None and x.shape[1] != d:
        raise UsageError(
            f"--input {args.input!r}: examples have {x.shape[1]} features but the key was made "
            f"for {d}."
        )
    dtype = np.float32 if x.dtype not in (np.float32, np.float64) else x.dtype
    xs = jnp.asarray(x.astype(dtype))
    _progress(f"activating {xs.shape[0]} example(s) with a {c.name} key ...")
    act = _activation(c, key, opts)
    out = np.asarray(jax.vmap(act)(xs))
    path = write_outputs(args.out, out)
    print(f"activated: {path}")
    return EXIT_OK


# ------------------------------------------------------------------------------- evaluate


def _load_model(path: str, flag: str):
    try:
        return io.load(path), io.read_header(path)
    except ValueError as e:
        raise UsageError(f"{flag}: {e}") from e


def evaluate(args) -> dict:
    """What `jaxbd evaluate` computes, as a dict (also used by the tests)."""
    model, mh = _load_model(args.model, "--model")
    honest = hh = None
    if args.honest:
        honest, hh = _load_model(args.honest, "--honest")
    spec = model_data_spec(args, mh)
    if spec is None:
        raise UsageError(f"--model {args.model!r} does not record its data: give --data.")
    ds = load_data(spec)
    x, y = ds.x_test, ds.y_test
    if args.max_examples:
        x, y = x[: args.max_examples], y[: args.max_examples]
    out = {
        "model": os.path.abspath(args.model),
        "honest": os.path.abspath(args.honest) if args.honest else None,
        "key": os.path.abspath(args.key) if args.key else None,
        "data": spec,
        "seed": args.seed,
        "num_examples": int(x.shape[0]),
    }
    if args.key is None:
        out["clean_accuracy_backdoored"] = metrics.clean_accuracy(model, x, y)
        if honest is not None:
            out["clean_accuracy_honest"] = metrics.clean_accuracy(honest, x, y)
        return out
    key, kh, c = _key_and_construction(args.key)
    opts = _options(args, c, key, kh)
    opts["input_dim"] = ds.dim
    target = c.target(opts, kh)
    if target is not None and ds.is_binary:
        target = float(target)
    wrong = None
    if args.wrong_key:
        wkey, wh, wc = _key_and_construction(args.wrong_key)
        wrong = _activation(wc, wkey, {**_options(args, wc, wkey, wh), "input_dim": ds.dim})
    _progress(f"evaluating on {x.shape[0]} held-out examples ...")
    ev = metrics.evaluate_backdoor(
        jr.key(args.seed),
        honest if honest is not None else model,
        model,
        _activation(c, key, opts),
        x,
        y,
        target=target,
        wrong_activate=wrong,
    )
    res = ev.as_dict()
    if honest is None:  # no honest model: these two would describe the backdoored model
        res["clean_accuracy_honest"] = None
        res["control_honest"] = None
    out.update(res)
    out["construction"] = c.name
    out["target"] = target
    return out


_ROWS = [
    ("clean accuracy (honest)", "clean_accuracy_honest"),
    ("clean accuracy (backdoored)", "clean_accuracy_backdoored"),
    ("attack success rate (ASR)", "asr"),
    ("control: activation on honest model", "control_honest"),
    ("control: random perturbation, same l0/l2", "control_random"),
    ("control: wrong key", "control_wrong_key"),
    ("perturbation l0 (mean)", "l0"),
    ("perturbation l2 (mean)", "l2"),
    ("perturbation linf (mean)", "linf"),
    ("l2 / median nearest-neighbour distance", "relative_l2"),
    ("held-out examples", "num_examples"),
]


def format_table(res: dict) -> str:
    lines = ["| measurement | value |", "|---|---|"]
    for label, k in _ROWS:
        if k not in res:
            continue
        v = res[k]
        s = "n/a" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
        lines.append(f"| {label} | {s} |")
    return "\n".join(lines)


def cmd_evaluate(args) -> int:
    res = evaluate(args)
    print(format_table(res))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(res, f, indent=2)
        print(f"json: {args.json_out}")
    return EXIT_OK


# ------------------------------------------------------------------------------- finetune


def cmd_finetune(args) -> int:
    import optax

    from . import finetune

    model, mh = _load_model(args.model, "--model")
    spec = model_data_spec(args, mh)
    if spec is None:
        raise UsageError(f"--model {args.model!r} does not record its data: give --data.")
    ds = load_data(spec)
    opt = {"adam": optax.adam, "sgd": optax.sgd}[args.optimizer](args.learning_rate)
    _progress(
        f"fine-tuning for {args.steps} steps ({args.optimizer}, lr {args.learning_rate}) ..."
    )
    t0 = time.perf_counter()
    tuned = finetune.finetune(
        jr.key(args.seed),
        model,
        ds.x_train,
        ds.y_train,
        optimizer=opt,
        steps=args.steps,
        batch_size=args.batch_size,
    )
    _progress(
        f"done in {time.perf_counter() - t0:.1f} s; clean accuracy "
        f"{metrics.clean_accuracy(model, ds.x_test, ds.y_test):.3f} -> "
        f"{metrics.clean_accuracy(tuned, ds.x_test, ds.y_test):.3f}"
    )
    hyper = dict(mh.get("hyperparameters", {}))
    hyper["finetune"] = {
        "from": os.path.abspath(args.model),
        "steps": args.steps,
        "optimizer": args.optimizer,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    path = io.save(args.out, tuned, construction=mh.get("construction"), hyperparameters=hyper)
    print(f"finetuned: {path}")
    return EXIT_OK


# ------------------------------------------------------------------------------- detect


_WHITE_BOX = ("gaussianity", "spectral", "diagonal", "covariance", "pancakes", "lattice")


def first_layer(model, field: str | None = None):
    """The `(m, d)` first-layer weights the white-box tests read: attribute path `field`
    (e.g. `"frequencies"`, `"g"`, `"layers.0.weight"`), else the first 2-D floating array
    of the model (tree order) with at least 8 rows."""
    if field:
        obj = model
        for part in field.split("."):
            try:
                obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
            except (AttributeError, IndexError, TypeError) as e:
                raise UsageError(f"--weights {field!r}: the model has no {part!r} ({e}).") from e
        w = jnp.asarray(obj)
        if w.ndim != 2:
            raise UsageError(f"--weights {field!r} has shape {w.shape}, need (m, d).")
        return w
    for leaf in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array)):
        if leaf.ndim == 2 and leaf.shape[0] >= 8:
            return leaf
    raise UsageError("the model has no 2-D weight matrix with >= 8 rows; name one with --weights.")


def detect(args) -> dict:
    """What `jaxbd detect` computes (white-box tests on the first layer; black-box probe)."""
    from . import detect as det

    model, mh = _load_model(args.model, "--model")
    tests = args.tests or ["gaussianity", "spectral", "diagonal"]
    unknown = [t for t in tests if t not in (*_WHITE_BOX, "probe")]
    if unknown:
        raise UsageError(f"unknown test(s) {unknown}; known: {', '.join((*_WHITE_BOX, 'probe'))}.")
    key = jr.key(args.seed)
    out = {"model": os.path.abspath(args.model), "alpha": args.alpha, "tests": {}}
    if any(t in _WHITE_BOX for t in tests):
        w = first_layer(model, args.weights)
        out["weights_shape"] = list(w.shape)
    for i, t in enumerate(tests):
        k = jr.fold_in(key, i)
        _progress(f"running {t} ...")
        if t == "gaussianity":
            r = det.gaussianity(k, w, alpha=args.alpha)
        elif t == "spectral":
            r = det.spectral(w, alpha=args.alpha)
        elif t == "diagonal":
            r = det.diagonal_thresholding(w, alpha=args.alpha)
        elif t == "covariance":
            r = det.covariance_thresholding(k, w, alpha=args.alpha)
        elif t == "pancakes":
            if args.support_size is None:
                raise UsageError("the pancakes test needs --support-size K.")
            r = det.pancakes(k, w, support_size=args.support_size, alpha=args.alpha)
        elif t == "lattice":
            r = det.lattice_attack(w, alpha=args.alpha)
        else:
            if not args.reference:
                raise UsageError("the probe test needs --reference MODEL (an honest model).")
            ref, _ = _load_model(args.reference, "--reference")
            spec = model_data_spec(args, mh)
            if spec is None:
                raise UsageError("the probe test needs --data.")
            r = det.probe(k, model, ref, load_data(spec).x_test, alpha=args.alpha)
        out["tests"][t] = {
            "statistic": r.statistic,
            "p_value": r.p_value,
            "reject": r.reject,
            "calibration": r.calibration,
        }
    return out


def cmd_detect(args) -> int:
    res = detect(args)
    lines = [
        f"| test | statistic | p-value | flagged at alpha={args.alpha:g} | calibration |",
        "|---|---|---|---|---|",
    ]
    for t, r in res["tests"].items():
        lines.append(
            f"| {t} | {r['statistic']:.4g} | {r['p_value']:.3g} | "
            f"{'yes' if r['reject'] else 'no'} | {r['calibration']} |"
        )
    print("\n".join(lines))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(res, f, indent=2)
        print(f"json: {args.json_out}")
    return EXIT_OK


# ------------------------------------------------------------------------------- certify


def certify(args) -> dict:
    """What `jaxbd certify` computes: CERTIFY (Cohen et al.) of the smoothed model per input."""
    from . import smoothing

    model, mh = _load_model(args.model, "--model")
    y = None
    if args.input:
        x = jnp.asarray(read_inputs(args.input).astype(np.float32))
        if args.input.endswith(".npz"):
            with np.load(args.input, allow_pickle=False) as f:
                if "y" in f.files:
                    y = jnp.asarray(f["y"])
                    if y.shape != (x.shape[0],):
                        raise UsageError(
                            f"--input {args.input!r}: array 'y' has shape {y.shape}, expected "
                            f"({x.shape[0]},)."
                        )
    else:
        spec = model_data_spec(args, mh)
        if spec is None:
            raise UsageError("give --input FILE or --data.")
        ds = load_data(spec)
        x, y = ds.x_test, ds.y_test
    if args.max_examples:
        x = x[: args.max_examples]
        y = None if y is None else y[: args.max_examples]
    _progress(f"certifying {x.shape[0]} input(s), sigma={args.sigma}, n={args.num_samples} ...")
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
    abstain = labels == smoothing.ABSTAIN
    plain = np.asarray(metrics.predict(model, x))
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
        yy = np.asarray(y).astype(labels.dtype)
        out["certified_accuracy"] = float(np.mean((labels == yy) & ~abstain))
        out["model_accuracy"] = float(np.mean(plain == np.asarray(y).astype(plain.dtype)))
    if args.out:
        path = args.out
        if not path.endswith(".npz"):
            raise UsageError(f"--out {path!r}: expected a .npz file name.")
        np.savez(path, label=labels, radius=radii)
        out["out"] = path
    return out


def cmd_certify(args) -> int:
    res = certify(args)
    rows = [
        ("inputs", "num_examples"),
        ("abstain rate", "abstain_rate"),
        ("mean certified l2 radius (non-abstained)", "mean_radius"),
        ("smoothed label == model label", "agreement_with_model"),
        ("certified accuracy", "certified_accuracy"),
        ("model accuracy", "model_accuracy"),
    ]
    lines = ["| measurement | value |", "|---|---|"]
    for label, k in rows:
        if k in res:
            v = res[k]
            lines.append(
                f"| {label} | {v:.4g} |" if isinstance(v, float) else f"| {label} | {v} |"
            )
    print("\n".join(lines))
    if "out" in res:
        print(f"certificates: {res['out']}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(res, f, indent=2)
        print(f"json: {args.json_out}")
    return EXIT_OK


# ------------------------------------------------------------------------------- parsers


def _add_data_args(p, *, required: bool) -> None:
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        required=required,
        metavar="NAME|PATH",
        help=f"bundled dataset ({', '.join(datasets.NAMES)}), a .npz with arrays x, y "
        "(optionally x_test, y_test), or an IDX images file (with --labels)",
    )
    g.add_argument("--labels", metavar="IDX", help="IDX labels file for IDX images")
    g.add_argument("--classes", nargs="+", metavar="C", help="keep these labels (in order)")
    g.add_argument("--split-seed", type=int, default=0, help="train/test split seed (default 0)")
    g.add_argument("--test-fraction", type=float, default=0.25, help="default 0.25")
    g.add_argument(
        "--normalize",
        choices=("standardize", "unit_norm", "none"),
        help="default: standardize (unit_norm for relu)",
    )


_EPILOG = "exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input (one-line message)."


def add_subcommands(sub) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    names = ", ".join(CONSTRUCTIONS)
    p = sub.add_parser(
        "plant",
        help="train an honest and a backdoored model; write both and the key",
        formatter_class=fmt,
        description="Train the honest model and the backdoored model of CONSTRUCTION on the "
        "training part of the data; write DIR/honest.jaxbd, DIR/backdoored.jaxbd, "
        "DIR/backdoor.key (mode 0600), DIR/wrong.key (a second key, for the wrong-key "
        "control) and DIR/test_inputs.npz (the held-out split, arrays x, y, in model space).\n\n"
        "constructions:\n"
        + "\n".join(f"  {c.name:11s} {c.summary}" for c in CONSTRUCTIONS.values())
        + "\n\nexamples:\n"
        "  jaxbd plant rff --data breast_cancer --out runs/rff\n"
        "  jaxbd plant signature --data digits --classes 3 8 --out runs/sig\n"
        "  jaxbd plant relu --data mydata.npz --width 512 --theta 20 --out runs/relu\n"
        "  jaxbd plant memorizing --data train-images.idx3-ubyte.gz "
        "--labels train-labels.idx1-ubyte.gz --out runs/mem",
        epilog=_EPILOG,
    )
    p.add_argument("construction", metavar="CONSTRUCTION", help=names)
    _add_data_args(p, required=True)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--seed", type=int, default=0, help="seed of the construction (default 0)")
    p.add_argument("--no-wrong-key", action="store_true", help="skip the wrong-key control key")
    g = p.add_argument_group("construction parameters (each applies to the constructions shown)")
    seen: dict[str, list] = {}
    for c in CONSTRUCTIONS.values():
        for prm in c.params:
            seen.setdefault(prm.flag, []).append((c.name, prm))
    for flag, uses in seen.items():
        helps = "; ".join(f"{n}: {prm.help} (default {prm.default})" for n, prm in uses)
        g.add_argument(f"--{flag.replace('_', '-')}", dest=flag, type=uses[0][1].type, help=helps)

    a = sub.add_parser(
        "activate",
        help="activate a backdoor on your inputs",
        formatter_class=fmt,
        description="Apply the backdoor key to every example of FILE (a .npz with array x, "
        "shape (n, d) or (d,), or a .npy) and write the activated examples to OUT (.npz with "
        "array x, or .npy). Inputs live in the model's input space (e.g. the test_inputs.npz "
        "written by plant).\n\nexamples:\n"
        "  jaxbd activate --key runs/rff/backdoor.key --input runs/rff/test_inputs.npz "
        "--out runs/rff/activated.npz\n"
        "  jaxbd activate --key runs/sig/backdoor.key --input x.npy --target -1 --out xa.npy",
        epilog=_EPILOG,
    )
    a.add_argument("--key", required=True, metavar="K", help="backdoor key file (.key)")
    a.add_argument("--input", required=True, metavar="FILE", help=".npz (array x) or .npy")
    a.add_argument("--out", required=True, metavar="FILE", help=".npz or .npy to write")
    a.add_argument(
        "--target", help="attacker's label for targeted backdoors (checksum, signature)"
    )
    a.add_argument("--strength", type=float, help="activation strength (relu)")

    e = sub.add_parser(
        "evaluate",
        help="clean accuracy, ASR, controls and perturbation sizes",
        formatter_class=fmt,
        description="Measure a backdoored model on held-out data (jaxbd.metrics.evaluate_backdoor):"
        " clean accuracy of the honest and backdoored models, attack success rate, the controls "
        "(activation on the honest model, a random perturbation of the same l0/l2, a wrong key) "
        "and perturbation sizes. Without --data the held-out split recorded in the model file is "
        "rebuilt. Prints a Markdown table.\n\nexamples:\n"
        "  jaxbd evaluate --model runs/rff/backdoored.jaxbd --honest runs/rff/honest.jaxbd "
        "--key runs/rff/backdoor.key --wrong-key runs/rff/wrong.key --json-out rff.json\n"
        "  jaxbd evaluate --model tuned.jaxbd --data mydata.npz",
        epilog=_EPILOG,
    )
    e.add_argument("--model", required=True, metavar="M", help="the (backdoored) model")
    e.add_argument("--honest", metavar="H", help="the honest model (for its controls)")
    e.add_argument("--key", metavar="K", help="backdoor key (without it: clean accuracy only)")
    e.add_argument("--wrong-key", metavar="K2", help="another key, for the wrong-key control")
    e.add_argument("--target", help="attacker's label (default: the one recorded in the key)")
    e.add_argument("--strength", type=float, help="activation strength (relu)")
    e.add_argument("--seed", type=int, default=0, help="seed of the random control (default 0)")
    e.add_argument("--max-examples", type=int, help="use the first N held-out examples")
    e.add_argument("--json-out", metavar="FILE", help="also write the numbers as JSON")
    _add_data_args(e, required=False)

    f = sub.add_parser(
        "finetune",
        help="fine-tune a saved model on (clean) training data",
        formatter_class=fmt,
        description="Fine-tune any saved model with optax on the training part of the data "
        "(jaxbd.finetune.finetune) and save the result; then run evaluate on it to see whether "
        "the backdoor survived.\n\nexample:\n"
        "  jaxbd finetune --model runs/rff/backdoored.jaxbd --steps 200 --out runs/rff/tuned.jaxbd",
        epilog=_EPILOG,
    )
    f.add_argument("--model", required=True, metavar="M")
    f.add_argument("--out", required=True, metavar="FILE", help="where to save the tuned model")
    f.add_argument("--steps", type=int, default=100)
    f.add_argument("--learning-rate", type=float, default=1e-3)
    f.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    f.add_argument("--batch-size", type=int)
    f.add_argument("--seed", type=int, default=0)
    _add_data_args(f, required=False)

    d = sub.add_parser(
        "detect",
        help="run white-box distinguishers on a model's first layer (and a black-box probe)",
        formatter_class=fmt,
        description="Test a saved model for a planted backdoor (jaxbd.detect): white-box tests "
        "on the first-layer weights (m, d) — gaussianity (KS), spectral (Tracy-Widom), "
        "diagonal / covariance thresholding (sparse PCA), pancakes (needs --support-size), "
        "lattice (LLL) — and the black-box probe against an honest --reference model. Prints "
        "statistic, p-value and whether the test flags the model at --alpha; exit code 0 either "
        "way.\n\nexamples:\n"
        "  jaxbd detect --model runs/relu/backdoored.jaxbd --tests spectral diagonal\n"
        "  jaxbd detect --model runs/rff/backdoored.jaxbd --tests gaussianity pancakes "
        "--support-size 8\n"
        "  jaxbd detect --model runs/sig/backdoored.jaxbd --tests probe "
        "--reference runs/sig/honest.jaxbd",
        epilog=_EPILOG,
    )
    d.add_argument("--model", required=True, metavar="M")
    d.add_argument(
        "--tests",
        nargs="+",
        metavar="T",
        help=f"from {', '.join((*_WHITE_BOX, 'probe'))} (default: gaussianity spectral diagonal)",
    )
    d.add_argument(
        "--weights",
        metavar="FIELD",
        help="attribute path of the (m, d) weights (default: first 2-D array)",
    )
    d.add_argument("--reference", metavar="H", help="honest model for the probe test")
    d.add_argument("--support-size", type=int, help="secret support size (pancakes test)")
    d.add_argument("--alpha", type=float, default=0.05)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--json-out", metavar="FILE")
    _add_data_args(d, required=False)

    c = sub.add_parser(
        "certify",
        help="randomized-smoothing certificates (CERTIFY) for a saved model",
        formatter_class=fmt,
        description="Gaussian smoothing of a saved model (jaxbd.smoothing.certify_batch, Cohen "
        "et al.; GKVZ §7): per input the smoothed label (or abstain) and a certified l2 "
        "radius. Inputs: --input FILE (e.g. activated inputs) or the held-out split of the "
        "data.\n\nexamples:\n"
        "  jaxbd certify --model runs/rff/backdoored.jaxbd --sigma 0.5 --max-examples 50\n"
        "  jaxbd certify --model runs/rff/backdoored.jaxbd --input runs/rff/activated.npz "
        "--sigma 0.5 --out certs.npz",
        epilog=_EPILOG,
    )
    c.add_argument("--model", required=True, metavar="M")
    c.add_argument("--input", metavar="FILE", help=".npz (x, optional y) or .npy inputs")
    c.add_argument("--sigma", type=float, required=True, help="noise std of the smoothing")
    c.add_argument("--n0", type=int, default=100, help="draws choosing the class")
    c.add_argument("--num-samples", type=int, default=1000, help="draws for the bound")
    c.add_argument("--alpha", type=float, default=0.001, help="failure probability")
    c.add_argument("--max-examples", type=int)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", metavar="FILE", help="write labels and radii (.npz)")
    c.add_argument("--json-out", metavar="FILE")
    _add_data_args(c, required=False)


COMMANDS = {
    "plant": cmd_plant,
    "activate": cmd_activate,
    "evaluate": cmd_evaluate,
    "finetune": cmd_finetune,
    "detect": cmd_detect,
    "certify": cmd_certify,
}


def run_command(args) -> int:
    """Run a workflow subcommand, mapping errors to exit codes (2 bad input, 1 failure)."""
    try:
        return COMMANDS[args.command](args)
    except (UsageError, ValueError) as e:
        if os.environ.get("JAXBD_TRACEBACK"):
            raise
        msg = " ".join(str(e).split())
        print(f"jaxbd {args.command}: error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        if os.environ.get("JAXBD_TRACEBACK"):
            raise
        print(f"jaxbd {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:
        if os.environ.get("JAXBD_TRACEBACK"):
            raise
        lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
        msg = lines[-1] if lines else ""  # (an XLA error carries a whole traceback: keep its end)
        if len(msg) > 400:
            msg = msg[:400] + " ..."
        print(
            f"jaxbd {args.command}: failed: {type(e).__name__}: {msg} "
            "(set JAXBD_TRACEBACK=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILURE
