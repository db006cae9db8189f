"""Strategies: how a rollout moves traffic from step to step. One module per strategy (its options,
what it needs to start, its decisions), one registry from name to strategy."""

from controller.rollouts.strategies.bluegreen import BlueGreen
from controller.rollouts.strategies.canary import Canary
from controller.rollouts.strategies.rolling import Rolling
from controller.rollouts.strategies.shadow import Shadow
from controller.rollouts.strategies.spec import Strategy
from controller.rollouts.strategies.upgrade import Upgrade

STRATEGIES: dict[str, Strategy] = {
    "canary": Canary(),
    "blue-green": BlueGreen(),
    "shadow": Shadow(),
    "rolling": Rolling(),
    "upgrade": Upgrade(),
}
DEFAULT = "canary"
"""The strategy of a spec that names none."""


def strategy_for(name: str) -> Strategy:
    """The strategy called `name`, or ValueError listing the valid ones."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    return STRATEGIES[name]
