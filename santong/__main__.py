"""python -m santong."""

import sys

from santong.cli import main

sys.exit(main())
