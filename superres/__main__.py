"""`python -m superres IN -o OUT [--tile N]`: see `superres.cli`."""
import sys

from superres.cli import main

if __name__ == "__main__":
    sys.exit(main())
