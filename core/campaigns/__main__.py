import sys

from core.campaigns.cli import main

sys.exit(main())
