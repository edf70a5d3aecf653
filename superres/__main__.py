"""`python -m superres IN -o OUT [--tile N]`: see `superres.cli`."""
import sys

from superres.cli import main

sys.exit(main())
