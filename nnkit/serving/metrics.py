"""`GET /metrics` of `nnkit serve`: Prometheus's text format, from prometheus-client.

Requests and errors are counted by endpoint (the route's template, so that the paths clients
make up cannot grow the label set; else 'other'), model, task and status; latency is a histogram
by endpoint, model and task; each model's queue depth is read when scraped. Every app has a
registry of its own, not the library's global one, so that several apps in one process (the
tests) count apart.
"""

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.responses import Response

LABELS = ("endpoint", "task", "model")
# From a cached health check to a long beam search, in seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
OTHER = "other"  # the endpoint of refusals before routing (401, 408, 413), static files, unknown paths
SERVED_KEY = "nnkit_served"  # where a request's model is left in its scope's state, for the labels


class Metrics:
    def __init__(self, models):
        self.registry = CollectorRegistry()
        self.requests = Counter("nnkit_requests", "HTTP requests answered", (*LABELS, "status"),
                                registry=self.registry)
        self.errors = Counter("nnkit_errors", "HTTP requests answered with an error status (4xx, 5xx)",
                              (*LABELS, "status"), registry=self.registry)
        self.latency = Histogram("nnkit_request_seconds", "Seconds from a request's head to its answer", LABELS,
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        queue = Gauge("nnkit_queue_depth", "Requests waiting for the model", ("task", "model"), registry=self.registry)
        for served in models.values():
            queue.labels(served.task, served.name).set_function(served.worker.waiting)

    def page(self):
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    def record(self, scope, status, seconds):
        """Count a request. Its scope, after routing, names its route (FastAPI's APIRoute) and
        the model picked, if any."""
        served = scope.get("state", {}).get(SERVED_KEY)
        route = getattr(scope.get("route"), "path", None) or OTHER
        labels = (route, served.task if served else "", served.name if served else "")
        self.requests.labels(*labels, str(status)).inc()
        if status >= 400:
            self.errors.labels(*labels, str(status)).inc()
        self.latency.labels(*labels).observe(seconds)


class CountRequests:
    """ASGI middleware feeding `Metrics` with every HTTP request's status and time, refusals by
    the middleware inside it (401, 413, 408) included."""

    def __init__(self, app, metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500  # 500: the app raised before answering

        async def counted(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            self.metrics.record(scope, status, time.perf_counter() - started)
