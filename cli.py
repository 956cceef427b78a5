"""sevensa platform CLI (the commands live in `infra/cli/`): `python cli.py --help`."""

import atexit
import gc
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def exit_without_teardown(command: Callable[[], object]) -> None:
    """Run `command` (which ends with SystemExit), then end the process without the interpreter's
    teardown, which frees every object and module one by one (~0.03 s of a plan) for the OS to free.

    Only once its output is out: the exit hooks have run (logging's flush among them), stdout and
    stderr are flushed here (files the command wrote are closed by then), and no other thread
    runs. Anything else (an exit with a message, a failed flush, an uncaught error) ends as before.
    """
    try:
        command()
    except SystemExit as done:
        code = 0 if done.code is None else done.code
        if not isinstance(code, int) or threading.active_count() != 1:
            raise
        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:
            raise done from None
        os._exit(code)


if __name__ == "__main__":
    # The commands' modules (and the SDKs they import) live as long as the process: no collection
    # while they load (some 240 would each walk what loaded so far), then out of every later one.
    gc.disable()

from infra.cli.main import app, only  # noqa: E402

if __name__ == "__main__":
    gc.freeze()
    gc.enable()
    # One command, then the process ends: at exit, the interpreter's own full collections would
    # walk every object the command made (a plan's ~0.4 s of CPU) only for the OS to free them.
    # Frozen objects are left out of them (run before the interpreter's teardown, as atexit is).
    atexit.register(gc.freeze)
    if sys.argv[1:2] == ["plan"]:
        exit_without_teardown(only("plan"))
    else:
        app()
