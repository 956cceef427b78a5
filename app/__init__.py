"""PSRA origin calculation: the rules-of-origin engine (app.engine), its rules data (app/data), the
FastAPI service (app.api) with its persistence (app.db), and the `origin` CLI (app.cli)."""
