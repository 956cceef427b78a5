"""The backup container: restic snapshots of every data store, OpenBao and the named volumes.

Dumps stream into `restic backup --stdin-from-command` (`datasets`), one repository per
environment, tagged per service and data set; retention is `restic forget --prune`, the
off-site copy is `restic copy` to a second repository (`jobs`); `restic check` and a
restore drill into throw-away databases verify it (`drill`), all on croniter schedules
(`schedule`) with Prometheus metrics (`metrics`). Passwords come from OpenBao as files
(`credentials`). Restores are plain `restic` commands (README, Backups).
"""
