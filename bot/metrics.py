"""Prometheus series for questions, answers by status, answer latency and errors, by channel."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """The Prometheus series the server exposes; one registry per app so tests do not share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.questions = Counter(
            "policybot_questions", "Questions received", ["channel"], registry=self.registry
        )
        self.answers = Counter(
            "policybot_answers", "Answers by status", ["channel", "status"], registry=self.registry
        )
        self.errors = Counter(
            "policybot_errors", "Requests that failed", ["channel", "kind"], registry=self.registry
        )
        self.records_dropped = Counter(
            "policybot_records_dropped",
            "Log records dropped because the buffer was full",
            registry=self.registry,
        )
        self.records_set_aside = Counter(
            "policybot_records_set_aside",
            "Log records set aside unwritten: too long for their column, or refused by a reachable database",
            ["reason"],
            registry=self.registry,
        )
        self.records_buffered = Gauge(
            "policybot_records_buffered", "Log records waiting to be written", registry=self.registry
        )
        self.storage_degraded = Gauge(
            "policybot_storage_degraded", "1 while the database is unreachable", registry=self.registry
        )
        self.remembered = Counter(
            "policybot_answers_remembered",
            "Answers to a question asked again today, given from memory without a search",
            registry=self.registry,
        )
        self.latency = Histogram(
            "policybot_answer_seconds",
            "Time to compose an answer",
            ["channel"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )

    def observe(self, channel: str, status: str, started: float) -> None:
        self.questions.labels(channel).inc()
        self.answers.labels(channel, status).inc()
        self.latency.labels(channel).observe(time.perf_counter() - started)
