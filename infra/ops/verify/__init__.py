"""Post-deploy verification of the VPS: a testinfra suite run over SSH (paramiko backend)
for what only the host can tell, plus HTTP/TLS probes from outside for what the world sees.

`runner.run_verify` runs `checks.py` with pytest and reports a table and JUnit XML.
"""
