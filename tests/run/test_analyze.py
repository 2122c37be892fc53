"""``incentives-analyze``: closed form through the CLI, chess scripted behaviours played
through the real env (checked against counts read back from each game's PGN), and bad
input as one line with exit code 2."""

from __future__ import annotations

import io
import re

import chess.pgn
import pytest
from rich.console import Console

from incentives.run.analyze import analyze, main
from incentives.run.scripted_chess import pay_table

KQK = {"start": "kqk", "learner_color": "white", "opponent": {"name": "random"}, "max_plies": 100}


def _learner_checks(pgn: str) -> int:
    """Checks (and mates) given by white, counted from the game's movetext."""
    game = chess.pgn.read_game(io.StringIO(pgn))
    assert game is not None
    board, checks = game.board(), 0
    for move in game.mainline_moves():
        mover = board.turn
        board.push(move)
        checks += mover == chess.WHITE and board.is_check()
    return checks


def test_closed_form_through_the_cli() -> None:
    out = io.StringIO()
    theory = analyze(["reward=hedging_grid"], Console(file=out, width=100))
    text = out.getvalue()
    assert theory.thresholds == pytest.approx((0.8,))
    assert "hedge pays exactly 0.5 x answer at every p" in text
    assert "never strictly optimal: hedge" in text
    # a parameter override reaches the scheme: wrong = -9 moves the answer/abstain
    # crossing to p = 0.9 (hedge still crosses abstain at 0.8: -2 + 2.5p = 0)
    moved = analyze(["reward=hedging_grid", "reward.wrong=-9"], Console(file=io.StringIO()))
    assert moved.best(0.85) == "hedge" and moved.best(0.95) == "answer"


def test_scripted_chess_pays_what_the_scheme_says() -> None:
    checks = pay_table("check_bonus", {"bonus": 0.1}, KQK, games=1, seed=3,
                       behaviours=["checks_never_mate", "mate_fast"])  # fmt: skip
    for pay in checks:
        for game in pay.games:
            result = {"win": 1.0, "draw": 0.0, "loss": -1.0}[game.outcome]
            # check_bonus: 0.1 per check given (counted from the PGN) + the result
            assert game.explicit_return == pytest.approx(0.1 * _learner_checks(game.pgn) + result)
    never, fast = checks
    assert all(g.outcome != "win" for g in never.games)
    assert all(g.termination == "checkmate" and g.task_score == 1.0 for g in fast.games)
    assert never.mean("explicit_return") > fast.mean("explicit_return")
    (win,) = pay_table("sparse_win", {}, KQK, games=1, seed=3, behaviours=["mate_fast"])
    assert [g.explicit_return for g in win.games] == [1.0]  # a win pays 1, nothing else
    (stale,) = pay_table("material", {"scale": 0.1}, KQK, games=1, seed=3,
                         behaviours=["stalemate"])  # fmt: skip
    for game in stale.games:  # no material changes hands, a draw pays 0
        assert game.outcome == "draw" and game.explicit_return == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["reward=hedging_grd"], "unknown reward 'hedging_grd'; accepted:"),
        (["reward=hedging_grid", "reward.wrng=1"], "unknown key 'reward.wrng'"),
        (["reward=confidence_target", "reward.t=1.5"], "t=1.5; accepted: 0 <= t < 1"),
        (["reward=check_bonus", "games=0"], "games='0'; accepted: an integer"),
        (["flags=/nonexistent/runs"], "flags='/nonexistent/runs' is not a folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("incentives-analyze: error: ")
    assert named in err
    assert re.search(r"accepted", err)
