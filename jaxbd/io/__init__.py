"""Save and load models and backdoor keys: files are data, never code.

**What a file is.** A short binary prefix (magic bytes for a model or a key file, the format
version, the header's length and sha256), a JSON header (format, jaxbd version, construction,
hyperparameters, the object tree) and a [safetensors](https://huggingface.co/docs/safetensors)
payload holding the arrays (checksummed). Round trips are bit-exact. See `_format.py` for the
layout.

**Safety model.**

- *Nothing in a file is resolved by import path.* Classes and functions are named by their
  **registry** name and looked up in an explicit registry of exact objects: jaxbd's own model
  and key classes, equinox's `eqx.nn` layers, pure activation functions (`jax.nn`, elementwise
  `jax.numpy`), and what you register by passing the object itself —
  [`register`][jaxbd.io.register]`(MyModel)`, or `load(path, classes=(MyModel,))` for one call.
  A name that is not registered is refused before anything is imported or called; no pickle is
  ever used (the arrays are safetensors, the rest JSON).
- *Objects are rebuilt through their constructors*, so each class's `__check_init__` (and
  converters, `__post_init__`) validates what the file holds: a crafted `RFFClassifier` with
  `bandwidth = 0` is refused like a hand-built one. What a file could not give back is refused
  when saving: a Flax NNX module, or a linen module without its variables (save the pair
  `(module, variables)`; load it with `classes=(YourModule,)`).
- *Malformed files are refused with one-line `ValueError`s*: truncation, checksum mismatch,
  unknown version, a key file opened as a model, nesting deeper than 100 levels, header/payload
  shape or dtype mismatch, unknown dtypes or entry types.

**Keys apart from models** (GKVZ §5: whoever holds the key opens the backdoor). [`save`][] refuses,
naming the field, any tree holding a backdoor key (by type: `jaxbd.keys.AbstractBackdoorKey`),
a `cryptography` private key, or private-key *material* anywhere — in a string, bytes value,
array leaf, hyperparameter or the construction name: PEM, DER, or the raw/hex/base64 bytes of any
signing key this process has seen (see `_secrets.py` and [`register_secret`][]). Keys go to their
own files with [`save_key`][], created with mode `0o600`.

**Atomic writes.** Every file is written whole to an anonymous temporary file in the target's
directory, fsync-ed and renamed over the target ([`write_atomic`][]): a failure or a kill leaves
the previous file untouched and no temporary file behind.

**Old files.** Format 1 (jaxbd 0.1) is read through the same registry; newer formats are refused
with a request to upgrade.
"""

import os
from collections.abc import Sequence
from typing import Any, TypeVar, overload

from ..keys import is_backdoor_key
from ._atomic import write_atomic
from ._format import decode, encode
from ._header import FORMAT_VERSION, MAGIC_KEY, MAGIC_MODEL, read
from ._registry import extra_from, register, registered
from ._secrets import register_secret


__all__ = [
    "FORMAT_VERSION",
    "save",
    "load",
    "save_key",
    "load_key",
    "read_header",
    "register",
    "registered",
    "register_secret",
    "write_atomic",
    "is_backdoor_key",
]


def _version() -> str:
    from .. import __version__

    return __version__


def _read_file(path) -> tuple[str, bytes]:
    try:
        path = os.fspath(path)
    except TypeError:
        raise ValueError(f"`path` must be a file name, got {path!r}.") from None
    try:
        with open(path, "rb") as f:
            return path, f.read()
    except OSError as e:
        raise ValueError(f"cannot read {path!r}: {e.strerror or e}.") from None


_T = TypeVar("_T")


def _expected(obj, expect, path: str, what: str):
    """`obj` must be an instance of `expect` (when given): `ValueError` naming both."""
    if expect is None:
        return obj
    if not isinstance(expect, type):
        raise ValueError(f"`expect` must be a class, got {expect!r}.")
    if not isinstance(obj, expect):
        raise ValueError(
            f"{path}: the {what} is a {type(obj).__qualname__}, not the expected "
            f"{expect.__qualname__}."
        )
    return obj


def _extra(classes, allow_modules):
    if allow_modules is not None:
        raise ValueError(
            "`allow_modules` was removed: jaxbd files never name code by import path. Pass the "
            "classes themselves: jaxbd.io.load(path, classes=(MyModel,)), or call "
            "jaxbd.io.register(MyModel)."
        )
    return extra_from(classes)


def _write(path, obj, magic: bytes, construction, hyperparameters, mode: int) -> str:
    path = os.fspath(path)
    data = encode(
        obj,
        magic=magic,
        construction=construction,
        hyperparameters=hyperparameters,
        version=_version(),
    )
    return write_atomic(path, data, mode=mode)


def _read(path, magic: bytes, classes, expect, allow_modules):
    extra = _extra(classes, allow_modules)
    path, data = _read_file(path)
    version, header, payload = read(data, path, magic)
    obj = decode(version, header, payload, path, is_key=magic == MAGIC_KEY, extra=extra)
    return _expected(obj, expect, path, "backdoor key" if magic == MAGIC_KEY else "model")


def save(path, model, *, construction: str | None = None, hyperparameters: dict | None = None):
    """Save a model (an `eqx.Module` or dataclass tree of arrays and static values).

    **Arguments:**

    - `path`: the file to write (suggested suffix `.jaxbd`); replaced atomically.
    - `model`: the model; must not hold a backdoor key or any private-key material.
    - `construction`: a short name recorded in the header (e.g. `"rff"`).
    - `hyperparameters`: JSON-able dict recorded in the header.

    **Returns:** `path` (as a string). Raises `ValueError` naming the field for anything that
    cannot be saved exactly or that a file could not give back (a lambda, a local class, a Flax
    NNX module, a Flax linen module without its variables: save the pair `(module, variables)`),
    or must not be saved. Functions inside the model must be registered
    ([`register`][jaxbd.io.register]).
    """
    return _write(path, model, MAGIC_MODEL, construction, hyperparameters, mode=0o666)


@overload
def load(
    path, *, classes: Sequence | None = None, expect: type[_T], allow_modules: None = None
) -> _T: ...
@overload
def load(
    path, *, classes: Sequence | None = None, expect: None = None, allow_modules: None = None
) -> Any: ...
def load(path, *, classes: Sequence | None = None, expect: type | None = None, allow_modules=None):
    """Load a model written by [`save`][]; no skeleton needed.

    **Arguments:**

    - `path`: the file.
    - `classes`: your own classes (and functions) the file may name, as the objects
      themselves, for this call only; jaxbd's and equinox's are always known.
    - `expect`: optional class the loaded model must be an instance of (`ValueError`
      otherwise); type checkers then see `load(...)` as that class (without it: `Any`).
      It is only checked, not registered: your own classes still go in `classes`.
    - `allow_modules`: removed (named code by import path); passing it raises `ValueError`.

    Raises `ValueError` for truncated, corrupted, crafted, wrong-version or wrong-kind files,
    for names that are not registered and for a model that is not an `expect`.
    """
    return _read(path, MAGIC_MODEL, classes, expect, allow_modules)


def save_key(path, key, *, construction: str | None = None, hyperparameters: dict | None = None):
    """Save a backdoor key to its own file, created with mode `0o600` (never chmod-ed later).

    Private keys from `cryptography` inside `key` are written as PEM (PKCS8, unencrypted) into
    the key file's header. **Returns:** `path` (as a string).
    """
    return _write(path, key, MAGIC_KEY, construction, hyperparameters, mode=0o600)


@overload
def load_key(
    path, *, classes: Sequence | None = None, expect: type[_T], allow_modules: None = None
) -> _T: ...
@overload
def load_key(
    path, *, classes: Sequence | None = None, expect: None = None, allow_modules: None = None
) -> Any: ...
def load_key(
    path, *, classes: Sequence | None = None, expect: type | None = None, allow_modules=None
):
    """Load a backdoor key written by [`save_key`][] (same checks and `expect` as [`load`][])."""
    return _read(path, MAGIC_KEY, classes, expect, allow_modules)


def read_header(path) -> dict:
    """The verified header of a model or key file (kind, construction, hyperparameters, ...).

    Both checksums are verified; nothing is rebuilt. `header["format"]` is `"jaxbd-model"` or
    `"jaxbd-backdoor-key"`. The object tree (and with it a key file's PEM) is not returned.
    """
    path, data = _read_file(path)
    _, header, _ = read(data, path, MAGIC_KEY if data[:8] == MAGIC_KEY else MAGIC_MODEL)
    header = dict(header)
    header.pop("tree", None)
    return header


def allow_module(prefix) -> None:
    """Removed: files never name code by import path. Use [`register`][jaxbd.io.register]."""
    raise ValueError(
        "jaxbd.io.allow_module was removed: files never name code by import path. Register the "
        "classes themselves: jaxbd.io.register(MyModel) or jaxbd.io.load(path, classes=(...))."
    )
