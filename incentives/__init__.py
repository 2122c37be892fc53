"""incentives: train the same agent under different reward schemes, see what each teaches.

Reward schemes are Gymnasium wrappers that replace an environment's own reward (its task
score) with an explicit signal computed from the events the environment reports.
"""

from incentives.chess import (
    CheckBonus,
    EngineTeacher,
    MaterialShaped,
    PotentialShaped,
    SparseWin,
    WinDrawLoss,
)
from incentives.qa import (
    Binary,
    BinarySignal,
    ConfidenceTarget,
    ConfidenceTargetSignal,
    HedgingGrid,
    HedgingGridSignal,
    QAScheme,
)
from incentives.registry import make, make_signal, register, scheme_type, schemes
from incentives.scheme import RewardScheme, VecRewardScheme
from incentives.signal import ExplicitSignal, Incentive, MissingEventError

for _scheme in (
    HedgingGrid,
    Binary,
    ConfidenceTarget,
    SparseWin,
    WinDrawLoss,
    MaterialShaped,
    PotentialShaped,
    CheckBonus,
    EngineTeacher,
):
    register(_scheme)

__all__ = [
    "Binary",
    "BinarySignal",
    "CheckBonus",
    "ConfidenceTarget",
    "ConfidenceTargetSignal",
    "EngineTeacher",
    "ExplicitSignal",
    "HedgingGrid",
    "HedgingGridSignal",
    "Incentive",
    "MaterialShaped",
    "MissingEventError",
    "PotentialShaped",
    "QAScheme",
    "RewardScheme",
    "SparseWin",
    "VecRewardScheme",
    "WinDrawLoss",
    "make",
    "make_signal",
    "register",
    "scheme_type",
    "schemes",
]
__version__ = "0.1.0"
