"""Plies per second of ``ChessEnv`` against PettingZoo's ``chess_v6`` and a bare python-chess loop.

All three play random legal games from the standard position in the same process, one
after the other, and choose each learner move the same way: a uniformly random set bit of
the 4672-action mask. The unit is the ply (one move of one side): a ``ChessEnv`` step is
the learner's ply and the opponent's, a ``chess_v6`` step is one agent's ply.

- ``ChessEnv``: ``incentives/Chess-v0`` against its random opponent, masks from
  ``action_masks()``, events and the final PGN (written during play) included.
- ``chess_v6``: both agents step with random legal actions from their observation's mask.
- bare loop: what any python-chess env must do per learner move (generate the legal moves
  of both plies with the same game-end checks, the action dict, a 4672 bool mask, the
  observation planes): the ceiling for a python-chess env.

    python benchmarks/chess_env_throughput.py                 # 5 rounds of 2 s per loop
    python benchmarks/chess_env_throughput.py --plies 20000 --rounds 3

PettingZoo is not a dependency of the project: ``pip install "pettingzoo==1.27.0"
"pygame-ce>=2.3"`` (``chess_v6`` imports pygame at module level); without it that row
is skipped.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

import chess
import numpy as np

from envs.chess import ChessEnv, board_planes, legal_actions

__all__ = ["bare_loop_games", "chess_env_games", "pettingzoo_games", "plies_per_second"]

MAX_PLIES = 400  # ChessEnv's default cut-off; the bare loop uses the same

#: Plays one game (or the rest of a budget's worth) and returns the plies it played.
PlayGame = Callable[[], int]


def plies_per_second(play_game: PlayGame, seconds: float, plies: int) -> float:
    """Call ``play_game`` until ``plies`` plies (if given) or ``seconds`` are spent."""
    done, start = 0, time.perf_counter()
    while True:
        done += play_game()
        elapsed = time.perf_counter() - start
        if (plies and done >= plies) or (not plies and elapsed >= seconds):
            return done / elapsed


def _random_set_bit(rng: np.random.Generator, mask: np.ndarray) -> int:
    """The learner's choice, the same in the three loops."""
    legal = np.flatnonzero(mask)
    return int(legal[rng.integers(len(legal))])


def chess_env_games(seed: int) -> PlayGame:
    """Games of ``ChessEnv`` (standard start, random opponent)."""
    env = ChessEnv(max_plies=MAX_PLIES)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)

    def play_game() -> int:
        _, info = env.reset()
        start_ply = info["ply"]
        while True:
            _, _, terminated, truncated, info = env.step(_random_set_bit(rng, env.action_masks()))
            if terminated or truncated:
                return int(info["ply"]) - start_ply

    return play_game


def pettingzoo_games(seed: int) -> PlayGame | None:
    """Games of PettingZoo's ``chess_v6`` (AEC, its default wrappers); None if missing."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        from pettingzoo.classic import chess_v6
    except ImportError:
        return None
    env = chess_v6.env()
    rng = np.random.default_rng(seed)
    games = iter(range(seed, 2**31))

    def play_game() -> int:
        env.reset(seed=next(games))
        played = 0
        for _agent in env.agent_iter():
            observation, _, terminated, truncated, _ = env.last()
            if terminated or truncated:
                env.step(None)
                continue
            env.step(_random_set_bit(rng, observation["action_mask"]))
            played += 1
        return played

    return play_game


def _game_over(board: chess.Board, moves: list[chess.Move]) -> bool:
    """ChessEnv's end-of-game rules (no claimed draws), on already generated moves."""
    return (
        not moves
        or board.is_insufficient_material()
        or board.halfmove_clock >= 100
        or (board.halfmove_clock >= 8 and board.is_repetition(3))
    )


def bare_loop_games(seed: int) -> PlayGame:
    """Games of the minimum a python-chess env does per learner move."""
    rng = np.random.default_rng(seed)

    def play_game() -> int:
        board = chess.Board()
        played = 0
        while played < MAX_PLIES:
            moves = list(board.legal_moves)  # the learner's ply
            if _game_over(board, moves):
                break
            actions = legal_actions(board, moves)
            mask = np.zeros(4672, dtype=bool)
            mask[list(actions)] = True
            board_planes(board)
            board.push(actions[_random_set_bit(rng, mask)])
            played += 1
            moves = list(board.legal_moves)  # the opponent's ply
            if _game_over(board, moves):
                break
            board.push(moves[rng.integers(len(moves))])
            played += 1
        return played

    return play_game


def _versions() -> str:
    import gymnasium

    try:
        import pettingzoo

        pz = pettingzoo.__version__
    except ImportError:
        pz = "not installed"
    return (
        f"python {platform.python_version()}, chess {chess.__version__}, numpy "
        f"{np.__version__}, gymnasium {gymnasium.__version__}, pettingzoo {pz}; "
        f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"
    )


def main() -> None:
    """Print the plies per second of the loops and the ratios of ours to the others."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=float, default=2.0, help="time per loop and round")
    budget.add_argument("--plies", type=int, default=0, help="plies per loop and round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(_versions())
    loops: dict[str, PlayGame | None] = {
        "ChessEnv": chess_env_games(args.seed),
        "PettingZoo chess_v6": pettingzoo_games(args.seed),
        "bare python-chess loop": bare_loop_games(args.seed),
    }
    rates: dict[str, list[float]] = {name: [] for name, play in loops.items() if play}
    for play in loops.values():
        if play:
            play()  # warm-up: imports, caches, a first game
    # Rounds interleave the loops, so a load change on a shared machine hits them all; the
    # best round of each is its figure (interference only ever slows a loop down).
    for _ in range(args.rounds):
        for name, play in loops.items():
            if play:
                rates[name].append(plies_per_second(play, args.seconds, args.plies))
    best = {name: max(values) for name, values in rates.items()}
    for name in loops:
        if name not in rates:
            print(f"{name:<30}(not installed: pip install pettingzoo==1.27.0 pygame-ce)")
            continue
        spread = f"(median {np.median(rates[name]):,.0f}, worst {min(rates[name]):,.0f})"
        print(f"{name:<30}{best[name]:>9,.0f} plies/s  {spread}")
    bare, zoo = best["bare python-chess loop"], best.get("PettingZoo chess_v6")
    ours = best["ChessEnv"]
    against_zoo = f"{ours / zoo:5.1f}x PettingZoo (target >= 8x)" if zoo else ""
    print(f"{'ChessEnv':<30}{ours / bare:6.0%} of the bare loop (target >= 70%)  {against_zoo}")


if __name__ == "__main__":
    main()
