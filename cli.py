"""sevensa platform CLI (the commands live in `infra/cli/`): `python cli.py --help`."""

import atexit
import gc
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# No pydantic plugin observes the spec's models (none is a dependency): without this, building the
# first model reads the entry points of every installed distribution (~130) to look for one.
# An explicit PYDANTIC_DISABLE_PLUGINS in the environment still wins.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

if __name__ == "__main__":
    # The commands' modules (and the SDKs they import) live as long as the process: no collection
    # while they load (some 240 would each walk what loaded so far), then out of every later one.
    gc.disable()

PLAN = sys.argv[1:2] == ["plan"]
if PLAN:  # the plan command alone: without the operational commands' modules
    from infra.cli.plan_commands import only
else:
    from infra.cli.main import app

if __name__ == "__main__":
    gc.freeze()
    gc.enable()
    # One command, then the process ends: at exit, the interpreter's own full collections would
    # walk every object the command made (a plan's ~0.4 s of CPU) only for the OS to free them.
    # Frozen objects are left out of them (run before the interpreter's teardown, as atexit is).
    atexit.register(gc.freeze)
    if PLAN:
        only("plan")()
    else:
        app()
