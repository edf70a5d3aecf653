"""Start the full bot (VGG19 and ResNet50, side-by-side comparison, SRGAN x4 upscaling): `python run_full.py`.

Settings: README, section "Bots".
"""
import sys

from bots import FullBot
from bots.app import main

if __name__ == "__main__":
    sys.exit(main(FullBot))
