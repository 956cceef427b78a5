"""`labelled` keeps each labelled series' child once per process; counts land where `labels()` puts them."""

from __future__ import annotations

from prometheus_client import REGISTRY

from app.metrics import CACHE_REQUESTS, labelled


def test_labelled_is_the_labels_child_and_counts_into_its_series():
    labels = {"family": "labelled_test", "result": "hit"}
    before = REGISTRY.get_sample_value("psra_cache_requests_total", labels) or 0.0
    child = labelled(CACHE_REQUESTS, "labelled_test", "hit")
    assert child is CACHE_REQUESTS.labels(family="labelled_test", result="hit")
    assert labelled(CACHE_REQUESTS, "labelled_test", "hit") is child
    child.inc()
    labelled(CACHE_REQUESTS, "labelled_test", "hit").inc()
    assert REGISTRY.get_sample_value("psra_cache_requests_total", labels) == before + 2
    assert REGISTRY.get_sample_value("psra_cache_requests_total", {"family": "labelled_test", "result": "miss"}) is None
