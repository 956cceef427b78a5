"""The CrossGuard policy pack of the platform (see PulumiPolicy.yaml)."""
