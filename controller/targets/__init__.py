"""Targets: where a rollout's traffic and options are applied (`spec.py`: the interface; one module
per target; `registry.py`: the one registry), and where a batch job runs (`batch.py`)."""
