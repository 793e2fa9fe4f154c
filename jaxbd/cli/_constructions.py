"""The CLI's view of the construction registry (`jaxbd.constructions`).

Every registered class — the papers' and a user's `--plugin` — gets plant / activate / evaluate
with its own fields as flags and its own defaults, so the library and the CLI cannot drift
apart. `plant` records a random *plant id* in the headers of the models and keys it writes;
`evaluate` refuses a model and a key whose construction or plant id differ.
"""

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping

from .. import constructions
from ._args import label
from ._data import hyper
from ._errors import UsageError, flag, squash
from ._fields import Param, field_params
from ._files import load_key


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
class Construction:
    """The CLI's view of one registered construction class."""

    cls: type

    name = property(lambda self: self.cls.name)
    normalize = property(lambda self: self.cls.normalize)
    summary = property(lambda self: f"{self.cls.title} ({self.cls.source})")

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
        return any(p.flag == "strength" for p in self.params)

    @property
    def params(self) -> tuple[Param, ...]:
        out = field_params(self.cls)
        if self.targeted:
            out += (Param("target", label, 1.0, "default target label recorded in the key"),)
        return out

    def build(self, p: dict):
        names = {f.name for f in dataclasses.fields(self.cls)}
        return self.cls(**{k: v for k, v in p.items() if k in names and v is not None})

    def precheck(self, ds, p) -> None:
        """The hyperparameters and the data suit each other (before any work); `p["target"]`
        checked against the task."""
        try:
            c = self.build(p)
        except ValueError as e:  # a hyperparameter out of range: its `name` -> its flag
            raise UsageError(squash(str(e))) from e
        try:
            c.check_data(ds.x_train, ds.y_train)
        except ValueError as e:  # the data does not suit the hyperparameters
            msg = squash(str(e))
            names = re.findall(r"`(\w+)`", msg)
            own = {p.flag for p in self.params}
            where = flag(names[0]) if names and names[0] in own else "--data"
            raise UsageError(f"{where}: {msg}") from e
        if self.targeted:
            p["target"] = check_label(p["target"], binary=ds.is_binary, num_classes=ds.num_classes)

    def plant(self, key, ds, p):
        return self.build(p).plant(key, ds.x_train, ds.y_train)

    def wrong_key(self, key, ds, p, planted):
        return self.build(p).wrong_key(key, ds.x_train, ds.y_train, planted)

    def activation(self, key, opts) -> Callable:
        """One example -> activated example (every construction's activation is traceable)."""
        p = dict(opts.get("params") or {})
        if self.uses_strength and opts.get("strength") is not None:
            p["strength"] = opts["strength"]
        return lambda x: self.build(p).activate(key, x, opts.get("target"))

    def target(self, opts):
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


class _Registry(Mapping):
    """`CONSTRUCTIONS`: a live view of the construction registry (plugins included)."""

    def __getitem__(self, name: str) -> Construction:
        return Construction(constructions.registry()[name])

    def __iter__(self) -> Iterator[str]:
        return iter(constructions.registry())

    def __len__(self) -> int:
        return len(constructions.registry())


CONSTRUCTIONS: Mapping[str, Construction] = _Registry()


def construction(name: str) -> Construction:
    if name not in CONSTRUCTIONS:
        raise UsageError(f"unknown construction {name!r}; known: {', '.join(CONSTRUCTIONS)}.")
    return CONSTRUCTIONS[name]


def key_and_construction(path: str, flag: str = "--key"):
    """`(key, header, Construction)` of a `.key` file."""
    key, header = load_key(path, flag)
    name = header.get("construction")
    if not isinstance(name, str) or name not in CONSTRUCTIONS:
        raise UsageError(f"{flag} {path!r}: unknown construction {name!r} in its header.")
    return key, header, construction(name)


def options(args, c: Construction, header: dict, key_flag: str = "--key") -> dict:
    """The activation options (strength, target) from the flags, else the key's header."""
    h = hyper(header)
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
    opts = {"strength": strength, "target": None, "input_dim": h.get("input_dim")}
    if opts["strength"] is None:
        opts["strength"] = h.get("strength", 1.0)
    binary, num_classes = h.get("binary"), h.get("num_classes")
    recorded = f"{key_flag} (its recorded target)"
    if c.targeted:
        t = target if target is not None else h.get("target")
        if t is None:
            raise UsageError("--target: this backdoor is targeted: give --target LABEL.")
        where = "--target" if target is not None else recorded
        opts["target"] = check_label(t, binary=binary, num_classes=num_classes, flag=where)
    opts["params"] = h.get("params") if isinstance(h.get("params"), dict) else {}
    if c.key_fixes_target and h.get("target") is not None:
        opts["target_from_key"] = check_label(
            h["target"], binary=binary, num_classes=num_classes, flag=recorded
        )
    return opts


def check_pair(model_header: dict, key_header: dict, *, model: str, key: str,
               same_plant: bool = True) -> None:  # fmt: skip
    """Refuse a model and a key that do not belong together (DESIGN.md §3): different
    constructions, different plant ids (recorded by `plant`), different input sizes."""
    mc, kc = model_header.get("construction"), key_header.get("construction")
    if mc is not None and kc is not None and mc != kc:
        raise UsageError(f"{key}: a {kc} key does not belong to the {mc} model {model}.")
    mh, kh = hyper(model_header), hyper(key_header)
    mid, kid = mh.get("plant_id"), kh.get("plant_id")
    if same_plant and mid is not None and kid is not None and mid != kid:
        raise UsageError(
            f"{key}: this key was planted with another model than {model} (plant ids {kid} and "
            f"{mid}); give the key written with the model."
        )
    md, kd = mh.get("input_dim"), kh.get("input_dim")
    if md is not None and kd is not None and md != kd:
        raise UsageError(f"{key}: the key is for {kd} features, the model {model} takes {md}.")
