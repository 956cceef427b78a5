"""sevensa platform CLI (the commands live in `infra/cli/`): `python cli.py --help`."""

import atexit
import gc
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from infra.cli.main import app  # noqa: E402

if __name__ == "__main__":
    # One command, then the process ends: at exit, the interpreter's own full collections would
    # walk every object the command made (a plan's ~0.4 s of CPU) only for the OS to free them.
    # Frozen objects are left out of them (run before the interpreter's teardown, as atexit is).
    atexit.register(gc.freeze)
    app()
