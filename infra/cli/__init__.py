"""The command-line layer behind `cli.py`: the only package that imports typer and rich.
Commands parse options, call the stages, draw what they return (`views`, `plan_view`) and map
errors to one line and an exit code (0 ok, 1 findings or failure, 2 usage or environment)."""
