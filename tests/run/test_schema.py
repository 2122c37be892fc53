"""The config schema: every key declared, every bad value or key one line and exit code 2,
and only the user's mistakes; a bug is exit code 1 with its traceback, kept in train.log."""

from __future__ import annotations

import functools
import json
import string
from pathlib import Path
from typing import Any

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envs.chess.engine import EngineNotFoundError, EngineStoppedError
from envs.chess.starts import FenFileError
from envs.qa.vec_env import QAVecEnv
from incentives.domain import Domain, Setting
from incentives.run.cli import config_problem, user_fixable
from incentives.run.configs import group_options
from incentives.run.resume import ResumeError
from incentives.run.schema import SETTINGS, ConfigError, check, describe, unknown_key
from incentives.run.train import plan_run
from tests.conftest import ROOT, TINY, run_cli
from tests.run.test_config import compose_config

CHESS = ("env=chess", "agent=maskable_ppo", "reward=sparse_win")
TEXT = ("env=text", "agent=lm", "reward=next_token")


@pytest.mark.parametrize(
    "overrides",
    [
        [f"env={o}", *(CHESS[1:] if o == "chess" else TEXT[1:] if o == "text" else [])]
        for o in group_options("env")
    ]
    + [[*CHESS, f"reward={o}"] for o in ("material", "potential", "check_bonus")]
    + [[f"+experiment={o}"] for o in group_options("experiment")],
    ids=lambda o: " ".join(o),
)
def test_every_key_of_every_option_is_declared(overrides: list[str]) -> None:
    check(compose_config(*overrides))  # no unknown key, every default accepted


BAD_VALUES = [
    # (overrides, the one line)
    (["agent.n_steps=0"], "agent.n_steps=0; accepted: an integer >= 1"),
    (["agent.batch_size=0"], "agent.batch_size=0; accepted: an integer >= 2"),
    (["agent.gamma=2"], "agent.gamma=2; accepted: a number in [0, 1]"),
    (["agent.learning_rate=0"], "agent.learning_rate=0; accepted: a number in (0, 1]"),
    (["agent.device=gpu"], "agent.device='gpu'; accepted: auto, cpu, cuda, cuda:<n> or mps"),
    (["checkpoint.every=-5"], "checkpoint.every=-5; accepted: an integer >= 0"),
    (["eval.episodes=0"], "eval.episodes=0; accepted: an integer >= 1"),
    (["seed=abc"], "seed='abc'; accepted: an integer in [0, 4294967295]"),
    (["progress_bar=maybe"], "progress_bar='maybe'; accepted: true or false"),
    (["env.n_envs=1", "agent.n_steps=1"], "agent.n_steps=1; accepted: n_steps x env.n_envs"),
    (["env.kwargs.n_candidates=1"], "n_candidates=1 is invalid; accepted: an integer >= 2"),
    (["warmup=[3]"], "warmup[0]=3; accepted: a mapping"),
    (["env.domain=nope"], "env.domain='nope'; accepted: chess, qa, text"),
    (["agent.gamma=${nope}"], "agent.gamma cannot be resolved"),
    (["seed=[1,"], "'seed=[1,': "),
]


@pytest.mark.parametrize(("args", "line"), BAD_VALUES, ids=[" ".join(a) for a, _ in BAD_VALUES])
def test_bad_value_is_named_with_what_is_accepted(args: list[str], line: str) -> None:
    problem = config_problem(args)
    assert problem is not None and line in problem, problem
    assert "\n" not in problem and "accepted" in problem


UNKNOWN_KEYS = [
    (["agent.learning_rat=0.1"], "unknown key 'agent.learning_rat'; accepted (closest): "
     "agent.learning_rate"),
    (["+foo=1"], "unknown key 'foo'; accepted: agent, budget, checkpoint, env, eval"),
    (["+agent.gama=0.9"], "unknown key 'agent.gama'; accepted (closest): agent.gamma"),
    (["+env.kwargs.n_candidate=3"], "unknown key 'env.kwargs.n_candidate'; accepted (closest): "
     "env.kwargs.n_candidates"),
    (["+eval.ladder.move_quality.dept=3"], "accepted (closest): eval.ladder.move_quality.depth"),
    ([*CHESS, "+env.selfplay.treshold=0.5"], "accepted (closest): env.selfplay.threshold"),
    (["-m", "seed=0,1", "agent.n_step=3"], "accepted (closest): agent.n_steps"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "line"), UNKNOWN_KEYS, ids=[" ".join(a) for a, _ in UNKNOWN_KEYS])
def test_unknown_key_is_named_with_the_closest(args: list[str], line: str) -> None:
    problem = config_problem(args)
    assert problem is not None and problem.startswith("unknown key ") and line in problem, problem


def test_good_commands_pass() -> None:
    assert config_problem(["agent.gamma=0.9", "+experiment=qa_grid", "reward.wrong=-3"]) is None
    assert config_problem(["-m", "reward=binary,hedging_grid", "seed=0,1"]) is None
    assert config_problem([*CHESS, "env.selfplay.enabled=true"]) is None
    assert config_problem(["--cfg", "job", "agent.gamma=7"]) is None  # Hydra's to read


# -- the property: any wrong value or key is one line naming it, never a traceback --------

#: The keys whose values the schema itself bounds (kind and range), with a sure-bad value.
SCALARS = {k: s for k, s in SETTINGS.items() if s.kind in ("int", "float", "bool") and s.required}

_word = st.text(string.ascii_lowercase + "_", min_size=1, max_size=12)
_wrong_value = st.one_of(
    st.integers(min_value=-(10**12), max_value=-1).map(str),
    st.sampled_from(["abc", "nan", "inf", "-inf", "[1,2]", "{a: 1}", "null", "''", "1e400"]),
    _word.filter(lambda w: w not in ("true", "false", "null", "nan", "inf")),
)
_any_value = st.one_of(
    _wrong_value,
    st.integers(min_value=-(10**6), max_value=10**12).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.booleans().map(lambda b: str(b).lower()),
)
_FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def _default_config() -> str:
    return json.dumps(compose_config())


def _problem(key: str, raw: str) -> str | None:
    """``config_problem`` for one override ``key=raw`` on the default config, fast: the
    config composed once (Hydra's compose API), the value read by Hydra's override parser,
    then the run's whole check (``plan_run``); a user's mistake is returned as its line."""
    (override,) = OverridesParser.create().parse_overrides([f"{key}={raw}"])
    config = json.loads(_default_config())
    *parents, leaf = key.split(".")
    node = config
    for part in parents:
        node = node[part]
    node[leaf] = override.value()
    try:
        plan_run(config)
    except Exception as error:
        if user_fixable(error):
            return " ".join(str(error).split())
        raise  # a bug: the property fails with its traceback
    return None


@_FAST
@given(key=st.sampled_from(sorted(SCALARS)), value=_wrong_value)
def test_a_wrong_value_is_one_line_naming_the_key(key: str, value: str) -> None:
    problem = _problem(key, value)
    assert problem is not None, (key, value)
    assert problem.startswith(f"{key}=") and "; accepted: " in problem


@_FAST
@given(key=st.sampled_from(sorted(SETTINGS)), value=_any_value)
def test_any_value_is_accepted_or_one_line(key: str, value: str) -> None:
    if key.endswith(".*") or SETTINGS[key].kind == "mapping" or key.count(".") > 1:
        return
    problem = _problem(key, value)  # never raises: no bug is hit
    assert problem is None or "accepted" in problem, problem


@_FAST
@given(
    section=st.sampled_from(
        ["", "agent.", "eval.", "checkpoint.", "env.", "env.kwargs.", "reward."]
    ),
    name=_word,
    value=_any_value,
)
def test_an_unknown_key_is_one_line_naming_it(section: str, name: str, value: str) -> None:
    key = f"{section}{name}"
    defaults = json.loads(_default_config())
    problem = _problem(key, value)
    if section == "reward.":  # a scheme's parameter: the scheme names an unknown one
        if name not in defaults["reward"]:
            assert problem is not None and f"unknown parameter {name!r}; accepted" in problem
    elif key not in SETTINGS and name not in defaults["env"]["kwargs"]:
        assert problem is not None and problem.startswith(f"unknown key {key!r}; accepted")


# -- the schema's parts ------------------------------------------------------------------


def test_setting_says_what_it_accepts() -> None:
    assert Setting("int", "n", 1).accepted() == "an integer >= 1"
    assert Setting("str", "k", choices=("a", "b"), nullable=True).accepted() == (
        "one of a, b, or null"
    )
    assert not Setting("int", "n").accepts(True) and not Setting("float", "x").accepts("1")
    with pytest.raises(ValueError, match="kind='integer'"):
        Setting("integer", "n")


def test_a_domain_declares_its_env_keys() -> None:
    domain = Domain("d", "a domain", behaviour="x:y", env_settings={"level": Setting("int", "l")})
    config = {**compose_config(), "env": {**compose_config()["env"], "level": 3}}
    check(config, domain.settings())
    with pytest.raises(ConfigError, match=r"env.level='x'; accepted: an integer"):
        check({**config, "env": {**config["env"], "level": "x"}}, domain.settings())
    with pytest.raises(ValueError, match="not a mapping of Setting"):
        Domain("d", "d", behaviour="x:y", env_settings={"level": 3}).settings()  # type: ignore[dict-item]


def test_unknown_key_lists_the_siblings_when_none_is_close() -> None:
    assert unknown_key("agent.zzz", ["agent.gamma", "seed"]) == (
        "unknown key 'agent.zzz'; accepted: agent.gamma"
    )


def test_describe_covers_every_key_and_scheme() -> None:
    text = describe()
    for key in [*SETTINGS, "env.selfplay.threshold", "env.curriculum", "hedging_grid"]:
        assert key.removesuffix(".*") in text, key
    assert max(len(line) for line in text.splitlines()) <= 100


@pytest.mark.parametrize(
    ("error", "users"),
    [
        (ConfigError("seed='abc'; accepted: an integer"), True),
        (ResumeError("checkpoint of another config; accepted: resume=false"), True),
        (EngineNotFoundError("no Stockfish binary"), True),
        (FenFileError("'x.fen' holds no FEN"), True),
        (ValueError("logits contain NaN"), False),
        (EngineStoppedError("Stockfish stopped twice in one move"), False),
        (OSError("disk on fire"), False),
        (KeyError("agent"), False),
    ],
)
def test_only_the_users_mistakes_are_user_errors(error: BaseException, users: bool) -> None:
    assert user_fixable(error) is users


# -- through the real CLI ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["agent.n_steps=0"], "agent.n_steps=0; accepted: an integer >= 1"),
        (["agent.learning_rat=0.1"], "unknown key 'agent.learning_rat'"),
        (["+foo=1"], "unknown key 'foo'"),
        (["seed=abc"], "seed='abc'; accepted: an integer"),
    ],
)
def test_cli_refuses_in_one_line_and_writes_nothing(
    tmp_path: Path, args: list[str], line: str
) -> None:
    done = run_cli(*args, f"hydra.run.dir={tmp_path / 'run'}", cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"incentives-train: error: {line}"] or (
        len(done.stderr.splitlines()) == 1 and line in done.stderr
    ), done.stderr
    assert not (tmp_path / "run").exists()


def test_cli_schema_and_help_show_the_descriptions() -> None:
    schema = run_cli("--schema", cwd=ROOT)
    assert schema.returncode == 0 and "discount of future rewards" in schema.stdout
    shown = run_cli("--help", cwd=ROOT)
    assert shown.returncode == 0, shown.stderr
    assert "== Settings ==" in shown.stdout and "agent.gamma" in shown.stdout


class BrokenVecEnv(QAVecEnv):
    """The QA env with a bug: its step fails with an error a user's input cannot cause."""

    def step_wait(self) -> Any:
        raise ValueError("logits contain NaN (a bug planted by the test)")


def test_a_bug_is_exit_1_with_its_traceback_kept_in_train_log(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    broken = f"env.batched={__name__}.BrokenVecEnv"
    done = run_cli(*TINY, broken, f"hydra.run.dir={run_dir}", cwd=ROOT)
    assert done.returncode == 1, done.stderr
    assert "Traceback" in done.stderr and "planted by the test" in done.stderr
    log = (run_dir / "train.log").read_text()
    assert "Traceback" in log and "ValueError: logits contain NaN" in log
