"""Pulumi entry point: load the spec from this stack's config and build the platform."""

from infra.program import main

main()
