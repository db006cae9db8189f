"""What the project knows about one detector: its PyOD reference and how to extract its parameters."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.backends.spec import Params


@dataclass(frozen=True)
class Detector:
    """A detector by name: reference class, supported parameters and parameter extraction."""

    name: str
    reference: str
    """Import path of the PyOD class, `module:Class`."""
    parameters: frozenset[str]
    """User parameters the compiled scorer honours (contamination is passed separately)."""
    extract: Callable[[Any], Params]
    """Pure: fitted reference -> compiled parameters. Raises CompileError when unsupported."""
    check: Callable[[Mapping[str, Any]], None] = lambda params: None
    """Refuses parameter values that training could accept but compilation cannot honour."""
    fixed: Mapping[str, Any] = field(default_factory=dict)
    """Parameters forced on the reference so that its scores are well defined."""
    row_at_a_time: bool = False
    """The reference scores a batch transductively: parity is against one row at a time."""
    ambiguous: Callable[[Params, np.ndarray], np.ndarray] | None = None
    """Rows whose reference score is not uniquely defined (ties it breaks arbitrarily)."""
