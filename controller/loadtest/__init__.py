"""The load-test gate: a headless Locust run against the pinned candidate, judged into Measurements."""
