"""`python -m jaxbd.cli ARGS` = `jaxbd ARGS`."""

import sys

from . import main


sys.exit(main())
