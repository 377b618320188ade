import logging
import sys

from core.training.cli import main

logging.basicConfig(level=logging.WARNING)
sys.exit(main())
