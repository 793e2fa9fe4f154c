"""The CLI's files: models and keys through `jaxbd.io`, examples as `.npz` / `.npy`, JSON.

Every file the CLI writes is written atomically ([`jaxbd.io.write_atomic`][]: a temp file in the
target's folder, fsync, rename): a failed write leaves the previous file intact.
"""

import contextlib
import io as _bytes_io
import json
import os

import numpy as np

from .. import io
from ._errors import RunFailure, UsageError, squash


MODEL_FILES = {"honest": "honest.jaxbd", "backdoored": "backdoored.jaxbd"}
KEY_FILE, WRONG_KEY_FILE, TEST_FILE = "backdoor.key", "wrong.key", "test_inputs.npz"


def npz_bytes(**arrays) -> bytes:
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


def check_out_dir(path: str, flag: str = "--out") -> None:
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{flag} {path!r}: exists and is not a directory.")


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


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "shape") and hasattr(v, "dtype"):  # numpy / jax arrays and scalars
        return _jsonable(np.asarray(v).tolist())
    return v


def write_json(path: str, obj, flag: str = "--json-out") -> str:
    text = json.dumps(_jsonable(obj), indent=2) + "\n"
    return write_file(path, text.encode("utf-8"), flag)


def print_table(rows: str, res: dict) -> None:
    """A Markdown table on stdout: one row per line `key: label` of `rows` whose key is in
    `res` (`None` prints as n/a)."""
    lines = ["| measurement | value |", "|---|---|"]
    for line in rows.strip().splitlines():
        k, text = (part.strip() for part in line.split(":", 1))
        if k in res:
            v = res[k]
            s = "n/a" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
            lines.append(f"| {text} | {s} |")
    print("\n".join(lines))


def finish(args, res: dict) -> int:
    """Write `res` to `--json-out` when given (and say where); exit code 0."""
    if getattr(args, "json_out", None):
        write_json(args.json_out, res)
        print(f"json: {args.json_out}")
    return 0


def _load(path: str, flag: str, load):
    if not os.path.exists(path):
        raise UsageError(f"{flag} {path!r}: no such file.")
    try:
        return load(path), io.read_header(path)
    except ValueError as e:
        raise UsageError(f"{flag}: {squash(e)}") from e


def load_model(path: str, flag: str):
    """`(model, header)` of a `.jaxbd` file; a bad file is a `UsageError` naming `flag`."""
    return _load(path, flag, io.load)


def load_key(path: str, flag: str = "--key"):
    """`(key, header)` of a `.key` file; a bad file is a `UsageError` naming `flag`."""
    return _load(path, flag, io.load_key)


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


def read_labels(path: str, n: int, flag: str = "--input"):
    """The optional array `y` of an inputs `.npz` (labels for certified accuracy), or None."""
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
    return y


def write_outputs(path: str, x: np.ndarray, flag: str = "--out") -> str:
    """Write examples to `.npy` (the array) or `.npz` (array `x`), atomically."""
    check_out_path(path, flag, (".npz", ".npy"))
    data = _npy_bytes(x) if path.endswith(".npy") else npz_bytes(x=np.asarray(x))
    return write_file(path, data, flag)
