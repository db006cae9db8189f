"""Rollouts: the persisted record, and the strategies that decide each next step."""
