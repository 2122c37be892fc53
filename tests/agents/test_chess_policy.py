"""Tests of the chess policy: the fast masked distribution, the compact moves, ChessPolicy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import chess
import numpy as np
import pytest
import torch
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.distributions import MaskableCategoricalDistribution
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.chess_networks import ConvPolicyHead
from agents.chess_policy import ChessPolicy, CompactMaskRolloutBuffer, compact_masks
from agents.distributions import FastMaskedCategorical
from agents.ppo import build_ppo
from envs.chess import ChessEnv, board_planes, decode_action, encode_move, legal_action_mask
from envs.chess.actions import COMPACT_ACTIONS, N_ACTIONS, N_COMPACT, TO_COMPACT

# -- FastMaskedCategorical ----------------------------------------------------------------

SHAPES = [(1, 2), (5, 7), (32, 100), (64, N_COMPACT)]


def random_case(rows: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of a wide range and masks with about a third legal, each row one at least."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(rows, n, generator=gen) * 4
    masks = torch.rand(rows, n, generator=gen) < 0.33
    masks[torch.arange(rows), torch.randint(n, (rows,), generator=gen)] = True
    return logits, masks


def both(logits: torch.Tensor, masks: torch.Tensor | None) -> tuple[Any, Any]:
    """Our distribution and sb3-contrib's on the same logits and masks."""
    n = logits.shape[1]
    ours = FastMaskedCategorical(n).proba_distribution(logits)
    ours.apply_masking(None if masks is None else masks.numpy())
    theirs = MaskableCategoricalDistribution(n).proba_distribution(logits)
    theirs.apply_masking(None if masks is None else masks.numpy())
    return ours, theirs


def legal_samples(masks: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    """``k`` uniformly drawn legal actions per row, shape (k, rows)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.multinomial(masks.float(), k, replacement=True, generator=gen).T


@pytest.mark.parametrize(("rows", "n"), SHAPES)
def test_log_prob_and_entropy_match_sb3_contrib(rows: int, n: int) -> None:
    logits, masks = random_case(rows, n, seed=rows * n)
    ours, theirs = both(logits, masks)
    for actions in legal_samples(masks, 8, seed=1):
        torch.testing.assert_close(ours.log_prob(actions), theirs.log_prob(actions))
    torch.testing.assert_close(ours.entropy(), theirs.entropy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("rows", "n"), SHAPES)
def test_without_masks_it_is_the_plain_categorical(rows: int, n: int) -> None:
    logits, _ = random_case(rows, n, seed=7)
    ours, _ = both(logits, None)
    reference = torch.distributions.Categorical(logits=logits)
    actions = torch.randint(n, (rows,))
    torch.testing.assert_close(ours.log_prob(actions), reference.log_prob(actions))
    torch.testing.assert_close(ours.entropy(), reference.entropy(), rtol=1e-5, atol=1e-5)


def test_masking_again_with_none_restores_the_unmasked_distribution() -> None:
    logits, masks = random_case(4, 9, seed=3)
    dist, _ = both(logits, masks)
    dist.apply_masking(None)
    reference = torch.distributions.Categorical(logits=logits)
    torch.testing.assert_close(dist.entropy(), reference.entropy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("rows", "n"), SHAPES)
def test_masked_actions_have_probability_zero_and_are_never_sampled(rows: int, n: int) -> None:
    logits, masks = random_case(rows, n, seed=11)
    logits[~masks] += 30.0  # the illegal choices would otherwise dominate
    dist, _ = both(logits, masks)
    assert torch.all(dist.log_probs.exp()[~masks] == 0)
    torch.testing.assert_close(dist.log_probs.exp().sum(-1), torch.ones(rows))
    draws = max(20, 20_000 // rows)  # in one batch: the rows repeated
    many = FastMaskedCategorical(n).proba_distribution(logits.repeat(draws, 1))
    many.apply_masking(masks.repeat(draws, 1))
    torch.manual_seed(0)
    actions = many.sample().reshape(draws, rows)
    assert masks[torch.arange(rows), actions].all()


def test_samples_follow_the_masked_probabilities() -> None:
    logits = torch.tensor([[0.0, 2.0, 9.0, 1.0, -1.0]])
    masks = torch.tensor([[True, True, False, True, False]])
    dist, _ = both(logits, masks)
    torch.manual_seed(0)
    counts = torch.bincount(
        torch.stack([dist.sample() for _ in range(20_000)]).flatten(), minlength=5
    )
    expected = torch.softmax(torch.tensor([0.0, 2.0, 1.0]), -1)
    torch.testing.assert_close(counts[[0, 1, 3]] / 20_000, expected, atol=0.015, rtol=0)
    assert counts[2] == counts[4] == 0


def test_mode_is_the_most_probable_legal_choice() -> None:
    logits, masks = random_case(64, N_COMPACT, seed=5)
    best = logits.argmax(-1)
    masks[torch.arange(64), best] = False  # the overall best is illegal in every row
    dist, _ = both(logits, masks)
    expected = logits.masked_fill(~masks, -float("inf")).argmax(-1)
    assert torch.equal(dist.mode(), expected)
    assert torch.equal(dist.get_actions(deterministic=True), expected)


def test_a_single_legal_choice_is_certain() -> None:
    masks = torch.zeros(3, 10, dtype=torch.bool)
    masks[torch.arange(3), torch.tensor([0, 4, 9])] = True
    dist, _ = both(torch.randn(3, 10), masks)
    assert torch.equal(dist.sample(), torch.tensor([0, 4, 9]))
    torch.testing.assert_close(dist.log_prob(torch.tensor([0, 4, 9])), torch.zeros(3))
    torch.testing.assert_close(dist.entropy(), torch.zeros(3))


@pytest.mark.parametrize(("rows", "n"), SHAPES)
def test_gradients_are_finite_and_skip_the_masked_logits(rows: int, n: int) -> None:
    logits, masks = random_case(rows, n, seed=13)
    logits.requires_grad_(True)
    dist = FastMaskedCategorical(n).proba_distribution(logits)
    dist.apply_masking(masks)
    actions = legal_samples(masks, 1, seed=2)[0]
    loss = -dist.log_prob(actions).mean() - 0.01 * dist.entropy().mean()
    loss.backward()
    assert logits.grad is not None
    assert torch.isfinite(logits.grad).all()
    assert torch.all(logits.grad[~masks] == 0)
    choice = masks.sum(1) > 1  # rows with a single legal move have nothing to learn
    assert logits.grad[choice].abs().sum(1).gt(0).all()


def test_the_distribution_pickles_without_its_last_batch() -> None:
    import pickle

    dist = FastMaskedCategorical(5).proba_distribution(torch.zeros(2, 5))
    copy = pickle.loads(pickle.dumps(dist))
    assert copy.action_dim == 5
    assert copy.log_probs.numel() == 0


# -- the compact moves ------------------------------------------------------------------------

#: Promotions and underpromotions (pushes and captures both ways) for each side to move.
PROMOTION_FENS = (
    "2r1r1k1/3P4/8/8/8/8/8/4K3 w - - 0 1",
    "4k3/8/8/8/8/8/3p4/2R1R1K1 b - - 0 1",
    "1n5k/P7/8/8/8/8/7p/K5N1 w - - 0 1",  # edge files: one capture side only
    "1n5k/P7/8/8/8/8/7p/K5N1 b - - 0 1",
)


def random_positions(games: int, seed: int) -> list[chess.Board]:
    """Every position of ``games`` random games from the start (both sides to move)."""
    rng = np.random.default_rng(seed)
    positions = []
    for _ in range(games):
        board = chess.Board()
        while not board.is_game_over() and board.ply() < 300:
            positions.append(board.copy(stack=False))
            moves = list(board.legal_moves)
            board.push(moves[rng.integers(len(moves))])
    return positions


def test_the_compact_moves_are_1858_sorted_and_invert() -> None:
    assert N_COMPACT == len(COMPACT_ACTIONS) == 1858  # as in Leela Chess Zero's policy
    assert np.all(np.diff(COMPACT_ACTIONS) > 0)
    assert COMPACT_ACTIONS[0] >= 0 and COMPACT_ACTIONS[-1] < N_ACTIONS
    assert np.array_equal(TO_COMPACT[COMPACT_ACTIONS], np.arange(N_COMPACT))
    outside = np.setdiff1d(np.arange(N_ACTIONS), COMPACT_ACTIONS)
    assert np.all(TO_COMPACT[outside] == -1)


def test_every_legal_move_has_a_compact_index() -> None:
    boards = random_positions(30, seed=0) + [chess.Board(fen) for fen in PROMOTION_FENS]
    assert any(b.turn == chess.BLACK for b in boards)
    kinds = set()
    for board in boards:
        for move in board.legal_moves:
            action = encode_move(board, move)
            compact = TO_COMPACT[action]
            assert compact >= 0, (board.fen(), move.uci())
            assert COMPACT_ACTIONS[compact] == action
            assert decode_action(board, int(COMPACT_ACTIONS[compact])) == move
            if move.promotion:
                kinds.add((board.turn, move.promotion, chess.square_file(move.to_square)
                           - chess.square_file(move.from_square)))  # fmt: skip
        masks = legal_action_mask(board)
        assert compact_masks(masks[None]).sum() == masks.sum()
    # Every promotion piece, capture side and colour showed up.
    assert len(kinds) == 2 * 4 * 3


def _position_for(action: int) -> chess.Board | None:
    """A position, white to move, where ``action`` is legal; None if there is none."""
    origin, plane = divmod(action, 73)
    piece = chess.QUEEN if plane < 56 else chess.KNIGHT if plane < 64 else chess.PAWN
    board = chess.Board(None)
    board.set_piece_at(origin, chess.Piece(piece, chess.WHITE))
    if piece == chess.PAWN:  # something to capture on both diagonals
        for target in (origin + 7, origin + 9):
            if target < 64 and abs(chess.square_file(target) - chess.square_file(origin)) == 1:
                board.set_piece_at(target, chess.Piece(chess.ROOK, chess.BLACK))
    move = decode_action(board, action)
    if move is None:
        return None
    free = [s for s in chess.SQUARES if board.piece_at(s) is None and s != move.to_square]
    for king in free:
        for their_king in free:
            if their_king == king:
                continue
            trial = board.copy()
            trial.set_piece_at(king, chess.Piece(chess.KING, chess.WHITE))
            trial.set_piece_at(their_king, chess.Piece(chess.KING, chess.BLACK))
            if trial.is_valid() and move in trial.legal_moves:
                return trial
    return None


def test_every_compact_move_can_be_legal() -> None:
    never = [int(a) for a in COMPACT_ACTIONS if _position_for(int(a)) is None]
    assert never == []


# -- ChessPolicy -------------------------------------------------------------------------------

TRAINING = {
    "algo": "maskable_ppo",
    "learning_rate": 3e-4,
    "n_steps": 32,
    "batch_size": 64,
    "n_epochs": 2,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_range": 0.2,
    "ent_coef": 0.01,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "device": "cpu",
}
POLICIES = {"chess_mlp": {"policy": "chess_mlp", "size": "tiny"},
            "chess_resnet": {"policy": "chess_resnet", "size": "tiny"}}  # fmt: skip


def make_venv(n: int = 4) -> DummyVecEnv:
    """Random openings: many legal moves, captures, both colours to move over a game."""
    return DummyVecEnv([lambda: ChessEnv(start="random_opening", max_plies=60)] * n)


@pytest.fixture(params=list(POLICIES), scope="module")
def model(request: pytest.FixtureRequest) -> MaskablePPO:
    """A fresh agent of each chess policy on four random-opening envs."""
    agent = build_ppo({**TRAINING, **POLICIES[request.param]}, make_venv(), seed=0)
    assert isinstance(agent, MaskablePPO)
    assert isinstance(agent.policy, ChessPolicy)
    return agent


def positions(venv: DummyVecEnv, steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Observations and 4672-wide masks of ``venv`` over ``steps`` random legal steps."""
    rng = np.random.default_rng(seed)
    venv.seed(seed)
    obs = venv.reset()
    all_obs, all_masks = [], []
    for _ in range(steps):
        masks = np.stack(venv.env_method("action_masks"))
        all_obs.append(obs)
        all_masks.append(masks)
        actions = [rng.choice(np.flatnonzero(m)) for m in masks]
        obs, _, _, _ = venv.step(np.array(actions))
    return np.concatenate(all_obs), np.concatenate(all_masks)


@pytest.fixture(scope="module")
def batch() -> tuple[np.ndarray, np.ndarray]:
    return positions(make_venv(), steps=12, seed=1)


def test_forward_plays_only_legal_layout_actions(
    model: MaskablePPO, batch: tuple[np.ndarray, np.ndarray]
) -> None:
    obs, masks = batch
    policy = model.policy
    tensor = torch.as_tensor(obs, dtype=torch.float32)
    torch.manual_seed(0)
    with torch.no_grad():
        for deterministic in (False, True):
            for _ in range(20 if not deterministic else 1):
                actions, values, log_probs = policy(tensor, deterministic, action_masks=masks)
                assert actions.shape == (len(obs),) and values.shape == (len(obs), 1)
                assert masks[np.arange(len(obs)), actions.numpy()].all()
                assert (log_probs <= 0).all() and torch.isfinite(log_probs).all()


def test_evaluate_actions_agrees_with_forward(
    model: MaskablePPO, batch: tuple[np.ndarray, np.ndarray]
) -> None:
    obs, masks = batch
    policy = model.policy
    tensor = torch.as_tensor(obs, dtype=torch.float32)
    torch.manual_seed(1)
    with torch.no_grad():
        actions, values, log_probs = policy(tensor, action_masks=masks)
        for given in (masks, torch.as_tensor(masks), torch.as_tensor(compact_masks(masks)),
                      compact_masks(masks)):  # fmt: skip
            v, lp, entropy = policy.evaluate_actions(tensor, actions, action_masks=given)
            torch.testing.assert_close(lp, log_probs)
            torch.testing.assert_close(v, values)
            assert (entropy >= 0).all()
        # Masks matter: without them the same actions are less likely.
        _, unmasked, _ = policy.evaluate_actions(tensor, actions, action_masks=None)
        assert (unmasked < log_probs).all()


def test_predict_with_masks_is_legal(
    model: MaskablePPO, batch: tuple[np.ndarray, np.ndarray]
) -> None:
    obs, masks = batch
    for deterministic in (False, True):
        actions, _ = model.predict(obs, action_masks=masks, deterministic=deterministic)
        assert masks[np.arange(len(obs)), actions].all()
    one, _ = model.predict(obs[0], action_masks=masks[0], deterministic=True)
    assert masks[0, int(one)]


def test_save_and_load_give_the_same_moves(
    model: MaskablePPO, batch: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    obs, masks = batch
    model.save(tmp_path / "agent.zip")
    loaded = MaskablePPO.load(tmp_path / "agent.zip", device="cpu")
    assert isinstance(loaded.policy, ChessPolicy)
    before, _ = model.predict(obs, action_masks=masks, deterministic=True)
    after, _ = loaded.predict(obs, action_masks=masks, deterministic=True)
    assert np.array_equal(before, after)
    with torch.no_grad():
        tensor = torch.as_tensor(obs, dtype=torch.float32)
        actions = torch.as_tensor(before)
        _, lp_before, _ = model.policy.evaluate_actions(tensor, actions, action_masks=masks)
        _, lp_after, _ = loaded.policy.evaluate_actions(tensor, actions, action_masks=masks)
    torch.testing.assert_close(lp_before, lp_after)


def test_training_stores_compact_bool_masks_and_learns(model: MaskablePPO) -> None:
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(256)
    assert model.num_timesteps >= 256
    buffer = model.rollout_buffer
    assert isinstance(buffer, CompactMaskRolloutBuffer)
    assert buffer.action_masks.dtype == np.bool_
    assert buffer.action_masks.size == 32 * 4 * N_COMPACT
    stored = buffer.action_masks.reshape(-1, N_COMPACT)
    actions = buffer.actions.reshape(-1).astype(np.int64)
    compact = TO_COMPACT[actions]
    assert (compact >= 0).all()
    assert stored[np.arange(len(actions)), compact].all()  # each stored move was legal
    assert (stored.sum(1) >= 1).all() and (stored.sum(1) < N_COMPACT // 4).all()
    after = list(model.policy.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after, strict=True))


def test_compact_buffer_takes_either_mask_width() -> None:
    venv = make_venv(2)
    agent = build_ppo({**TRAINING, **POLICIES["chess_mlp"]}, venv, seed=0)
    buffer = agent.rollout_buffer
    buffer.reset()
    obs, masks = positions(venv, steps=2, seed=3)
    for rows, given in ((slice(0, 2), masks[:2]), (slice(2, 4), compact_masks(masks[2:]))):
        buffer.add(
            obs[rows], np.zeros((2, 1)), np.zeros(2), np.zeros(2), torch.zeros(2, 1),
            torch.zeros(2), action_masks=given,
        )  # fmt: skip
    assert np.array_equal(buffer.action_masks[:2].reshape(-1, N_COMPACT), compact_masks(masks))


# -- the convolutional move head ------------------------------------------------------------


@pytest.mark.parametrize(
    ("uci", "square", "plane"),
    [("e2e4", chess.E2, 1), ("g1f3", chess.G1, 63), ("b1c3", chess.B1, 56)],
)
def test_conv_policy_head_scores_a_move_at_its_from_square(
    uci: str, square: int, plane: int
) -> None:
    board = chess.Board()
    action = encode_move(board, chess.Move.from_uci(uci))
    assert action == square * 73 + plane  # e2e4 = 877
    # The observation's rows are ranks and its columns files: the head must read them so.
    rank, file = chess.square_rank(square), chess.square_file(square)
    assert board_planes(board)[0 if uci.startswith("e") else 1][rank, file] == 1
    head = ConvPolicyHead(channels=4)
    with torch.no_grad():
        head.conv.weight.zero_()
        head.conv.bias.zero_()
        head.conv.weight[plane, 2, 0, 0] = 5.0  # plane ← channel 2
    features = torch.zeros(1, 4, 8, 8)
    features[0, 2, rank, file] = 1.0
    logits = head(features.flatten(1))
    assert logits.shape == (1, N_COMPACT)
    assert torch.nonzero(logits[0]).flatten().tolist() == [int(TO_COMPACT[action])]
    assert logits[0, TO_COMPACT[action]] == 5.0
