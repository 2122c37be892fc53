"""Chess for incentive experiments: ``incentives/Chess-v0``, its action layout and opponents."""

from envs.chess.actions import (
    N_ACTIONS,
    decode_action,
    encode_move,
    legal_action_mask,
    legal_actions,
)
from envs.chess.engine import (
    EngineNotFoundError,
    EngineStoppedError,
    find_stockfish,
    start_engine,
)
from envs.chess.env import TERMINATIONS, ChessEnv
from envs.chess.material import PIECE_VALUES, material_balance
from envs.chess.observation import board_planes
from envs.chess.opponents import (
    GreedyOpponent,
    Opponent,
    RandomOpponent,
    StockfishOpponent,
    make_opponent,
    opponent_factory,
    opponents,
    register_opponent,
)
from envs.chess.starts import FenFileError, load_fens

__all__ = [
    "N_ACTIONS",
    "PIECE_VALUES",
    "TERMINATIONS",
    "ChessEnv",
    "EngineNotFoundError",
    "EngineStoppedError",
    "FenFileError",
    "GreedyOpponent",
    "Opponent",
    "RandomOpponent",
    "StockfishOpponent",
    "board_planes",
    "decode_action",
    "encode_move",
    "find_stockfish",
    "legal_action_mask",
    "legal_actions",
    "load_fens",
    "make_opponent",
    "material_balance",
    "opponent_factory",
    "opponents",
    "register_opponent",
    "start_engine",
]
from envs.chess.tablebase import Tablebase, material_of, tablebase

__all__ += ["Tablebase", "material_of", "tablebase"]
