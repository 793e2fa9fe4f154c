"""Tables from records: a list of dicts and a mapping `column header -> key` (or a function
of the record), so an experiment names its columns once instead of building rows by hand."""

from collections.abc import Callable, Mapping, Sequence

from ._core import Table


def table(
    title: str, records: Sequence[Mapping], columns: Mapping[str, str | Callable], note: str = ""
) -> Table:
    """A [`Table`][] with one row per record; a column is a record key or `f(record)`."""
    get = lambda r, c: c(r) if callable(c) else r[c]  # noqa: E731
    return Table(
        title, list(columns), [[get(r, c) for c in columns.values()] for r in records], note
    )
