"""Start the ResNet50 bot: `python run_resnet.py` (settings: README, section "Bots")."""
import sys

from bots import ResNetBot
from bots.app import main

if __name__ == "__main__":
    sys.exit(main(ResNetBot))
