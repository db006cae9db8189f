"""Conflict: a guarded write refused because another writer changed the record first.

Every record raynomaly rewrites is guarded by the revision its writer read: the runtime's served
state (`runtime.record`), a rollout in the controller's store (`controller.store`), and a Kubernetes
object (`metadata.resourceVersion`, `controller.kuberay`). Losing that race always means the same
thing, so it is one error wherever it happens: read the record again, recompute, retry.
"""


class Conflict(Exception):
    """The record changed since it was read (another writer won, or it already exists): read it
    again and retry; the message names the record."""
