"""`python -m controller.cli`: the same command line as `raynomaly`."""

from controller.cli import main

main()
