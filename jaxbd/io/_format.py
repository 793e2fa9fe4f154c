"""The jaxbd file format (version 2): describe a tree as JSON + arrays, and rebuild it safely.

```
magic (8 bytes)  b"JAXBD\\x00MD" (model) or b"JAXBD\\x00KY" (backdoor key)
version (uint16, big endian)          FORMAT_VERSION
header length (uint32, big endian)
sha256 of the header (32 bytes)
header (UTF-8 JSON)                   format, versions, construction, hyperparameters, the tree
payload                               a safetensors blob of the array leaves ("0", "1", ...)
```

The tree describes each `eqx.Module` / dataclass / NamedTuple by its **registry name** and one
description per field; each function (an activation) by its registry name; arrays by index into
the payload (with shape and dtype, checked against the payload); scalars, strings and bytes
inline (floats as exact hex). Rebuilding looks every name up in the registry (`_registry`): no
import, no attribute walk, no pickle. Objects are rebuilt through their constructors when the
constructor takes exactly the fields (so `__post_init__`, converters and `__check_init__` run);
otherwise field by field, after which every `__check_init__` of the class's MRO is run, as
equinox does after a custom `__init__`.

Format 1 files (jaxbd 0.1) are read through the same registry (their module + qualname pairs are
registry names); their payload was `equinox.tree_serialise_leaves` (`numpy.load` without pickle).

The format is split by idea: `_header` (the framing and its checks), `_arrays` (the dtype table
and the payload's arrays), `_describe` (object -> JSON + arrays), `_build` (JSON + arrays ->
object); this module puts them together.
"""

import hashlib

from . import _secrets
from ._arrays import arrays_v1, arrays_v2, check_meta
from ._build import Builder
from ._describe import Describer, jsonable
from ._header import FORMAT_VERSION, KIND_NAME, MAGIC_KEY, frame


def encode(obj, *, magic: bytes, construction, hyperparameters, version: str) -> bytes:
    """The bytes of a model (`MAGIC_MODEL`) or key (`MAGIC_KEY`) file holding `obj`."""
    from safetensors.numpy import save as st_save

    is_key = magic == MAGIC_KEY
    if construction is not None:
        if not isinstance(construction, str) or len(construction) > 200:
            raise ValueError(
                f"`construction` must be a short string or None, got {construction!r:.80}."
            )
        if not is_key:
            _secrets.check_model_value(construction, "`construction`")
    hyper = jsonable(hyperparameters or {}, "`hyperparameters`", scan=not is_key)
    if not isinstance(hyper, dict):
        raise ValueError("`hyperparameters` must be a dict.")
    describer = Describer(is_key_file=is_key)
    tree = describer.describe(obj, "key" if is_key else "model")
    payload = st_save({str(i): a for i, a in enumerate(describer.arrays)})
    header = {
        "format": "jaxbd-" + KIND_NAME[magic],
        "format_version": FORMAT_VERSION,
        "jaxbd_version": version,
        "construction": construction,
        "hyperparameters": hyper,
        "classes": sorted(describer.classes),
        "dtypes": sorted({m["dtype"] for m in describer.array_meta}),
        "arrays": describer.array_meta,
        "payload_bytes": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "tree": tree,
    }
    return frame(magic, header, payload)


def decode(version: int, header: dict, payload: bytes, path: str, *, is_key: bool, extra: dict):
    """Rebuild the object of a file whose framing `_header.read` has checked."""
    metas = check_meta(header.get("arrays"), path)
    arrays = (arrays_v1 if version == 1 else arrays_v2)(payload, metas, path)
    builder = Builder(arrays, metas, extra, is_key, version)
    try:
        return builder.build(header.get("tree"), "key" if is_key else "model")
    except (KeyError, TypeError, IndexError, AttributeError, RecursionError, OverflowError) as e:
        # Only a hand-crafted file gets here (the checksums matched): say so, never crash.
        raise ValueError(f"{path!r}: malformed header ({type(e).__name__}: {e}).") from None
    except ValueError as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(repr(path)) else f"{path!r}: {msg}") from None
