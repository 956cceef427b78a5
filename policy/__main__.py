"""Policy pack entry point: serve the platform's invariants to the Pulumi engine.

The engine runs this file from the pack's directory; the project root goes on the path so
the rules are imported from `infra.audit`, the same code `cli.py audit` runs.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack

from policy.policies import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES)
