"""Start the VGG19 bot: `python run_vgg.py` (settings: README, section "Bots")."""
import sys

from bots import VggBot
from bots.app import main

if __name__ == "__main__":
    sys.exit(main(VggBot))
