"""The flat rollout spec of earlier releases, read into one field per strategy.

A spec used to name its strategy and carry every strategy's options side by side (`strategy`,
`steps`, `shadow_percent`, `warm_s`, `cluster`). Records stored then, and clients of the control API
written then, still hold that shape; `nest` moves its keys into the field of the strategy named and
drops those that strategy never read (a blue-green's `steps`), so nothing it used is lost.
"""

from controller.rollouts.strategies import DEFAULT, STRATEGIES, strategy_for

FLAT = ("steps", "shadow_percent", "warm_s", "cluster")


def nest(data: object) -> object:
    """`data` with its strategy's options in that strategy's field (pure). A spec in the current
    shape passes through, less the `strategy` name a dumped spec carries beside its field."""
    if not isinstance(data, dict) or not {"strategy", *FLAT} & data.keys():
        return data
    data = dict(data)
    name = data.pop("strategy", None)
    flat = {key: value for key in FLAT if (value := data.pop(key, None)) is not None}
    given = [n for n, s in STRATEGIES.items() if data.get(s.field) is not None]
    if given:
        if flat:
            raise ValueError(
                f"{', '.join(flat)}: give a strategy's options inside its field (e.g. "
                f'"canary": {{"steps": [10, 50, 100]}}), not beside it'
            )
        if name is not None and given != [name]:
            raise ValueError(f"strategy {name!r} does not match the options given ({', '.join(given)})")
        return data
    strategy = strategy_for(name or DEFAULT)
    # The flat `cluster` was an upgrade's whole change; the other keys were options by their name.
    if (cluster := flat.pop("cluster", None)) is not None and name != "upgrade":
        raise ValueError("a cluster change (--image) goes with the upgrade strategy, and only with it")
    options = {key: value for key, value in flat.items() if key in strategy.options.model_fields}
    return {**data, strategy.field: cluster if cluster is not None else options}
