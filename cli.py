"""sevensa platform CLI (the commands live in `infra/cli/`): `python cli.py --help`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from infra.cli.main import app  # noqa: E402

if __name__ == "__main__":
    app()
