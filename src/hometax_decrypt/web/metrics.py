"""Prometheus metrics: requests by endpoint/method/status, errors by code, latency.

Labels are route templates and codes only; nothing from the request body, header values or URL. With
several worker processes (gunicorn, uWSGI) ``PROMETHEUS_MULTIPROC_DIR`` names a directory shared by
the workers (and by both app server instances of the stack), and ``/metrics`` sums them."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "hometax_http_requests_total", "HTTP requests handled by the app", ["endpoint", "method", "status"]
)
ERRORS = Counter("hometax_http_errors_total", "Failed requests by error code", ["endpoint", "code"])
LATENCY = Histogram(
    "hometax_http_request_duration_seconds",
    "Time to handle a request",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DOCUMENTS = Counter(
    "hometax_documents_total", "Documents processed, by operation and outcome", ["operation", "outcome"]
)


def observe(endpoint: str, method: str, status: int, seconds: float, code: str | None) -> None:
    REQUESTS.labels(endpoint, method, str(status)).inc()
    LATENCY.labels(endpoint).observe(seconds)
    if code:
        ERRORS.labels(endpoint, code).inc()


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def worker_exit(pid: int) -> None:
    """Called by the app server when a worker exits (gunicorn ``child_exit``)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)
