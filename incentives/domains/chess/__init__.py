"""Chess: "learn which moves are good" from a sparse {0,1} reward for winning.

The sparse win and the teaching rewards it is compared with (``schemes``), what they
induce (``behaviour``: results with Wilson intervals, how games ended), and what the
domain adds to a training run (``extension``): the evaluation ladder (``ladder``),
self-play (``selfplay``, with the ``policy`` and ``pool`` opponents) and the
start-position curriculum (``curriculum``). The env is ``envs.chess``
(``incentives/Chess-v0``).
"""

from incentives.domain import Domain
from incentives.domains.chess.schemes import (
    CheckBonus,
    EngineTeacher,
    MaterialShaped,
    PotentialShaped,
    SparseWin,
    WinDrawLoss,
)

__all__ = [
    "DOMAIN",
    "CheckBonus",
    "EngineTeacher",
    "MaterialShaped",
    "PotentialShaped",
    "SparseWin",
    "WinDrawLoss",
]

DOMAIN = Domain(
    name="chess",
    description="single-agent chess against a fixed opponent, rewarded at the game's end",
    behaviour="incentives.domains.chess.behaviour:ChessBehaviour",
    extension="incentives.domains.chess.extension:ChessRunExtension",
    env_settings="incentives.domains.chess.settings:ENV_SETTINGS",
)
