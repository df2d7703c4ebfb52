"""``python -m graphpool ...`` (also what ``torchrun -m graphpool`` runs)."""

import sys

from graphpool.cli import main

sys.exit(main())
