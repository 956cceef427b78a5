"""The live lab: the plan applied to a real Docker engine, with local images and live checks (issue 11)."""
