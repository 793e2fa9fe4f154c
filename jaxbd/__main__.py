"""`python -m jaxbd ARGS` = `jaxbd ARGS`."""

import sys

from .cli import main


sys.exit(main())
