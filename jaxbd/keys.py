"""Backdoor keys: the secrets that open a backdoor, recognised by type.

Every construction's backdoor key subclasses [`AbstractBackdoorKey`][] (equinox's
abstract-or-final pattern: the construction's key class is final). `jaxbd.io` refuses to write
any instance of it into a model file, and a model file naming such a class is refused on load
(GKVZ §5: whoever holds the key can open the backdoor; DESIGN.md §3: a backdoor key is never
stored inside the model it opens). A user's own key class opts in by subclassing it too.
"""

import equinox as eqx


__all__ = ["AbstractBackdoorKey", "is_backdoor_key"]


class AbstractBackdoorKey(eqx.Module):
    """Base of every backdoor key (a pytree of arrays and static hyperparameters).

    Subclass it for your own construction's key; `jaxbd.io.save` then refuses to store it in a
    model file and `jaxbd.io.save_key` writes it to a key file (mode 0600).
    """


def is_backdoor_key(obj) -> bool:
    """True for an [`AbstractBackdoorKey`][] instance or subclass (or a class marked
    `__jaxbd_backdoor_key__ = True`, for key types that cannot subclass an `eqx.Module`)."""
    cls = obj if isinstance(obj, type) else type(obj)
    if isinstance(cls, type) and issubclass(cls, AbstractBackdoorKey):
        return True
    return bool(getattr(cls, "__jaxbd_backdoor_key__", False))
