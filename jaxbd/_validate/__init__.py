"""Input validation shared by every public function: one layer, host and traced.

Every check names the argument it rejects. Static facts (shape, dtype, Python numbers) are
checked on the host at call or trace time and raise `ValueError`. Values are checked on the
host when concrete (`ValueError`) and with `eqx.error_if` when traced (under `jit`/`vmap`:
a `RuntimeError` carrying the same message when the program runs). The traced forms return
the checked value, which the caller must use (that is how `eqx.error_if` attaches the check).

Split by idea behind this one surface: `_numbers` (numbers, concrete or traced), `_integers`
(static integers), `_arrays` (floating dtype, finite values, data shapes), `_labels` (labels
and targets of a task), `_fields` (fields checked in `__check_init__`), `_keys` (PRNG keys
and a construction's objects), `_runtime` (the traced form of every value check:
`runtime_check`, and `checked_jit` for the library's own compiled programs, whose checks are
`checkify` error values instead of host callbacks, so JAX's persistent cache can keep them).
"""

from ._arrays import (
    check_example as check_example,
    check_finite as check_finite,
    check_floating as check_floating,
    check_host_floating as check_host_floating,
    check_matrix as check_matrix,
    float_dtype as float_dtype,
    output_shape as output_shape,
)
from ._fields import (
    check_array_field as check_array_field,
    check_static_number as check_static_number,
    static_number as static_number,
)
from ._integers import (
    check_int_range as check_int_range,
    sequence_of_ints as sequence_of_ints,
)
from ._keys import as_key as as_key, check_instance as check_instance
from ._labels import (
    check_labels as check_labels,
    check_target as check_target,
    check_xy as check_xy,
)
from ._numbers import (
    check_positive as check_positive,
    check_range as check_range,
    check_scalar as check_scalar,
    is_concrete as is_concrete,
    positive_numbers as positive_numbers,
    real_numbers as real_numbers,
)
from ._runtime import (
    any_traced as any_traced,
    checked_jit as checked_jit,
    runtime_check as runtime_check,
)
