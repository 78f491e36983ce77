import sys

from jukicard.cli.main import main

sys.exit(main())
