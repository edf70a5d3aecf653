"""`python -m transfer CONTENT STYLE -o OUT [options]`: see `transfer.cli`."""
import sys

from transfer.cli import main

if __name__ == "__main__":
    sys.exit(main())
