"""The control plane of raynomaly: rollouts, analysis, targets, the control API and the CLI."""
