"""Test doubles of Kubernetes and KubeRay (named as doubles: not the real thing)."""
