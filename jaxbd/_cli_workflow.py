"""The command-line workflow: `jaxbd plant | activate | evaluate | finetune | detect | certify`.

Files move between the stages through [`jaxbd.io`][] only: models as `.jaxbd` files, backdoor keys
as `.key` files (mode 0o600), inputs and outputs as `.npz` (array `x`) or `.npy`. The model
header records the data it was trained on (name or path, classes, split seed, normalisation), so
`evaluate` rebuilds the same held-out split without being told. `plant` records a random
*plant id* in the headers of the models and keys it writes; `evaluate` refuses a model and a key
whose construction or plant id differ.

Every file the CLI writes is written atomically ([`jaxbd.io.write_atomic`][]: a temp file in the
target's folder, fsync, rename): a failed write leaves the previous file intact.

Exit codes: 0 success; 1 a run-time failure (a bug, out of memory, a full disk: the one-line
message says which); 2 bad usage or bad input (unknown construction, a bad flag value, a
missing/malformed file, wrong shapes, a model and a key that do not belong together) — one line
on stderr naming the flag or file, no traceback. `jaxbd --debug ...` (or `JAXBD_TRACEBACK=1`)
prints the traceback too.
"""

import argparse
import contextlib
import dataclasses
import io as _bytes_io
import json
import logging
import math
import os
import re
import secrets
import sys
import time
import traceback
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from . import constructions, datasets, io, metrics
from .constructions import TriggerKey as TriggerKey
from .linear import LinearClassifier as LinearClassifier, train_linear as train_linear


EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

MODEL_FILES = {"honest": "honest.jaxbd", "backdoored": "backdoored.jaxbd"}
KEY_FILE, WRONG_KEY_FILE, TEST_FILE = "backdoor.key", "wrong.key", "test_inputs.npz"


class UsageError(ValueError):
    """Bad input from the user (a flag value, a file): exit code 2."""


class RunFailure(RuntimeError):
    """A run-time failure with a clear one-line message (e.g. a full disk): exit code 1."""


# ------------------------------------------------------------------------------- flag types


def number(kind: type = float, *, low=None, high=None, low_open=False, high_open=False):
    """An argparse `type=` for a finite `int` or `float` in a range; errors name the flag
    (argparse prefixes `argument --flag:`)."""
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {high}")
    what = ("an integer" if kind is int else "a finite number") + "".join(
        f" {b}" if i == 0 else f" and {b}" for i, b in enumerate(bounds)
    )

    def parse(token: str):
        try:
            v = kind(token)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be {what}, got {token!r}") from None
        ok = math.isfinite(v)
        if ok and low is not None:
            ok = v > low if low_open else v >= low
        if ok and high is not None:
            ok = v < high if high_open else v <= high
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {what}, got {token!r}")
        return v

    parse.__name__ = kind.__name__
    return parse


def label(token: str):
    """An argparse `type=` for one class label: a finite number (`int` when integral)."""
    try:
        v = float(token)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a class label (a number: +1/-1 or 0..c-1), got {token!r}"
        ) from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a finite class label, got {token!r}")
    return int(v) if v.is_integer() else v


POSITIVE_INT = number(int, low=1)
NONNEG_INT = number(int, low=0)
POSITIVE = number(float, low=0, low_open=True)
NONNEG = number(float, low=0)
SEED = number(int, low=0, high=2**32 - 1)
PROBABILITY = number(float, low=0, high=1, low_open=True, high_open=True)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the descriptions' line breaks and shows every option's default."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            not action.option_strings
            or action.default is None
            or action.default is False
            or action.default is argparse.SUPPRESS
            or "default" in text.lower()
        ):
            return text
        return f"{text} (default: %(default)s)".strip()


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit code 2), naming the flag."""

    def error(self, message):
        msg = " ".join(str(message).split())
        self.exit(EXIT_USAGE, f"{self.prog}: error: {msg} (see '{self.prog} --help')\n")


# ------------------------------------------------------------------------------- errors


# Library argument names (as the library's errors write them, in backticks) -> CLI dest.
_LIBRARY_FLAGS = {
    "strength": "strength",
    "target": "target",
    "sigma": "sigma",
    "alpha": "alpha",
    "n0": "n0",
    "num_samples": "num_samples",
    "steps": "steps",
    "learning_rate": "learning_rate",
    "batch_size": "batch_size",
    "support_size": "support_size",
    "width": "width",
    "bandwidth": "bandwidth",
    "secret_dim": "secret_dim",
    "beta": "beta",
    "sparsity": "sparsity",
    "theta": "theta",
    "num_blocks": "num_blocks",
    "bits_per_coord": "bits_per_coord",
    "step": "step",
    "num_candidates": "num_candidates",
    "eps": "eps",
    "classes": "classes",
    "test_fraction": "test_fraction",
}
_BAD_INPUT_KINDS = {"ValueError", "UsageError", "EquinoxRuntimeError", "_EquinoxRuntimeError"}
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception)): ?(.*)$")


def squash(text: str, limit: int = 600) -> str:
    """One line: whitespace runs (newlines included) become single spaces; long text is cut."""
    msg = " ".join(str(text).split())
    return msg if len(msg) <= limit else msg[:limit] + " ..."


def innermost(e: BaseException) -> tuple[str, str]:
    """`(kind, message)` of the error that really happened.

    A JAX runtime error raised by a host callback (`eqx.error_if`, `jax.pure_callback`) carries
    the callback's whole traceback in its message: keep the innermost exception's type and
    message, drop the traceback and equinox's advice block.
    """
    text = str(e)
    kind = type(e).__name__
    if isinstance(e, RuntimeError) and (
        "Traceback (most recent call last)" in text or "CpuCallback" in text
    ):
        text = re.split(r"\n-{10,}\n", text)[0]
        lines = text.rstrip().splitlines()
        for i in range(len(lines) - 1, -1, -1):
            m = _EXCEPTION_LINE.match(lines[i])
            if m:
                return m.group(1).rsplit(".", 1)[-1], squash(
                    " ".join([m.group(2), *lines[i + 1 :]])
                )
    if "Equinox" in kind:  # eqx.error_if on concrete values raises its own RuntimeError
        text = re.split(r"\n-{10,}\n", text)[0]
    return kind, squash(text)


def _flag_for(msg: str, args) -> str | None:
    """The CLI flag of the first library argument named in `msg` (`name` in backticks)."""
    present = vars(args) if args is not None else {}
    for name in re.findall(r"`(\w+)`", msg):
        dest = _LIBRARY_FLAGS.get(name, name)
        if dest is not None and dest in present:
            return "--" + dest.replace("_", "-")
    return None


def _names_flag_or_file(msg: str) -> bool:
    return bool(re.match(r"^(--[\w-]+|'[^']*'|\"[^\"]*\")", msg))


def _with_flag(msg: str, args, default: str | None = None) -> str:
    if _names_flag_or_file(msg):
        return msg
    flag = _flag_for(msg, args) or default
    return f"{flag}: {msg}" if flag else msg


def classify(e: BaseException, args=None) -> tuple[int, str]:
    """`(exit code, one-line message)` for an error raised by a command."""
    if isinstance(e, UsageError):
        return EXIT_USAGE, _with_flag(squash(str(e)), args)
    if isinstance(e, RunFailure):
        return EXIT_FAILURE, squash(str(e))
    if isinstance(e, KeyboardInterrupt):
        return 130, "interrupted"
    if isinstance(e, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
                      FileExistsError)):  # fmt: skip
        return EXIT_USAGE, squash(str(e))
    kind, msg = innermost(e)
    bad_type = type(e).__name__ == "TypeCheckError"  # jaxtyping's check of a file's arrays
    if (
        isinstance(e, ValueError)
        or bad_type
        or (isinstance(e, RuntimeError) and kind in _BAD_INPUT_KINDS)
    ):
        return EXIT_USAGE, _with_flag(msg, args)
    return EXIT_FAILURE, f"{kind}: {msg}"


@contextlib.contextmanager
def blame(default: str, args=None):
    """Report bad-input errors raised inside as a `UsageError` naming `default` (a flag and
    its file) unless the message names a flag of its own."""
    try:
        yield
    except UsageError:
        raise
    except Exception as e:
        if classify(e, args)[0] != EXIT_USAGE or isinstance(e, OSError):
            raise
        msg = innermost(e)[1]
        if not msg.startswith("--"):
            msg = f"{_flag_for(msg, args) or default}: {msg}"
        raise UsageError(msg) from e


@contextlib.contextmanager
def quiet_callbacks(quiet: bool = True):
    """Silence JAX's logging of a failed host callback (a whole traceback on stderr) while a
    command runs; the error itself still arrives, as one line."""
    loggers = [logging.getLogger(n) for n in ("jax._src.callback", "jax._src.debugging")]
    old = [lg.disabled for lg in loggers]
    try:
        if quiet:
            for lg in loggers:
                lg.disabled = True
        yield
    finally:
        for lg, o in zip(loggers, old):
            lg.disabled = o


def report_error(e: BaseException, command: str, *, args=None, debug: bool = False) -> int:
    """Print one line for `e` (and its traceback when `debug`) and return the exit code."""
    code, msg = classify(e, args)
    if debug:
        traceback.print_exception(e, file=sys.stderr)
    if code == EXIT_USAGE:
        print(f"jaxbd {command}: error: {msg}", file=sys.stderr, flush=True)
    else:
        hint = "" if debug else " (run with --debug for the traceback)"
        print(f"jaxbd {command}: failed: {msg}{hint}", file=sys.stderr, flush=True)
    return code


# ------------------------------------------------------------------------------- output files


def _npz_bytes(**arrays) -> bytes:
    buf = _bytes_io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npy_bytes(x) -> bytes:
    buf = _bytes_io.BytesIO()
    np.save(buf, np.asarray(x), allow_pickle=False)
    return buf.getvalue()


def check_out_path(path: str, flag: str, suffixes: tuple[str, ...] = ()) -> str:
    """Refuse an output path that cannot be written (checked before any work is done)."""
    if suffixes and not path.endswith(suffixes):
        raise UsageError(f"{flag} {path!r}: expected a {' or '.join(suffixes)} file name.")
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path!r}: is a directory, expected a file name.")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"{flag} {path!r}: directory {directory!r} does not exist.")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path!r}: directory {directory!r} is not writable.")
    return path


def _write_error(e: OSError, flag: str, path) -> Exception:
    """A write failure as an error naming `flag` and `path` (never the hidden temp file)."""
    msg = f"{flag} {os.fspath(path)!r}: cannot write ({e.strerror or type(e).__name__})."
    if isinstance(e, (PermissionError, IsADirectoryError, NotADirectoryError, FileNotFoundError)):
        return UsageError(msg)  # the user's path
    return RunFailure(msg)  # a full disk, an I/O error


def write_file(path: str, data: bytes, flag: str) -> str:
    """Write `data` to `path` atomically; errors name `flag` and `path` (never the temp file)."""
    try:
        return io.write_atomic(path, data)
    except ValueError as e:
        raise UsageError(f"{flag} {path!r}: {squash(e)}") from e
    except OSError as e:
        raise _write_error(e, flag, path) from e


@contextlib.contextmanager
def writing(flag: str, path):
    """Map the errors of a model/key save (`io.save`, `io.save_key`) to `flag` and `path`."""
    try:
        yield
    except OSError as e:
        raise _write_error(e, flag, path) from e


def write_json(path: str, obj, flag: str = "--json-out") -> str:
    return write_file(path, (json.dumps(obj, indent=2) + "\n").encode("utf-8"), flag)


def _progress(msg: str) -> None:
    print(f"[jaxbd] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- constructions
# The CLI reads the construction registry (`jaxbd.constructions`): every registered class —
# the papers' and a user's `--plugin` — gets plant / activate / evaluate with its own fields as
# flags and its own defaults, so the library and the CLI cannot drift apart.


def check_label(t, *, binary: bool | None, num_classes: int | None, flag: str = "--target"):
    """`t` must be a label of the task: +1/-1 (binary) or an integer 0..c-1; returns it typed."""
    if binary:
        if t not in (1, -1):
            raise UsageError(f"{flag}: must be +1 or -1 for a binary task, got {t!r}.")
        return float(t)
    if binary is False:
        ok = float(t).is_integer() and int(t) >= 0
        if not ok or (num_classes is not None and int(t) >= num_classes):
            classes = f"0..{num_classes - 1}" if num_classes else "0..c-1"
            raise UsageError(f"{flag}: must be a class label {classes}, got {t!r}.")
        return int(t)
    return t


@dataclasses.dataclass(frozen=True)
class Param:
    flag: str
    type: Callable  # the argparse `type=`: parses the flag's value (ranges: the class checks)
    default: object
    help: str


def _field_type(f: dataclasses.Field, default):
    t = f.type
    if t is int or isinstance(default, int) and not isinstance(default, bool):
        return number(int)
    if t is str or isinstance(default, str):
        return str
    return number(float)


@dataclasses.dataclass(frozen=True)
class Construction:
    """The CLI's view of one registered construction class."""

    cls: type

    @property
    def name(self) -> str:
        return self.cls.name

    @property
    def summary(self) -> str:
        return f"{self.cls.title} ({self.cls.source})"

    @property
    def normalize(self) -> str:
        return self.cls.normalize

    @property
    def binary_only(self) -> bool:
        return tuple(self.cls.tasks) == ("binary",)

    @property
    def key_fixes_target(self) -> bool:
        """A targeted construction whose key records its target (memorizing, a user's)."""
        inner = getattr(self.cls, "inner", None)
        if isinstance(inner, constructions.AbstractConstruction):
            return Construction(type(inner)).key_fixes_target
        return self.cls.default_target is not constructions.AbstractConstruction.default_target

    @property
    def targeted(self) -> bool:
        return self.cls.kind == "targeted" and not self.key_fixes_target

    @property
    def uses_strength(self) -> bool:
        return "strength" in self.fields

    @property
    def fields(self) -> dict:
        return {
            f.name: f
            for f in dataclasses.fields(self.cls)
            if not isinstance(f.default, constructions.AbstractConstruction)
        }

    @property
    def params(self) -> tuple[Param, ...]:
        out = []
        for name, f in self.fields.items():
            default = f.default if f.default is not dataclasses.MISSING else None
            hint = self.cls.__doc__ or ""
            out.append(Param(name, _field_type(f, default), default, _field_help(hint, name)))
        if self.targeted:
            out.append(Param("target", label, 1.0, "default target label recorded in the key"))
        return tuple(out)

    def build(self, p: dict):
        kw = {k: v for k, v in p.items() if k in self.fields and v is not None}
        return self.cls(**kw)

    def precheck(self, ds, p):
        try:
            c = self.build(p)
        except ValueError as e:  # a hyperparameter out of range: name its flag
            raise UsageError(squash(str(e))) from e  # (its `name` in backticks -> its flag)
        try:
            c.check_data(ds.x_train, ds.y_train)
        except ValueError as e:  # the data does not suit the hyperparameters
            msg = squash(str(e))
            names = re.findall(r"`(\w+)`", msg)
            first = names[0] if names else "x"
            flag = _flag(first) if first in self.fields else "--data"
            raise UsageError(f"{flag}: {msg}") from e
        if self.targeted:
            p["target"] = check_label(p["target"], binary=ds.is_binary, num_classes=ds.num_classes)

    def plant(self, key, ds, p):
        return tuple(self.build(p).plant(key, ds.x_train, ds.y_train))

    def wrong_key(self, key, ds, p, planted):
        planted = constructions.Planted(*planted)
        return self.build(p).wrong_key(key, ds.x_train, ds.y_train, planted)

    def activate(self, k, x, o):
        p = dict(o.get("params") or {})
        if self.uses_strength and o.get("strength") is not None:
            p["strength"] = o["strength"]
        return self.build(p).activate(k, x, o.get("target"))

    def target(self, opts, key_header):
        if self.cls.kind == "flip":
            return None
        if self.cls.kind == "one-way":
            return self.cls.fixed_target
        t = opts.get("target")
        if t is None:
            t = opts.get("target_from_key")
        if t is None:
            raise UsageError("--target: this backdoor is targeted: give --target LABEL.")
        return t


def _field_help(doc: str, name: str) -> str:
    """The phrase after `name` in the class docstring's **Fields:** list (or the name)."""
    m = re.search(r"`" + re.escape(name) + r"`\s*\(([^)]*)\)", doc)
    return " ".join(m.group(1).split()) if m else name.replace("_", " ")


def _constructions() -> dict[str, Construction]:
    return {n: Construction(c) for n, c in constructions.registry().items()}


class _Registry(dict):
    """`CONSTRUCTIONS`: a live view of the construction registry (plugins included)."""

    def _sync(self):
        fresh = _constructions()
        if set(fresh) != set(dict.keys(self)):
            dict.clear(self)
            dict.update(self, fresh)

    def __getitem__(self, k):
        self._sync()
        return dict.__getitem__(self, k)

    def __contains__(self, k):
        self._sync()
        return dict.__contains__(self, k)

    def __iter__(self):
        self._sync()
        return dict.__iter__(self)

    def values(self):
        self._sync()
        return dict.values(self)

    def items(self):
        self._sync()
        return dict.items(self)

    def keys(self):
        self._sync()
        return dict.keys(self)


CONSTRUCTIONS: dict[str, Construction] = _Registry()


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
    labels = spec.get("labels")
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
    try:
        if name in datasets.NAMES:
            return datasets.load(name, **kw)
        return datasets.load_arrays(name, labels=labels, **kw)
    except UsageError:
        raise
    except (ValueError, OSError) as e:
        msg = squash(str(e))
        if "`classes`" in msg or msg.lower().startswith("classes"):
            raise UsageError(f"--classes: {msg}") from e
        if "`test_fraction`" in msg:
            raise UsageError(f"--test-fraction: {msg}") from e
        if labels and (labels in msg or os.path.basename(labels) in msg):
            raise UsageError(f"--labels {labels!r}: {msg}") from e
        raise UsageError(f"--data {name!r}: {msg}") from e


def read_inputs(path: str, flag: str = "--input") -> np.ndarray:
    """Examples from `.npy` (an array) or `.npz` (array `x`): `(n, d)` (or one example `(d,)`),
    floating, finite."""
    if not os.path.exists(path):
        raise UsageError(f"{flag} {path!r}: no such file.")
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path!r}: is a directory, expected a .npz or .npy file.")
    try:
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as f:
                if "x" not in f.files:
                    raise UsageError(
                        f"{flag} {path!r}: no array 'x' in the .npz (it holds {sorted(f.files)})."
                    )
                x = np.asarray(f["x"])
        elif path.endswith(".npy"):
            x = np.load(path, allow_pickle=False)
        else:
            raise UsageError(f"{flag} {path!r}: expected a .npz (array 'x') or .npy file.")
    except UsageError:
        raise
    except Exception as e:  # BadZipFile, ValueError (pickled object arrays), OSError
        raise UsageError(f"{flag} {path!r}: unreadable ({type(e).__name__}: {squash(e)}).") from e
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        dtype = getattr(x, "dtype", type(x).__name__)
        raise UsageError(
            f"{flag} {path!r}: array 'x' must be floating (float32/float64), got dtype {dtype}; "
            "convert it first (nothing is cast silently)."
        )
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise UsageError(
            f"{flag} {path!r}: array 'x' must be (n, d) or one example (d,), non-empty, got "
            f"{x.shape}."
        )
    if not np.all(np.isfinite(x)):
        raise UsageError(
            f"{flag} {path!r}: array 'x' holds {int(np.sum(~np.isfinite(x)))} NaN/inf."
        )
    if x.dtype == np.float16:
        x = x.astype(np.float32)  # exact
    return x


def write_outputs(path: str, x: np.ndarray, flag: str = "--out") -> str:
    """Write examples to `.npy` (the array) or `.npz` (array `x`), atomically."""
    check_out_path(path, flag, (".npz", ".npy"))
    data = _npy_bytes(x) if path.endswith(".npy") else _npz_bytes(x=np.asarray(x))
    return write_file(path, data, flag)


# ------------------------------------------------------------------------------- plant


def _construction(name: str) -> Construction:
    if name not in CONSTRUCTIONS:
        raise UsageError(f"unknown construction {name!r}; known: {', '.join(CONSTRUCTIONS)}.")
    return CONSTRUCTIONS[name]


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _all_param_flags() -> dict[str, list[str]]:
    uses: dict[str, list[str]] = {}
    for c in CONSTRUCTIONS.values():
        for prm in c.params:
            uses.setdefault(prm.flag, []).append(c.name)
    return uses


def cmd_plant(args) -> int:
    c = _construction(args.construction)
    own = {p.flag for p in c.params}
    for flag, names in _all_param_flags().items():  # nothing given is ignored silently
        if flag not in own and getattr(args, flag, None) is not None:
            raise UsageError(
                f"{_flag(flag)}: does not apply to {c.name} (only to {', '.join(names)})."
            )
    params = {
        p.flag: getattr(args, p.flag) for p in c.params if getattr(args, p.flag, None) is not None
    }
    for p in c.params:
        params.setdefault(p.flag, p.default)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out!r}: exists and is not a directory.")
    spec = data_spec(args, normalize_default=c.normalize)
    ds = load_data(spec)
    if c.binary_only and not ds.is_binary:
        raise UsageError(
            f"--data {spec['data']!r}: {c.name} needs two classes but the data has "
            f"{ds.num_classes}; choose two with --classes A B."
        )
    if c.precheck is not None:
        c.precheck(ds, params)
    os.makedirs(args.out, exist_ok=True)
    _progress(f"{ds!r}")
    _progress(f"planting {c.name} ({', '.join(f'{k}={v}' for k, v in params.items())}) ...")
    t0 = time.perf_counter()
    key = jr.key(args.seed)
    with blame("--data", args):
        honest, bd, bkey = c.plant(key, ds, params)
    _progress(f"trained honest and backdoored models in {time.perf_counter() - t0:.1f} s")
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
    paths = {}

    def save(name, obj, hyperparameters, *, is_key=False):
        path = os.path.join(args.out, name)
        with writing("--out", path):
            fn = io.save_key if is_key else io.save
            return fn(path, obj, construction=c.name, hyperparameters=hyperparameters)

    for role, model in (("honest", honest), ("backdoored", bd)):
        paths[role] = save(MODEL_FILES[role], model, {**hyper, "role": role})
    key_hyper = dict(hyper)
    if c.key_fixes_target:
        key_hyper["target"] = c.build(params).default_target(
            constructions.Planted(honest, bd, bkey)
        )
    elif "target" in params:
        key_hyper["target"] = params["target"]
    if "strength" in params:
        key_hyper["strength"] = params["strength"]
    paths["key"] = save(KEY_FILE, bkey, key_hyper, is_key=True)
    if c.wrong_key is not None and not args.no_wrong_key:
        wrong = c.wrong_key(jr.fold_in(key, 7), ds, params, (honest, bd, bkey))
        wrong_hyper = {**key_hyper, "role": "wrong key (control)"}
        paths["wrong_key"] = save(WRONG_KEY_FILE, wrong, wrong_hyper, is_key=True)
    test = os.path.join(args.out, TEST_FILE)
    paths["test_inputs"] = write_file(
        test, _npz_bytes(x=np.asarray(ds.x_test), y=np.asarray(ds.y_test)), "--out"
    )
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


def _key_and_construction(path: str, flag: str = "--key"):
    if not os.path.exists(path):
        raise UsageError(f"{flag} {path!r}: no such file.")
    try:
        key = io.load_key(path)
        header = io.read_header(path)
    except ValueError as e:
        raise UsageError(f"{flag}: {squash(e)}") from e
    name = header.get("construction")
    if name not in CONSTRUCTIONS:
        raise UsageError(f"{flag} {path!r}: unknown construction {name!r} in its header.")
    return key, header, _construction(name)


def _hyper(header: dict) -> dict:
    h = header.get("hyperparameters")
    return h if isinstance(h, dict) else {}


def _options(args, c: Construction, header: dict, key_flag: str = "--key") -> dict:
    """The activation options (strength, target) from the flags, else the key's header."""
    hyper = _hyper(header)
    strength = getattr(args, "strength", None)
    target = getattr(args, "target", None)
    if strength is not None and not c.uses_strength:
        raise UsageError(
            f"--strength: applies only to keys of constructions with a strength (relu); "
            f"{key_flag} is a {c.name} key."
        )
    if target is not None and not c.targeted:
        why = {
            "flip": "flips the label",
            "one-way": f"always pushes to {c.cls.fixed_target:+g}",
        }.get(c.cls.kind, "fixes its target in the key")
        raise UsageError(f"--target: the {c.name} backdoor {why}; it takes no --target.")
    opts = {"strength": strength, "target": None, "input_dim": hyper.get("input_dim")}
    if opts["strength"] is None:
        opts["strength"] = hyper.get("strength", 1.0)
    binary, num_classes = hyper.get("binary"), hyper.get("num_classes")
    if c.targeted:
        t = target if target is not None else hyper.get("target")
        if t is None:
            raise UsageError("--target: this backdoor is targeted: give --target LABEL.")
        flag = "--target" if target is not None else f"{key_flag} (its recorded target)"
        opts["target"] = check_label(t, binary=binary, num_classes=num_classes, flag=flag)
    opts["params"] = hyper.get("params") if isinstance(hyper.get("params"), dict) else {}
    if c.key_fixes_target and hyper.get("target") is not None:
        opts["target_from_key"] = check_label(
            hyper["target"], binary=binary, num_classes=num_classes,
            flag=f"{key_flag} (its recorded target)",
        )  # fmt: skip
    return opts


def _activation(c: Construction, key, opts) -> Callable:
    """One example -> activated example (every construction's activation is traceable)."""
    return lambda x: c.activate(key, x, opts)


def _check_features(d_file, d_header, what: str, flag_path: str) -> None:
    if d_header is not None and d_file != d_header:
        raise UsageError(
            f"{flag_path}: examples have {d_file} features but {what} was made for {d_header}."
        )


def cmd_activate(args) -> int:
    check_out_path(args.out, "--out", (".npz", ".npy"))
    key, header, c = _key_and_construction(args.key)
    opts = _options(args, c, header)
    x = read_inputs(args.input)
    _check_features(x.shape[1], opts["input_dim"], "the key", f"--input {args.input!r}")
    xs = jnp.asarray(x)
    act = _activation(c, key, opts)
    with blame(f"--input {args.input!r}", args):
        act(xs[0])  # one example eagerly first: a bad input fails here, clearly
        _progress(f"activating {xs.shape[0]} example(s) with a {c.name} key ...")
        out = np.asarray(jax.vmap(act)(xs))
    path = write_outputs(args.out, out)
    print(f"activated: {path}")
    return EXIT_OK


# ------------------------------------------------------------------------------- evaluate


def _load_model(path: str, flag: str):
    if not os.path.exists(path):
        raise UsageError(f"{flag} {path!r}: no such file.")
    try:
        return io.load(path), io.read_header(path)
    except ValueError as e:
        raise UsageError(f"{flag}: {squash(e)}") from e


def check_pair(model_header: dict, key_header: dict, *, model: str, key: str,
               same_plant: bool = True) -> None:  # fmt: skip
    """Refuse a model and a key that do not belong together (DESIGN.md §3): different
    constructions, different plant ids (recorded by `plant`), different input sizes."""
    mc, kc = model_header.get("construction"), key_header.get("construction")
    if mc is not None and kc is not None and mc != kc:
        raise UsageError(f"{key}: a {kc} key does not belong to the {mc} model {model}.")
    mh, kh = _hyper(model_header), _hyper(key_header)
    mid, kid = mh.get("plant_id"), kh.get("plant_id")
    if same_plant and mid is not None and kid is not None and mid != kid:
        raise UsageError(
            f"{key}: this key was planted with another model than {model} (plant ids {kid} and "
            f"{mid}); give the key written with the model."
        )
    md, kd = mh.get("input_dim"), kh.get("input_dim")
    if md is not None and kd is not None and md != kd:
        raise UsageError(f"{key}: the key is for {kd} features, the model {model} takes {md}.")


def _check_task(header: dict, ds: datasets.Dataset, what: str, data_flag: str) -> None:
    """The data must fit the model: same number of features, same kind of task."""
    h = _hyper(header)
    _check_features(ds.dim, h.get("input_dim"), what, data_flag)
    if h.get("binary") is not None and bool(h["binary"]) != ds.is_binary:
        kind = lambda b, c: "binary" if b else f"{c}-class"  # noqa: E731
        raise UsageError(
            f"{data_flag}: a {kind(ds.is_binary, ds.num_classes)} task, but {what} was trained "
            f"on a {kind(h['binary'], h.get('num_classes'))} task."
        )
    if not ds.is_binary and h.get("num_classes") not in (None, ds.num_classes):
        raise UsageError(
            f"{data_flag}: {ds.num_classes} classes, but {what} was trained on {h['num_classes']}."
        )


def _model_data(args, mh: dict) -> tuple[datasets.Dataset, str]:
    """The held-out data for a model: `--data ...`, else the data recorded in its header."""
    spec = model_data_spec(args, mh)
    if spec is None:
        raise UsageError(f"--model {args.model!r} does not record its data: give --data.")
    if args.data:
        return load_data(spec), f"--data {args.data!r}"
    try:
        return load_data(spec), f"--model {args.model!r} (its recorded data)"
    except UsageError as e:
        raise UsageError(f"--model {args.model!r}: its recorded data: {e} Give --data.") from e


def _first(n: int | None, *arrays):
    return tuple(a if n is None or a is None else a[:n] for a in arrays)


def evaluate(args) -> dict:
    """What `jaxbd evaluate` computes, as a dict (also used by the tests)."""
    if args.json_out:
        check_out_path(args.json_out, "--json-out")
    if args.key is None:
        for flag, v in (("--wrong-key", args.wrong_key), ("--target", args.target),
                        ("--strength", args.strength)):  # fmt: skip
            if v is not None:
                raise UsageError(f"{flag}: needs --key (the backdoor key to activate).")
    model_flag = f"--model {args.model!r}"
    model, mh = _load_model(args.model, "--model")
    honest = hh = None
    if args.honest:
        honest, hh = _load_model(args.honest, "--honest")
        h1, h2 = _hyper(mh), _hyper(hh)
        for k in ("input_dim", "binary", "num_classes"):
            if h1.get(k) is not None and h2.get(k) is not None and h1[k] != h2[k]:
                raise UsageError(
                    f"--honest {args.honest!r}: {k} {h2[k]} but the model has {h1[k]}: not "
                    "the same task."
                )
    if args.key is not None:
        key, kh, c = _key_and_construction(args.key)
        check_pair(mh, kh, model=model_flag, key=f"--key {args.key!r}")
    if args.wrong_key:
        wkey, wh, wc = _key_and_construction(args.wrong_key, "--wrong-key")
        check_pair(mh, wh, model=model_flag, key=f"--wrong-key {args.wrong_key!r}",
                   same_plant=False)  # fmt: skip
    ds, data_flag = _model_data(args, mh)
    _check_task(mh, ds, f"the model {args.model!r}", data_flag)
    if hh is not None:
        _check_task(hh, ds, f"the honest model {args.honest!r}", data_flag)
    x, y = _first(args.max_examples, ds.x_test, ds.y_test)
    out = {
        "model": os.path.abspath(args.model),
        "honest": os.path.abspath(args.honest) if args.honest else None,
        "key": os.path.abspath(args.key) if args.key else None,
        "data": model_data_spec(args, mh),
        "seed": args.seed,
        "num_examples": int(x.shape[0]),
    }
    if args.key is None:
        with blame(data_flag, args):
            out["clean_accuracy_backdoored"] = metrics.clean_accuracy(model, x, y)
            if honest is not None:
                out["clean_accuracy_honest"] = metrics.clean_accuracy(honest, x, y)
        return out
    opts = _options(args, c, kh)
    opts["input_dim"] = ds.dim
    target = c.target(opts, kh)
    if target is not None and ds.is_binary:
        target = float(target)
    act = _activation(c, key, opts)
    with blame(f"--key {args.key!r}", args):
        act(x[0])  # eagerly first: a bad key or option fails here, clearly
    wrong = None
    if args.wrong_key:
        wrong = _activation(
            wc, wkey, {**_options(args, wc, wh, "--wrong-key"), "input_dim": ds.dim}
        )
        with blame(f"--wrong-key {args.wrong_key!r}", args):
            wrong(x[0])
    _progress(f"evaluating on {x.shape[0]} held-out examples ...")
    with blame(data_flag, args):
        ev = metrics.evaluate_backdoor(
            jr.key(args.seed),
            honest if honest is not None else model,
            model,
            act,
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
        write_json(args.json_out, res)
        print(f"json: {args.json_out}")
    return EXIT_OK


# ------------------------------------------------------------------------------- finetune


def cmd_finetune(args) -> int:
    import optax

    from . import finetune

    check_out_path(args.out, "--out")
    model, mh = _load_model(args.model, "--model")
    ds, data_flag = _model_data(args, mh)
    _check_task(mh, ds, f"the model {args.model!r}", data_flag)
    n = int(ds.x_train.shape[0])
    if args.batch_size is not None and args.batch_size > n:
        raise UsageError(
            f"--batch-size: must be at most the {n} training examples, got {args.batch_size}."
        )
    opt = {"adam": optax.adam, "sgd": optax.sgd}[args.optimizer](args.learning_rate)
    _progress(
        f"fine-tuning for {args.steps} steps ({args.optimizer}, lr {args.learning_rate}) ..."
    )
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
        acc = (metrics.clean_accuracy(model, ds.x_test, ds.y_test),
               metrics.clean_accuracy(tuned, ds.x_test, ds.y_test))  # fmt: skip
    _progress(
        f"done in {time.perf_counter() - t0:.1f} s; clean accuracy {acc[0]:.3f} -> {acc[1]:.3f}"
    )
    hyper = dict(_hyper(mh))
    hyper["finetune"] = {
        "from": os.path.abspath(args.model),
        "steps": args.steps,
        "optimizer": args.optimizer,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    try:
        with writing("--out", args.out):
            path = io.save(
                args.out, tuned, construction=mh.get("construction"), hyperparameters=hyper
            )
    except ValueError as e:
        raise UsageError(f"--out {args.out!r}: {squash(e)}") from e
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

    if args.json_out:
        check_out_path(args.json_out, "--json-out")
    tests = args.tests or ["gaussianity", "spectral", "diagonal"]
    unknown = [t for t in tests if t not in (*_WHITE_BOX, "probe")]
    if unknown:
        raise UsageError(
            f"--tests: unknown test(s) {unknown}; known: {', '.join((*_WHITE_BOX, 'probe'))}."
        )
    if "pancakes" in tests and args.support_size is None:
        raise UsageError("--support-size: the pancakes test needs --support-size K.")
    if args.support_size is not None and "pancakes" not in tests:
        raise UsageError("--support-size: only used by the pancakes test (add it to --tests).")
    if "probe" in tests and not args.reference:
        raise UsageError("--reference: the probe test needs --reference MODEL (an honest model).")
    if args.reference and "probe" not in tests:
        raise UsageError("--reference: only used by the probe test (add it to --tests).")
    if args.weights and not any(t in _WHITE_BOX for t in tests):
        raise UsageError("--weights: only used by the white-box tests.")
    model, mh = _load_model(args.model, "--model")
    key = jr.key(args.seed)
    out = {"model": os.path.abspath(args.model), "alpha": args.alpha, "tests": {}}
    model_flag = f"--model {args.model!r}"
    if any(t in _WHITE_BOX for t in tests):
        w = first_layer(model, args.weights)
        out["weights_shape"] = list(w.shape)
        if args.support_size is not None and args.support_size > w.shape[1]:
            raise UsageError(
                f"--support-size: must be at most the {w.shape[1]} columns of the weights, got "
                f"{args.support_size}."
            )
    if "probe" in tests:
        ref, rh = _load_model(args.reference, "--reference")
        for k in ("input_dim", "binary", "num_classes"):
            a, b = _hyper(mh).get(k), _hyper(rh).get(k)
            if a is not None and b is not None and a != b:
                raise UsageError(
                    f"--reference {args.reference!r}: {k} {b} but the model has {a}: not the "
                    "same task."
                )
        ds, data_flag = _model_data(args, mh)
        _check_task(mh, ds, f"the model {args.model!r}", data_flag)
    for i, t in enumerate(tests):
        k = jr.fold_in(key, i)
        _progress(f"running {t} ...")
        with blame(model_flag if t != "probe" else data_flag, args):
            if t == "gaussianity":
                r = det.gaussianity(k, w, alpha=args.alpha)
            elif t == "spectral":
                r = det.spectral(w, alpha=args.alpha)
            elif t == "diagonal":
                r = det.diagonal_thresholding(w, alpha=args.alpha)
            elif t == "covariance":
                r = det.covariance_thresholding(k, w, alpha=args.alpha)
            elif t == "pancakes":
                r = det.pancakes(k, w, support_size=args.support_size, alpha=args.alpha)
            elif t == "lattice":
                r = det.lattice_attack(w, alpha=args.alpha)
            else:
                r = det.probe(k, model, ref, ds.x_test, alpha=args.alpha)
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
        write_json(args.json_out, res)
        print(f"json: {args.json_out}")
    return EXIT_OK


# ------------------------------------------------------------------------------- certify


def _labels_file(path: str, n: int, flag: str = "--input"):
    """The optional array `y` of an inputs `.npz` (labels for certified accuracy)."""
    if not path.endswith(".npz"):
        return None
    with np.load(path, allow_pickle=False) as f:
        if "y" not in f.files:
            return None
        y = np.asarray(f["y"])
    if y.shape != (n,):
        raise UsageError(f"{flag} {path!r}: array 'y' has shape {y.shape}, expected ({n},).")
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise UsageError(f"{flag} {path!r}: array 'y' must hold numeric labels, got {y.dtype}.")
    if np.issubdtype(y.dtype, np.floating) and not np.all(np.isfinite(y)):
        raise UsageError(f"{flag} {path!r}: array 'y' holds NaN/inf.")
    return jnp.asarray(y)


def certify(args) -> dict:
    """What `jaxbd certify` computes: CERTIFY (Cohen et al.) of the smoothed model per input."""
    from . import smoothing

    if args.out:
        check_out_path(args.out, "--out", (".npz",))
    if args.json_out:
        check_out_path(args.json_out, "--json-out")
    if args.input and args.data:
        raise UsageError("--input: give either --input FILE or --data, not both.")
    model, mh = _load_model(args.model, "--model")
    y = None
    if args.input:
        data_flag = f"--input {args.input!r}"
        x = read_inputs(args.input).astype(np.float32)
        _check_features(x.shape[1], _hyper(mh).get("input_dim"), "the model", data_flag)
        y = _labels_file(args.input, x.shape[0])
        x = jnp.asarray(x)
        h = _hyper(mh)
        if y is not None and h.get("binary") is not None:
            allowed = [-1, 1] if h["binary"] else list(range(h.get("num_classes") or 0))
            if allowed and not np.isin(np.asarray(y), allowed).all():
                raise UsageError(
                    f"{data_flag}: array 'y' holds labels outside the model's "
                    f"{'+1/-1' if h['binary'] else f'0..{len(allowed) - 1}'}."
                )
    else:
        ds, data_flag = _model_data(args, mh)
        _check_task(mh, ds, f"the model {args.model!r}", data_flag)
        x, y = ds.x_test, ds.y_test
    x, y = _first(args.max_examples, x, y)
    with blame(data_flag, args):
        metrics.predict(model, x[:1])  # the model runs on these inputs (clear error if not)
    _progress(f"certifying {x.shape[0]} input(s), sigma={args.sigma}, n={args.num_samples} ...")
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
        yy = np.asarray(y).astype(labels.dtype)
        out["certified_accuracy"] = float(np.mean((labels == yy) & ~abstain))
        out["model_accuracy"] = float(np.mean(plain == np.asarray(y).astype(plain.dtype)))
    if args.out:
        out["out"] = write_file(args.out, _npz_bytes(label=labels, radius=radii), "--out")
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
    for label_, k in rows:
        if k in res:
            v = res[k]
            lines.append(
                f"| {label_} | {v:.4g} |" if isinstance(v, float) else f"| {label_} | {v} |"
            )
    print("\n".join(lines))
    if "out" in res:
        print(f"certificates: {res['out']}")
    if args.json_out:
        write_json(args.json_out, res)
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
    g.add_argument("--split-seed", type=SEED, default=0, help="train/test split seed")
    g.add_argument(
        "--test-fraction", type=PROBABILITY, default=0.25, help="held-out fraction, in (0, 1)"
    )
    g.add_argument(
        "--normalize",
        choices=("standardize", "unit_norm", "none"),
        help="default: standardize (unit_norm for relu)",
    )


_EPILOG = (
    "exit codes: 0 success, 1 run-time failure, 2 bad usage or bad input (one line on stderr "
    "naming the flag or file; add --debug for the traceback)."
)


def add_debug_flag(p) -> None:
    """`--debug` after the subcommand too (`jaxbd plant ... --debug`)."""
    p.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="on an error, print the traceback too",
    )


def add_subcommands(sub) -> None:
    fmt = HelpFormatter
    names = ", ".join(CONSTRUCTIONS)
    p = sub.add_parser(
        "plant",
        help="train an honest and a backdoored model; write both and the key",
        formatter_class=fmt,
        description="Train the honest model and the backdoored model of CONSTRUCTION on the "
        "training part of the data; write DIR/honest.jaxbd, DIR/backdoored.jaxbd, "
        "DIR/backdoor.key (mode 0600), DIR/wrong.key (a second key, for the wrong-key "
        "control) and DIR/test_inputs.npz (the held-out split, arrays x, y, in model space). "
        "The models and keys of one run share a random plant id (in their headers).\n\n"
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
    p.add_argument("--seed", type=SEED, default=0, help="seed of the construction")
    p.add_argument("--no-wrong-key", action="store_true", help="skip the wrong-key control key")
    add_debug_flag(p)
    g = p.add_argument_group(
        "construction parameters (each applies only to the constructions shown)"
    )
    seen: dict[str, list] = {}
    for c in CONSTRUCTIONS.values():
        for prm in c.params:
            seen.setdefault(prm.flag, []).append((c.name, prm))
    for flag, uses in seen.items():
        helps = "; ".join(
            f"{n}: {prm.help}" + ("" if prm.default is None else f" (default: {prm.default})")
            for n, prm in uses
        )
        g.add_argument(_flag(flag), dest=flag, type=uses[0][1].type, help=helps)

    a = sub.add_parser(
        "activate",
        help="activate a backdoor on your inputs",
        formatter_class=fmt,
        description="Apply the backdoor key to every example of FILE (a .npz with array x, "
        "shape (n, d) or (d,), or a .npy; floating, finite) and write the activated examples "
        "to OUT (.npz with array x, or .npy; written atomically). Inputs live in the model's "
        "input space (e.g. the test_inputs.npz written by plant).\n\nexamples:\n"
        "  jaxbd activate --key runs/rff/backdoor.key --input runs/rff/test_inputs.npz "
        "--out runs/rff/activated.npz\n"
        "  jaxbd activate --key runs/sig/backdoor.key --input x.npy --target -1 --out xa.npy",
        epilog=_EPILOG,
    )
    a.add_argument("--key", required=True, metavar="K", help="backdoor key file (.key)")
    a.add_argument("--input", required=True, metavar="FILE", help=".npz (array x) or .npy")
    a.add_argument("--out", required=True, metavar="FILE", help=".npz or .npy to write")
    a.add_argument(
        "--target",
        type=label,
        help="attacker's label for targeted backdoors (checksum, signature): +1/-1 or 0..c-1 "
        "(default: the one recorded in the key)",
    )
    a.add_argument(
        "--strength",
        type=NONNEG,
        help="activation strength, >= 0 (relu; default: the one recorded in the key)",
    )
    add_debug_flag(a)

    e = sub.add_parser(
        "evaluate",
        help="clean accuracy, ASR, controls and perturbation sizes",
        formatter_class=fmt,
        description="Measure a backdoored model on held-out data (jaxbd.metrics.evaluate_backdoor):"
        " clean accuracy of the honest and backdoored models, attack success rate, the controls "
        "(activation on the honest model, a random perturbation of the same l0/l2, a wrong key) "
        "and perturbation sizes. Without --data the held-out split recorded in the model file is "
        "rebuilt. A model and a key that do not belong together (other construction, other "
        "plant) are refused. Prints a Markdown table.\n\nexamples:\n"
        "  jaxbd evaluate --model runs/rff/backdoored.jaxbd --honest runs/rff/honest.jaxbd "
        "--key runs/rff/backdoor.key --wrong-key runs/rff/wrong.key --json-out rff.json\n"
        "  jaxbd evaluate --model tuned.jaxbd --data mydata.npz",
        epilog=_EPILOG,
    )
    e.add_argument("--model", required=True, metavar="M", help="the (backdoored) model")
    e.add_argument("--honest", metavar="H", help="the honest model (for its controls)")
    e.add_argument("--key", metavar="K", help="backdoor key (without it: clean accuracy only)")
    e.add_argument("--wrong-key", metavar="K2", help="another key, for the wrong-key control")
    e.add_argument(
        "--target", type=label, help="attacker's label (default: the one recorded in the key)"
    )
    e.add_argument(
        "--strength", type=NONNEG, help="activation strength, >= 0 (relu; default: the key's)"
    )
    e.add_argument("--seed", type=SEED, default=0, help="seed of the random control")
    e.add_argument(
        "--max-examples", type=POSITIVE_INT, metavar="N",
        help="use the first N >= 1 held-out examples (default: all)",
    )  # fmt: skip
    e.add_argument("--json-out", metavar="FILE", help="also write the numbers as JSON")
    _add_data_args(e, required=False)
    add_debug_flag(e)

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
    f.add_argument("--model", required=True, metavar="M", help="the model to fine-tune")
    f.add_argument("--out", required=True, metavar="FILE", help="where to save the tuned model")
    f.add_argument("--steps", type=NONNEG_INT, default=100, help="optimizer steps, >= 0")
    f.add_argument("--learning-rate", type=POSITIVE, default=1e-3, help="learning rate, > 0")
    f.add_argument("--optimizer", choices=("adam", "sgd"), default="adam", help="optax optimizer")
    f.add_argument(
        "--batch-size", type=POSITIVE_INT, help="examples per step (default: full batch)"
    )
    f.add_argument("--seed", type=SEED, default=0, help="seed of the batch order")
    _add_data_args(f, required=False)
    add_debug_flag(f)

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
    d.add_argument("--model", required=True, metavar="M", help="the model to test")
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
    d.add_argument(
        "--support-size", type=POSITIVE_INT, help="secret support size, >= 1 (pancakes test)"
    )
    d.add_argument("--alpha", type=PROBABILITY, default=0.05, help="test level, in (0, 1)")
    d.add_argument("--seed", type=SEED, default=0, help="seed of the randomised tests")
    d.add_argument("--json-out", metavar="FILE", help="also write the results as JSON")
    _add_data_args(d, required=False)
    add_debug_flag(d)

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
    c.add_argument("--model", required=True, metavar="M", help="the model to smooth")
    c.add_argument("--input", metavar="FILE", help=".npz (x, optional y) or .npy inputs")
    c.add_argument("--sigma", type=POSITIVE, required=True, help="noise std of the smoothing, > 0")
    c.add_argument("--n0", type=POSITIVE_INT, default=100, help="draws choosing the class")
    c.add_argument("--num-samples", type=POSITIVE_INT, default=1000, help="draws for the bound")
    c.add_argument(
        "--alpha", type=PROBABILITY, default=0.001, help="failure probability, in (0, 1)"
    )
    c.add_argument(
        "--max-examples", type=POSITIVE_INT, metavar="N",
        help="certify the first N >= 1 inputs (default: all)",
    )  # fmt: skip
    c.add_argument("--seed", type=SEED, default=0, help="seed of the noise draws")
    c.add_argument("--out", metavar="FILE", help="write labels and radii (.npz)")
    c.add_argument("--json-out", metavar="FILE", help="also write the numbers as JSON")
    _add_data_args(c, required=False)
    add_debug_flag(c)


COMMANDS = {
    "plant": cmd_plant,
    "activate": cmd_activate,
    "evaluate": cmd_evaluate,
    "finetune": cmd_finetune,
    "detect": cmd_detect,
    "certify": cmd_certify,
}


def run_command(args) -> int:
    """Run a workflow subcommand, mapping errors to exit codes (2 bad input, 1 failure).

    One line on stderr per error; the traceback too with `--debug` (or `JAXBD_TRACEBACK=1`).
    """
    debug = bool(getattr(args, "debug", False) or os.environ.get("JAXBD_TRACEBACK"))
    with quiet_callbacks(not debug):
        try:
            return COMMANDS[args.command](args)
        except (Exception, KeyboardInterrupt) as e:
            return report_error(e, args.command, args=args, debug=debug)
