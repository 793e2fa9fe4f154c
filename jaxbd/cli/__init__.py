"""The `jaxbd` command: `reproduce`, `list`, `run`, and the workflow `plant`, `activate`,
`evaluate`, `finetune`, `detect`, `certify`.

Files move between the stages through [`jaxbd.io`][] only: models as `.jaxbd` files, backdoor
keys as `.key` files (mode 0o600), inputs and outputs as `.npz` (array `x`) or `.npy`, each
written atomically. Constructions come from the `jaxbd.constructions` registry (their fields
are `plant`'s flags), distinguishers from the `jaxbd.detect` registry (`detect --tests`), so a
registered class — the papers' or a `--plugin`'s — reaches every command with no other change.

Exit codes: 0 success; 1 a run-time failure (an experiment or a workflow command failed: the
report is still written and names it); 2 bad usage or bad input (unknown experiment, a bad flag
value, a missing or malformed file, a model and a key that do not belong together). Every error
is one line on stderr naming the flag or file; `jaxbd --debug ...` adds the traceback. Warnings
are one `[jaxbd] warning: ...` line each.

Layout (one concept per private file): `_main` (`main`), `_parser` (the command table),
`_args` (flag types, help formatter), `_fields` (a class's fields as flags), `_errors`,
`_files`, `_data`, `_constructions` (the registry view), and one file per command.
"""

from ._certify import certify as certify
from ._data import model_data_spec as model_data_spec
from ._detect import detect as detect, first_layer as first_layer
from ._errors import (
    EXIT_FAILURE as EXIT_FAILURE,
    EXIT_OK as EXIT_OK,
    EXIT_USAGE as EXIT_USAGE,
    RunFailure as RunFailure,
    UsageError as UsageError,
    classify as classify,
    innermost as innermost,
    quiet_callbacks as quiet_callbacks,
)
from ._evaluate import evaluate as evaluate
from ._files import (
    KEY_FILE as KEY_FILE,
    MODEL_FILES as MODEL_FILES,
    TEST_FILE as TEST_FILE,
    WRONG_KEY_FILE as WRONG_KEY_FILE,
    read_inputs as read_inputs,
)
from ._main import main as main
from ._parser import build_parser as build_parser


__all__ = ["main", "build_parser"]
