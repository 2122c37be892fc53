"""Tests of the chess action layout: a bijection between legal moves and masked actions."""

from __future__ import annotations

from collections import Counter

import chess
import numpy as np
import pytest

from envs.chess import N_ACTIONS, decode_action, encode_move, legal_action_mask, legal_actions

N_RANDOM_POSITIONS = 5000
UNSET_SAMPLE = 16  # unset bits checked per position

#: Positions that hold every kind of move for both colours, whatever random play reaches.
HAND_FENS = (
    "r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1",  # castling both ways, white
    "r3k2r/8/8/8/8/8/8/R3K2R b KQkq - 0 1",  # castling both ways, black
    "4k3/8/8/3pP3/8/8/8/4K3 w - d6 0 2",  # en passant, white
    "4k3/8/8/8/3pP3/8/8/4K3 b - e3 0 1",  # en passant, black
    "2r1r1k1/3P4/8/8/8/8/8/4K3 w - - 0 1",  # promotion: push, capture left and right
    "4k3/8/8/8/8/8/3p4/2R1R1K1 b - - 0 1",  # the same for black
)

#: The reference layout, written out independently of envs.chess.actions.
DIRECTIONS = ((0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1))
KNIGHT = ((1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1), (-2, 1), (-1, 2))
UNDER = (chess.KNIGHT, chess.BISHOP, chess.ROOK)


def reference_action(board: chess.Board, move: chess.Move) -> int:
    """The action of ``move`` computed square by square from the documented layout."""
    origin, target = move.from_square, move.to_square
    if board.turn == chess.BLACK:
        origin, target = chess.square_mirror(origin), chess.square_mirror(target)
    df = chess.square_file(target) - chess.square_file(origin)
    dr = chess.square_rank(target) - chess.square_rank(origin)
    if move.promotion in UNDER:
        plane = 64 + UNDER.index(move.promotion) * 3 + (df + 1)
    elif (df, dr) in KNIGHT:
        plane = 56 + KNIGHT.index((df, dr))
    else:
        distance = max(abs(df), abs(dr))
        plane = DIRECTIONS.index((df // distance, dr // distance)) * 7 + distance - 1
    return origin * 73 + plane


def move_kinds(board: chess.Board, move: chess.Move) -> list[str]:
    """The special kinds ``move`` belongs to, tagged with the mover's colour."""
    color = "white" if board.turn == chess.WHITE else "black"
    kinds = []
    if board.is_kingside_castling(move):
        kinds.append("castle_kingside")
    if board.is_queenside_castling(move):
        kinds.append("castle_queenside")
    if board.is_en_passant(move):
        kinds.append("en_passant")
    if move.promotion:
        what = "promotion" if move.promotion == chess.QUEEN else "underpromotion"
        how = "capture" if board.is_capture(move) else "push"
        kinds.append(f"{what}_{how}")
    return [f"{color}:{kind}" for kind in kinds]


def random_positions(n: int, seed: int) -> list[chess.Board]:
    """``n`` positions (board copies without history) met in seeded random games."""
    rng = np.random.default_rng(seed)
    positions: list[chess.Board] = []
    while len(positions) < n:
        board = chess.Board()
        while not board.is_game_over() and board.ply() < 300 and len(positions) < n:
            positions.append(board.copy(stack=False))
            moves = list(board.legal_moves)
            board.push(moves[rng.integers(len(moves))])
    return positions


POSITIONS = random_positions(N_RANDOM_POSITIONS, seed=2024) + [chess.Board(f) for f in HAND_FENS]


def test_round_trip_over_every_legal_move() -> None:
    kinds: Counter[str] = Counter()
    turns: Counter[bool] = Counter()
    for board in POSITIONS:
        turns[board.turn] += 1
        moves = list(board.legal_moves)
        actions = {}
        for move in moves:
            action = encode_move(board, move)
            assert action == reference_action(board, move), (board.fen(), move.uci())
            assert decode_action(board, action) == move, (board.fen(), move.uci())
            assert encode_move(board, decode_action(board, action)) == action
            actions[action] = move
            kinds.update(move_kinds(board, move))
        assert len(actions) == len(moves), board.fen()  # no two moves share an action
        assert legal_actions(board, moves) == actions
    assert turns[chess.WHITE] > 2000 and turns[chess.BLACK] > 2000
    expected = [
        f"{color}:{kind}"
        for color in ("white", "black")
        for kind in (
            "castle_kingside",
            "castle_queenside",
            "en_passant",
            "promotion_push",
            "promotion_capture",
            "underpromotion_push",
            "underpromotion_capture",
        )
    ]
    missing = [kind for kind in expected if kinds[kind] == 0]
    assert not missing, f"never seen: {missing}"


def test_black_is_encoded_in_the_mirrored_frame() -> None:
    for board in POSITIONS[:1500]:
        if board.turn == chess.WHITE:
            continue
        mirrored = board.mirror()  # white to move, colours swapped, board flipped
        for move in board.legal_moves:
            flipped = chess.Move(
                chess.square_mirror(move.from_square),
                chess.square_mirror(move.to_square),
                move.promotion,
            )
            assert encode_move(board, move) == encode_move(mirrored, flipped)


# "Legal" below means one of the generated moves: python-chess's ``is_legal`` also accepts
# e1h1 for castling (king takes own rook, the Chess960 notation), which the layout encodes
# as the king's E-3 plane; the env treats that action as illegal, as the mask says.


def test_mask_is_exactly_the_legal_moves() -> None:
    rng = np.random.default_rng(7)
    for board in POSITIONS:
        legal = set(board.legal_moves)
        mask = legal_action_mask(board)
        assert mask.dtype == np.bool_ and mask.shape == (N_ACTIONS,)
        assert mask.sum() == board.legal_moves.count()
        for action in np.flatnonzero(mask):
            assert decode_action(board, int(action)) in legal
        unset = np.flatnonzero(~mask)
        for action in rng.choice(unset, size=UNSET_SAMPLE, replace=False):
            assert decode_action(board, int(action)) not in legal, (board.fen(), action)


def test_unset_bits_near_the_legal_ones_are_illegal() -> None:
    """Each plane of every occupied from-square: the cases a sample could miss."""
    for fen in HAND_FENS:
        board = chess.Board(fen)
        legal = set(board.legal_moves)
        mask = legal_action_mask(board)
        for origin in chess.SquareSet(board.occupied_co[board.turn]):
            frame = origin if board.turn == chess.WHITE else chess.square_mirror(origin)
            for action in range(frame * 73, frame * 73 + 73):
                move = decode_action(board, action)
                assert (move in legal) == bool(mask[action]), (fen, action, move)


def test_layout_landmarks() -> None:
    board = chess.Board()
    assert encode_move(board, chess.Move.from_uci("e2e4")) == 877 == 12 * 73 + 1  # N, 2
    assert encode_move(board, chess.Move.from_uci("e2e3")) == 12 * 73 + 0  # N, 1
    knight = encode_move(board, chess.Move.from_uci("b1c3"))
    assert knight // 73 == chess.B1 and 56 <= knight % 73 <= 63
    board.push_uci("e2e4")
    assert encode_move(board, chess.Move.from_uci("e7e5")) == 877  # the mirrored frame
    assert decode_action(board, 877) == chess.Move.from_uci("e7e5")
    knight = encode_move(board, chess.Move.from_uci("g8f6"))
    assert knight // 73 == chess.G1 and 56 <= knight % 73 <= 63


@pytest.mark.parametrize(
    ("fen", "uci"),
    [
        ("2r1r1k1/3P4/8/8/8/8/8/4K3 w - - 0 1", "d7c8n"),
        ("2r1r1k1/3P4/8/8/8/8/8/4K3 w - - 0 1", "d7d8b"),
        ("2r1r1k1/3P4/8/8/8/8/8/4K3 w - - 0 1", "d7e8r"),
        ("4k3/8/8/8/8/8/3p4/2R1R1K1 b - - 0 1", "d2c1n"),
        ("4k3/8/8/8/8/8/3p4/2R1R1K1 b - - 0 1", "d2e1r"),
    ],
)
def test_underpromotions_use_planes_64_to_72(fen: str, uci: str) -> None:
    board = chess.Board(fen)
    action = encode_move(board, chess.Move.from_uci(uci))
    assert 64 <= action % 73 <= 72
    assert decode_action(board, action).uci() == uci


def test_queen_promotion_is_the_plain_queen_direction_move() -> None:
    board = chess.Board("2r1r1k1/3P4/8/8/8/8/8/4K3 w - - 0 1")
    action = encode_move(board, chess.Move.from_uci("d7d8q"))
    assert action == chess.D7 * 73 + 0  # N, distance 1
    assert decode_action(board, action) == chess.Move.from_uci("d7d8q")


@pytest.mark.parametrize("action", [-1, N_ACTIONS, 10**6])
def test_actions_out_of_range_raise(action: int) -> None:
    with pytest.raises(ValueError, match=str(action)):
        decode_action(chess.Board(), action)


def test_a_move_outside_the_layout_raises() -> None:
    with pytest.raises(ValueError, match="a1b4"):
        encode_move(chess.Board(), chess.Move.from_uci("a1b4"))


def test_actions_that_leave_the_board_decode_to_no_legal_move() -> None:
    board = chess.Board()
    a1_west = chess.A1 * 73 + 6 * 7  # W, distance 1 from a1
    assert not board.is_legal(decode_action(board, a1_west))
