"""Chess for incentive experiments: ``incentives/Chess-v0``, its action layout and opponents."""

from envs.chess.actions import (
    N_ACTIONS,
    decode_action,
    encode_move,
    legal_action_mask,
    legal_actions,
)
from envs.chess.env import TERMINATIONS, ChessEnv
from envs.chess.material import PIECE_VALUES, material_balance
from envs.chess.observation import board_planes
from envs.chess.opponents import (
    EngineNotFoundError,
    EngineStoppedError,
    GreedyOpponent,
    Opponent,
    PolicyOpponent,
    RandomOpponent,
    StockfishOpponent,
    find_stockfish,
    make_opponent,
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
    "PolicyOpponent",
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
    "opponents",
    "register_opponent",
]
