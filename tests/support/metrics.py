"""Reading a server's sys/metrics with prometheus-client's own text parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from support.processes import http


def scrape(server, token: str | None = "") -> dict[str, dict[tuple, float]]:
    """{sample name: {sorted label items: value}} from the Prometheus text format."""
    status, _, text = http(server, "GET", "sys/metrics?format=prometheus", token=token)
    assert status == 200, text
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    """One sample's value (0 when absent)."""
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def total(samples, name: str, **labels) -> float:
    """The sum of a metric's samples that carry (at least) these labels."""
    wanted = set(labels.items())
    return sum(v for key, v in samples.get(name, {}).items() if wanted <= set(key))
