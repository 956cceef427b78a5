"""Pulumi entry point: load the spec from this stack's config and build the platform."""

from infra.spec.load import from_pulumi_config
from stacks import build_platform

build_platform(from_pulumi_config())
