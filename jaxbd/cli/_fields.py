"""A registered class's fields as CLI flags (constructions for `plant`, distinguishers for
`detect`): the flag's type from the field's annotation, its help from the class docstring's
`**Fields:**` list, its default from the field; a flag shared by several classes says which."""

import dataclasses
import re
import types
import typing
from collections.abc import Callable

from ._args import number
from ._errors import UsageError, flag


@dataclasses.dataclass(frozen=True)
class Param:
    """One flag: argparse `dest`, `type=` (ranges are the class's own checks), default, help."""

    flag: str
    type: Callable
    default: object
    help: str
    required: bool = False


_SCALARS = {int: number(int), float: number(float), str: str}
_NAMES = {"int": int, "float": float, "str": str}


def _scalar_type(annotation, default):
    """The parser of a scalar field (`int`, `float`, `str`, or one of them `| None`), else None
    (a field with no flag: tuples, booleans, nested modules keep their defaults)."""
    t = annotation
    if isinstance(t, str):  # a plugin written with `from __future__ import annotations`
        parts = [p.strip() for p in t.split("|") if p.strip() != "None"]
        t = _NAMES.get(parts[0]) if len(parts) == 1 else None
    elif typing.get_origin(t) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(t) if a is not type(None)]
        t = args[0] if len(args) == 1 else None
    if t not in _SCALARS and default is not None and not isinstance(default, bool):
        t = type(default) if type(default) in _SCALARS else None
    return _SCALARS.get(t)


def field_help(doc: str, name: str) -> str:
    """The parenthesised phrase after `name` in the class docstring's **Fields:** list (or
    the name)."""
    m = re.search(r"`" + re.escape(name) + r"`\s*\(", doc)
    if not m:
        return name.replace("_", " ")
    depth, i = 1, m.end()
    while i < len(doc) and depth:
        depth += {"(": 1, ")": -1}.get(doc[i], 0)
        i += 1
    return " ".join(doc[m.end() : i - 1].split())


def field_params(cls, skip=()) -> tuple[Param, ...]:
    """The flags of `cls`'s scalar dataclass fields (not those named in `skip`)."""
    out = []
    for f in dataclasses.fields(cls):
        if f.name in skip or f.name.startswith("_"):
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        parse = _scalar_type(f.type, default)
        if parse is not None:
            doc = field_help(cls.__doc__ or "", f.name)
            out.append(Param(f.name, parse, default, doc, required))
    return tuple(out)


def add_param_flags(parser, title: str, owners: dict[str, tuple[Param, ...]]) -> None:
    """One flag per field name over every owner (`name -> params`); its help names the owners
    it applies to, with each one's default."""
    g = parser.add_argument_group(title)
    seen: dict[str, list] = {}
    for owner, params in owners.items():
        for prm in params:
            seen.setdefault(prm.flag, []).append((owner, prm))
    for dest, uses in seen.items():
        helps = "; ".join(
            f"{n}: {prm.help}"
            + (" (required)" if prm.required else "")
            + ("" if prm.default is None else f" (default: {prm.default})")
            for n, prm in uses
        )
        g.add_argument(flag(dest), dest=dest, type=uses[0][1].type, help=helps)


def given_params(args, chosen: dict[str, tuple[Param, ...]], owners, what: str) -> dict:
    """The values of the flags the `chosen` owners take (`{}` per owner, defaults filled in).

    A flag given for no chosen owner is refused, never ignored; a required one that is missing
    is refused naming the owner.
    """
    own = {p.flag for params in chosen.values() for p in params}
    uses: dict[str, list[str]] = {}
    for owner, params in owners.items():
        for p in params:
            uses.setdefault(p.flag, []).append(owner)
    for dest, names in uses.items():
        if dest not in own and getattr(args, dest, None) is not None:
            raise UsageError(f"{flag(dest)}: does not apply to {what} (only to "
                             f"{', '.join(names)}).")  # fmt: skip
    out = {}
    for owner, params in chosen.items():
        values = {}
        for p in params:
            v = getattr(args, p.flag, None)
            if v is None and p.required:
                raise UsageError(f"{flag(p.flag)}: {owner} needs {flag(p.flag)} ({p.help}).")
            values[p.flag] = p.default if v is None else v
        out[owner] = values
    return out
