"""The `Dataset` record: a train/test split with its labels and normalisation."""

import dataclasses

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A train/test split.

    **Fields:**

    - `x_train`, `x_test`: float arrays `(n, d)`.
    - `y_train`, `y_test`: `±1.0` (two classes, same dtype as `x`) or int32 `0..c-1`.
    - `name`: where the data came from.
    - `classes`: the original class labels, in the order that defines the new labels (for two
      classes: `classes[0] -> -1`, `classes[1] -> +1`).
    - `mean`, `scale`: the normalisation fitted on the training part (`x = (raw - mean) / scale`;
      for `"unit_interval"`: the training minimum and range, then clipped to [0, 1]).
    """

    x_train: Float[Array, "n_train d"]
    y_train: Array
    x_test: Float[Array, "n_test d"]
    y_test: Array
    name: str
    classes: tuple
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None

    def __post_init__(self):
        # Shapes and dtypes only (cheap): the loaders build consistent datasets; this refuses
        # a hand-made one whose parts do not fit together.
        for xn, yn in (("x_train", "y_train"), ("x_test", "y_test")):
            xa, ya = getattr(self, xn), getattr(self, yn)
            dtype = getattr(xa, "dtype", None)
            if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
                raise ValueError(f"`{xn}` must be a floating array, got dtype {dtype}.")
            if xa.ndim != 2:
                raise ValueError(f"`{xn}` must have shape (n, d), got {xa.shape}.")
            if getattr(ya, "ndim", None) != 1 or ya.shape[0] != xa.shape[0]:
                raise ValueError(
                    f"`{yn}` must be a vector of {xa.shape[0]} labels (one per row of `{xn}`), "
                    f"got shape {getattr(ya, 'shape', None)}."
                )
        if self.x_test.shape[1] != self.x_train.shape[1]:
            raise ValueError(
                f"`x_test` has {self.x_test.shape[1]} features but `x_train` has "
                f"{self.x_train.shape[1]}."
            )

    @property
    def dim(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def is_binary(self) -> bool:
        return self.num_classes == 2

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, train={tuple(self.x_train.shape)}, "
            f"test={tuple(self.x_test.shape)}, classes={self.classes})"
        )
