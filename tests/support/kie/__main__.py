"""``python -m tests.support.kie --port PORT --log FILE``: the kie.ai fake as a process (see server.py)."""

import sys

from .server import main

sys.exit(main())
