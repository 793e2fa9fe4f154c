"""The data a command runs on: `--data ...`, else the split recorded in the model's header.

The model header records the data it was trained on (name or path, classes, split seed,
normalisation), so `evaluate` rebuilds the same held-out split without being told.
"""

import os
from typing import Any

from jax import Array

from .. import datasets
from ._errors import UsageError, squash


def _parse_label(token: str):
    for cast in (int, float):
        try:
            return cast(token)
        except ValueError:
            pass
    return token


def hyper(header: dict) -> dict:
    """The `hyperparameters` a file's header records (empty if none)."""
    h = header.get("hyperparameters")
    return h if isinstance(h, dict) else {}


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
    recorded = hyper(header).get("data")
    if not args.data:
        return recorded
    default = recorded.get("normalize", "standardize") if isinstance(recorded, dict) else None
    return data_spec(args, normalize_default=default or "standardize")


def _check_paths(name, labels) -> None:
    if name in datasets.NAMES:
        if labels:
            raise UsageError(f"--labels: only for IDX image files, not the bundled {name!r}.")
    elif not os.path.exists(name):
        raise UsageError(
            f"--data {name!r}: not a bundled dataset ({', '.join(datasets.NAMES)}) and no "
            "such file."
        )
    elif os.path.isdir(name):
        raise UsageError(f"--data {name!r}: is a directory, expected a .npz or IDX file.")
    elif name.endswith(".npz") and labels:
        raise UsageError("--labels: only for IDX image files; a .npz holds its own 'y'.")
    elif labels and not os.path.isfile(labels):
        raise UsageError(f"--labels {labels!r}: no such file.")


def load_data(spec: dict) -> datasets.Dataset:
    """The `Dataset` described by a data spec (bundled name, `.npz` path or IDX images + labels)."""
    name, labels = spec["data"], spec.get("labels")
    kw: dict[str, Any] = dict(  # the spec is JSON from a header or the flags
        classes=spec.get("classes"),
        seed=spec.get("split_seed", 0),
        test_fraction=spec.get("test_fraction", 0.25),
        normalize=spec.get("normalize", "standardize"),
    )
    _check_paths(name, labels)
    try:
        if name in datasets.NAMES:
            return datasets.load(name, **kw)
        return datasets.load_arrays(name, labels=labels, **kw)
    except (ValueError, OSError) as e:
        msg = squash(str(e))
        if "`classes`" in msg or msg.lower().startswith("classes"):
            raise UsageError(f"--classes: {msg}") from e
        if "`test_fraction`" in msg:
            raise UsageError(f"--test-fraction: {msg}") from e
        if "`normalize`" in msg:
            raise UsageError(f"--normalize: {msg}") from e
        if labels and (labels in msg or os.path.basename(labels) in msg):
            raise UsageError(f"--labels {labels!r}: {msg}") from e
        raise UsageError(f"--data {name!r}: {msg}") from e


def check_features(d_file, d_header, what: str, flag_path: str) -> None:
    if d_header is not None and d_file != d_header:
        raise UsageError(
            f"{flag_path}: examples have {d_file} features but {what} was made for {d_header}."
        )


def check_task(header: dict, ds: datasets.Dataset, what: str, data_flag: str) -> None:
    """The data must fit the model: same number of features, same kind of task."""
    h = hyper(header)
    check_features(ds.dim, h.get("input_dim"), what, data_flag)

    def kind(b, c):
        return "binary" if b else f"{c}-class"

    if h.get("binary") is not None and bool(h["binary"]) != ds.is_binary:
        raise UsageError(
            f"{data_flag}: a {kind(ds.is_binary, ds.num_classes)} task, but {what} was trained "
            f"on a {kind(h['binary'], h.get('num_classes'))} task."
        )
    if not ds.is_binary and h.get("num_classes") not in (None, ds.num_classes):
        raise UsageError(
            f"{data_flag}: {ds.num_classes} classes, but {what} was trained on {h['num_classes']}."
        )


def check_same_task(header: dict, other: dict, flag_path: str) -> None:
    """A second model (`--honest`, `--reference`) must be for the same task as the model."""
    h1, h2 = hyper(header), hyper(other)
    for k in ("input_dim", "binary", "num_classes"):
        if h1.get(k) is not None and h2.get(k) is not None and h1[k] != h2[k]:
            raise UsageError(
                f"{flag_path}: {k} {h2[k]} but the model has {h1[k]}: not the same task."
            )


def model_data(args, header: dict) -> tuple[datasets.Dataset, str]:
    """The data for the model `--model` (checked against it): `--data ...`, else the data
    recorded in its header; with the flag and file to blame for errors."""
    spec = model_data_spec(args, header)
    if spec is None:
        raise UsageError(f"--model {args.model!r} does not record its data: give --data.")
    if args.data:
        ds, data_flag = load_data(spec), f"--data {args.data!r}"
    else:
        data_flag = f"--model {args.model!r} (its recorded data)"
        try:
            ds = load_data(spec)
        except UsageError as e:
            raise UsageError(f"--model {args.model!r}: its recorded data: {e} Give --data.") from e
    check_task(header, ds, f"the model {args.model!r}", data_flag)
    return ds, data_flag


def first(n: int | None, a: Array) -> Array:
    """The first `n` rows of `a` (all of them when `n` is None)."""
    return a if n is None else a[:n]
