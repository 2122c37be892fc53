"""Tests of the QA env: exact posterior, seeded stream, single and batched env."""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.vec_env import VecMonitor

import envs  # noqa: F401 - registers incentives/QA-v0
from envs.qa import (
    EVENT_KEYS,
    MODES,
    QAEnv,
    QAVecEnv,
    QuestionGenerator,
    Questions,
    QuestionStream,
    decode_action,
    encode_action,
    grade,
)

RELIABILITIES = (0.6, 0.9)


def brute_force_posterior(evidence: np.ndarray, reliabilities: tuple[float, ...]) -> np.ndarray:
    """Bayes' rule straight from the generative model, one vote at a time."""
    k = evidence.shape[0]
    joint = []
    for truth in range(k):
        likelihood = 1.0 / k  # uniform prior
        for candidate, level in itertools.product(range(k), range(len(reliabilities))):
            r = reliabilities[level]
            p_vote = r if candidate == truth else (1 - r) / (k - 1)
            likelihood *= p_vote ** int(evidence[candidate, level])
        joint.append(likelihood)
    return np.array(joint) / math.fsum(joint)


HAND_MADE = [
    np.array([[1, 0], [0, 0], [0, 0]]),
    np.array([[2, 0], [0, 1], [0, 0]]),
    np.array([[0, 3], [1, 1], [2, 0]]),
    np.array([[4, 0], [0, 1], [1, 2]]),
]


@pytest.mark.parametrize("evidence", HAND_MADE)
def test_posterior_matches_brute_force(evidence: np.ndarray) -> None:
    gen = QuestionGenerator(n_candidates=3, reliabilities=RELIABILITIES)
    got = gen.posterior(evidence[None])[0]
    np.testing.assert_allclose(got, brute_force_posterior(evidence, RELIABILITIES), rtol=1e-12)


def test_no_evidence_gives_uniform_posterior_and_lowest_best() -> None:
    gen = QuestionGenerator(n_candidates=4)
    qs = gen.sample(np.random.default_rng(0), 2000)
    unanswerable = ~qs.answerable
    assert unanswerable.any()
    assert (qs.evidence[unanswerable] == 0).all()
    np.testing.assert_allclose(qs.posterior[unanswerable], 0.25)
    np.testing.assert_allclose(qs.p_star[unanswerable], 0.25)
    assert (qs.best[unanswerable] == 0).all()
    assert (qs.evidence[qs.answerable].sum(axis=(1, 2)) >= 1).all()


def test_p_star_and_best_break_ties_to_lowest_index() -> None:
    gen = QuestionGenerator(n_candidates=3, reliabilities=RELIABILITIES)
    evidence = np.array([[[0, 0], [1, 0], [1, 0]], [[0, 0], [0, 0], [0, 1]]])
    qs = Questions(evidence, np.array([2, 0]), gen.posterior(evidence), np.array([True, True]))
    assert qs.best.tolist() == [1, 2]
    np.testing.assert_allclose(qs.p_star, qs.posterior.max(axis=1))
    assert qs.posterior[0, 1] == qs.posterior[0, 2]


def test_sampled_counts_respect_the_model() -> None:
    gen = QuestionGenerator(min_witnesses=2, max_witnesses=5, unanswerable_share=0.3)
    qs = gen.sample(np.random.default_rng(1), 20_000)
    witnesses = qs.evidence.sum(axis=(1, 2))
    assert witnesses[qs.answerable].min() == 2 and witnesses.max() == 5
    assert abs((~qs.answerable).mean() - 0.3) < 0.015
    obs = gen.observe(qs)
    assert obs.dtype == np.float32 and obs.shape == (20_000, 28)
    assert obs.min() >= 0 and obs.max() <= 1


def test_posterior_is_calibrated() -> None:
    """Over 200k questions, how often the best answer is right matches p_star per bin."""
    gen = QuestionGenerator()
    qs = gen.sample(np.random.default_rng(2024), 200_000)
    right = qs.best == qs.truth
    bins = np.digitize(qs.p_star, np.linspace(0.25, 1.0, 11)[1:-1])
    checked = 0
    for b in np.unique(bins):
        in_bin = bins == b
        if in_bin.sum() < 5000:
            continue
        checked += 1
        assert abs(right[in_bin].mean() - qs.p_star[in_bin].mean()) < 0.015, b
    assert checked >= 6
    # Every candidate, not only the best: posterior mass matches truth frequency.
    is_truth = qs.truth[:, None] == np.arange(4)
    p = qs.posterior.ravel()
    for lo, hi in [(0.0, 0.05), (0.05, 0.2), (0.2, 0.5), (0.5, 0.8), (0.8, 1.01)]:
        sel = (p >= lo) & (p < hi)
        assert abs(is_truth.ravel()[sel].mean() - p[sel].mean()) < 0.01, (lo, hi)


def _same(a: Questions, b: Questions) -> bool:
    return all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("evidence", "truth", "posterior", "answerable")
    )


def test_stream_does_not_depend_on_take_sizes() -> None:
    gen = QuestionGenerator()
    whole = QuestionStream(gen, seed=5).take(2500)  # crosses two block boundaries
    for sizes in ([1] * 8, [3, 5], [1000, 24, 1, 1475], [2500], [0, 7, 0, 2493]):
        stream = QuestionStream(gen, seed=5)
        parts = Questions.concatenate([stream.take(n) for n in sizes])
        assert _same(parts, whole.slice(0, sum(sizes))), sizes
    assert not _same(QuestionStream(gen, seed=6).take(2500), whole)


def test_env_checkers_pass() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make("incentives/QA-v0").unwrapped)
        check_env(gym.make("incentives/QA-v0", n_candidates=2, reliabilities=(0.7,)).unwrapped)
        sb3_check_env(QAEnv())


def test_make_with_kwargs() -> None:
    env = gym.make("incentives/QA-v0", n_candidates=3, reliabilities=(0.5, 0.8))
    obs, info = env.reset(seed=0)
    assert obs.shape == (6,) and info == {}
    assert env.action_space == gym.spaces.Discrete(7)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("right", [True, False])
def test_reward_and_events_per_mode(mode: str, right: bool) -> None:
    env = QAEnv()
    env.reset(seed=11)
    q = env.question
    assert q is not None
    truth = int(q.truth[0])
    answer = truth if right else (truth + 1) % 4
    action = encode_action(mode, answer, 4)  # type: ignore[arg-type]
    _, reward, terminated, truncated, info = env.step(action)
    correct = right and mode != "abstain"
    assert set(info) == set(EVENT_KEYS)
    assert (reward, terminated, truncated) == (float(correct), True, False)
    assert info["mode"] == mode and info["correct"] is correct
    assert info["answer"] == (-1 if mode == "abstain" else answer)
    assert info["p_star"] == pytest.approx(float(q.p_star[0]))
    chosen = q.p_star[0] if mode == "abstain" else q.posterior[0, answer]
    assert info["p_chosen"] == pytest.approx(float(chosen))
    assert info["stratum"] in ("answerable", "unanswerable")
    with pytest.raises(RuntimeError, match="reset"):
        env.step(action)


def test_strata() -> None:
    env = QAEnv(unanswerable_share=1.0)
    env.reset(seed=0)
    _, _, _, _, info = env.step(0)
    assert info["stratum"] == "unanswerable" and info["p_star"] == pytest.approx(0.25)


def test_decode_encode_roundtrip() -> None:
    k = 5
    for action in range(2 * k + 1):
        mode, answer = decode_action(action, k)
        assert encode_action(mode, answer, k) == action
    assert decode_action(2 * k, k) == ("abstain", -1)
    with pytest.raises(ValueError, match="action"):
        decode_action(2 * k + 1, k)
    with pytest.raises(ValueError, match="mode"):
        encode_action("guess", 0, k)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_candidates": 1}, "n_candidates"),
        ({"reliabilities": (0.5, 1.0)}, "reliabilities"),
        ({"reliabilities": (0.0,)}, "reliabilities"),
        ({"reliabilities": ()}, "reliabilities"),
        ({"min_witnesses": 0}, "min_witnesses"),
        ({"min_witnesses": 3, "max_witnesses": 2}, "max_witnesses"),
        ({"unanswerable_share": 1.5}, "unanswerable_share"),
    ],
)
def test_bad_params_raise_value_error(kwargs: dict[str, Any], name: str) -> None:
    for build in (QuestionGenerator, QAEnv, lambda **kw: QAVecEnv(2, **kw)):
        with pytest.raises(ValueError, match=name):
            build(**kwargs)


def test_grade_rejects_out_of_range_actions() -> None:
    qs = QuestionGenerator().sample(np.random.default_rng(0), 3)
    with pytest.raises(ValueError, match="action"):
        grade(qs, [0, 9, 1])


def test_batched_and_single_env_see_the_same_questions() -> None:
    n, steps, seed = 8, 4, 123
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 9, size=(steps, n))

    single = QAEnv()
    single_obs, single_infos = [], []
    obs, _ = single.reset(seed=seed)
    for a in actions.ravel():
        single_obs.append(obs)
        _, _, _, _, info = single.step(a)
        single_infos.append(info)
        obs, _ = single.reset()
    single_obs.append(obs)  # the question after the last step

    venv = QAVecEnv(n)
    assert venv.seed(seed) == [seed] * n
    batch_obs = [venv.reset()]
    batch_infos = []
    for t in range(steps):
        obs_t, rewards, dones, infos = venv.step(actions[t])
        np.testing.assert_array_equal(infos[0]["terminal_observation"], batch_obs[-1][0])
        batch_obs.append(obs_t)
        batch_infos.extend(infos)
        assert dones.all() and rewards.dtype == np.float32
        assert rewards.tolist() == [float(i["correct"]) for i in infos]

    flat = np.concatenate(batch_obs)
    np.testing.assert_array_equal(np.stack(single_obs), flat[: len(single_obs)])
    for s, b in zip(single_infos, batch_infos, strict=True):
        assert set(b) == {*EVENT_KEYS, "terminal_observation", "TimeLimit.truncated"}
        assert {k: b[k] for k in EVENT_KEYS} == s
        assert b["TimeLimit.truncated"] is False


def test_reseeding_restarts_and_unseeded_reset_continues() -> None:
    env = QAEnv()
    first, _ = env.reset(seed=9)
    env.reset()
    again, _ = env.reset(seed=9)
    np.testing.assert_array_equal(first, again)
    venv = QAVecEnv(4)
    venv.seed(9)
    a = venv.reset()
    b = venv.reset()
    venv.seed(9)
    np.testing.assert_array_equal(venv.reset(), a)
    assert not np.array_equal(a, b)


def test_vec_env_under_vec_monitor() -> None:
    venv = VecMonitor(QAVecEnv(16))
    venv.seed(0)
    venv.reset()
    _, rewards, _, infos = venv.step(np.zeros(16, dtype=np.int64))
    for r, info in zip(rewards, infos, strict=True):
        assert info["episode"]["r"] == r and info["episode"]["l"] == 1
    assert venv.get_attr("render_mode") == [None] * 16
    assert venv.env_is_wrapped(gym.Wrapper) == [False] * 16
    assert venv.env_method("seed", 3) == [[3] * 16] * 16
    with pytest.raises(NotImplementedError):
        venv.env_method("no_such_method")


# -- exact resume: the envs' state ------------------------------------------------------


@pytest.mark.parametrize("served", [0, 1, 1023, 1024, 1025, 3000])
def test_stream_state_continues_where_it_stood(served: int) -> None:
    import pickle

    generator = QuestionGenerator()
    stream = QuestionStream(generator, seed=11, block_size=1024)
    stream.take(served)
    copy = QuestionStream(generator, seed=0)
    copy.set_state(pickle.loads(pickle.dumps(stream.get_state())))
    assert copy.served == served
    a, b = stream.take(1500), copy.take(1500)
    assert (a.evidence == b.evidence).all() and (a.truth == b.truth).all()


def test_env_state_continues_the_stream_and_the_episode() -> None:
    import pickle

    env = gym.make("incentives/QA-v0").unwrapped
    env.reset(seed=4)
    for _ in range(5):
        env.step(0)
        env.reset()
    state = pickle.loads(pickle.dumps(env.get_state()))
    copy = QAEnv()
    copy.set_state(state)
    for action in [3, 8, 1]:
        assert copy.step(action)[4] == env.step(action)[4]
        obs, _ = env.reset()
        assert (copy.reset()[0] == obs).all()
    fresh = QAEnv()  # never reset: its generator draws the stream seed
    state = fresh.get_state()
    again = QAEnv()
    again.set_state(state)
    assert (fresh.reset()[0] == again.reset()[0]).all()


def test_vec_env_state_continues_the_stream() -> None:
    import pickle

    venv = QAVecEnv(8)
    venv.seed(2)
    venv.reset()
    for _ in range(200):  # past a block of the stream
        venv.step(np.zeros(8, dtype=int))
    copy = QAVecEnv(8)
    copy.seed(99)  # a seed set afterwards does not count: the state's does
    copy.set_state(pickle.loads(pickle.dumps(venv.get_state())))
    for _ in range(3):
        actions = np.arange(8) % 9
        a, b = venv.step(actions), copy.step(actions)
        assert (a[0] == b[0]).all() and (a[1] == b[1]).all()
        assert [i["p_star"] for i in a[3]] == [i["p_star"] for i in b[3]]
