"""Nightly encrypted backups of the platform's data stores, OpenBao data and named volumes.

Every dump is streamed straight into an encrypting writer (`crypto`), so no plaintext
dump touches the disk; a run directory per night holds the ciphertexts and a manifest,
old runs are pruned after `retention_days` (`retention`), and a run can be copied to an
S3-compatible bucket (`offsite`). `python -m platform_backup` is the CLI.
"""
