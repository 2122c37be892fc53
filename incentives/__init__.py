"""incentives: train the same agent under different reward schemes, see what each teaches.

Reward schemes are Gymnasium wrappers that replace an environment's own reward (its task
score) with an explicit signal computed from the events the environment reports. This
package is the scheme core: signals, the wrapper, the registry of schemes and domains.
Importing it costs what Gymnasium costs; the domains (``incentives.domains``), the runner
(``incentives.run``) and the analysis (``incentives.analysis``) load when used.

Every installed scheme is reachable here by its class name, ours and plugins' alike::

    >>> import incentives
    >>> incentives.HedgingGrid.signal_type.name
    'hedging_grid'
"""

from __future__ import annotations

from typing import Any

from incentives.behaviour import Behaviour, Metric
from incentives.domain import Domain, RunExtension
from incentives.registry import (
    domain_names,
    load_domain,
    make,
    make_signal,
    register,
    scheme_type,
    schemes,
)
from incentives.scheme import RewardScheme
from incentives.signal import ExplicitSignal, Incentive, MissingEventError

__all__ = [
    "Behaviour",
    "Domain",
    "ExplicitSignal",
    "Incentive",
    "Metric",
    "MissingEventError",
    "RewardScheme",
    "RunExtension",
    "VecRewardScheme",
    "domain_names",
    "load_domain",
    "make",
    "make_signal",
    "register",
    "scheme_type",
    "schemes",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """A registered scheme's wrapper or signal class by its class name (``HedgingGrid``,
    ``HedgingGridSignal``), or ``VecRewardScheme``, loaded on first use."""
    if name == "VecRewardScheme":
        from incentives.vec_scheme import VecRewardScheme

        return VecRewardScheme
    if name.startswith("_"):
        raise AttributeError(name)
    for scheme_name in schemes():
        scheme = scheme_type(scheme_name)
        for found in (scheme, scheme.signal_type):
            if found.__name__ == name:
                return found
    raise AttributeError(f"module 'incentives' has no attribute {name!r}")
