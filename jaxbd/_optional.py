"""Optional dependencies, imported when first needed with an error that names the extra.

`fpylll` (LLL / BKZ lattice reduction) is the `lattice` extra: `pip install "jaxbd[lattice]"`.
It has no Windows wheel, so every other part of jaxbd works without it.
"""

import importlib


def fpylll(*names: str) -> tuple:
    """The attributes `names` of the `fpylll` module; `ImportError` naming the extra if missing.

    **Arguments:** `names`, e.g. `("LLL", "IntegerMatrix")`. **Returns:** a tuple of them.
    """
    try:
        module = importlib.import_module("fpylll")
    except ImportError as e:
        raise ImportError(
            "lattice reduction needs fpylll, an optional dependency of jaxbd: install it with "
            f'`pip install "jaxbd[lattice]"` (or `pip install fpylll cysignals`). ({e})'
        ) from e
    return tuple(getattr(module, name) for name in names)
