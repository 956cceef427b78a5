"""Operations on a real platform. Takes a stack (spec and plan) and acts: deploy through the
Automation API (`deploy`), the auditor's export (`export`), OpenBao's first initialisation and
unseal (`bootstrap`), live-vs-declared drift (`drift`), post-deploy checks (`verify`) and
the live lab on a local Docker engine (`lab`). Returns data; the CLI draws it."""
