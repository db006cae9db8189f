"""The control API: FastAPI over the rollout store, with JWT roles, rate limits and the audit log."""
