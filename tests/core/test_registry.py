"""The registries: schemes and domains found through entry points, ours as a plugin's."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import pytest
import tomllib

import envs  # noqa: F401 - registers incentives/QA-v0
import incentives
from incentives import registry
from incentives.behaviour import Behaviour
from incentives.domain import Domain, RunExtension, load_object
from incentives.domains.qa.behaviour import QABehaviour
from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DECLARED = PYPROJECT["project"]["entry-points"]


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    """Entry points read anew, and the registries as they were afterwards."""
    schemes, domains = dict(registry._SCHEMES), dict(registry._DOMAINS)
    registry._declared.cache_clear()
    yield
    registry._declared.cache_clear()
    registry._SCHEMES.clear()
    registry._SCHEMES.update(schemes)
    registry._DOMAINS.clear()
    registry._DOMAINS.update(domains)


def distribution(where: Path, name: str, entry_points: str) -> None:
    """A minimal installed distribution (a ``.dist-info`` folder) declaring entry points."""
    info = where / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_our_schemes_and_domains_are_the_declared_entry_points() -> None:
    assert sorted(incentives.schemes()) == sorted(DECLARED["incentives.schemes"])
    assert incentives.domain_names() == sorted(DECLARED["incentives.domains"])
    for name, reference in DECLARED["incentives.schemes"].items():
        assert incentives.scheme_type(name) is load_object(reference)


def test_schemes_are_reachable_by_class_name() -> None:
    assert incentives.HedgingGrid is load_object("incentives.domains.qa.schemes:HedgingGrid")
    assert incentives.SparseWinSignal.name == "sparse_win"
    with pytest.raises(AttributeError, match="NoSuchScheme"):
        _ = incentives.NoSuchScheme


def test_unknown_names_list_what_is_installed() -> None:
    accepted = r"accepted: answer_only, answer_weighted, binary, "
    with pytest.raises(ValueError, match=rf"unknown reward scheme 'grid'; {accepted}"):
        incentives.scheme_type("grid")
    with pytest.raises(ValueError, match=r"unknown domain 'go'; accepted: chess, qa, text"):
        incentives.load_domain("go")


def test_make_refuses_what_is_not_an_env() -> None:
    with pytest.raises(ValueError, match=r"env is a str; accepted: a Gymnasium env"):
        incentives.make("binary", "incentives/QA-v0")


def test_make_on_a_vec_env_gives_the_vector_wrapper() -> None:
    from envs.qa import QAVecEnv
    from incentives.vec_scheme import VecRewardScheme

    venv = incentives.make("binary", QAVecEnv(num_envs=2))
    assert isinstance(venv, VecRewardScheme)
    assert venv.signal.name == "binary"
    assert isinstance(incentives.make("binary", gym.make("incentives/QA-v0")), gym.Wrapper)


def test_a_third_party_distribution_adds_a_scheme(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None
) -> None:
    """A real installed distribution (a dist-info folder on the path) declaring a scheme."""
    (tmp_path / "lenient.py").write_text(
        "from dataclasses import dataclass\n"
        "from incentives.domains.qa.schemes import QAScheme, QASignal\n"
        "@dataclass(frozen=True)\n"
        "class LenientSignal(QASignal):\n"
        "    name = 'lenient'\n"
        "    statement = 'everything pays 1'\n"
        "    def payoff(self, mode, correct):\n"
        "        return 1.0\n"
        "class Lenient(QAScheme):\n"
        "    signal_type = LenientSignal\n"
    )
    distribution(tmp_path, "lenient", "[incentives.schemes]\nlenient = lenient:Lenient\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert incentives.schemes()["lenient"] == "everything pays 1"
    env = incentives.make("lenient", gym.make("incentives/QA-v0"))
    env.reset(seed=0)
    assert env.step(8)[1] == 1.0  # "I don't know" pays 1 here
    monkeypatch.delitem(sys.modules, "lenient")


def test_two_packages_claiming_one_name_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None
) -> None:
    distribution(tmp_path, "rival", "[incentives.schemes]\nbinary = rival:Binary\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry._SCHEMES.pop("binary", None)
    with pytest.raises(ValueError, match=r"'binary' is declared twice"):
        incentives.scheme_type("binary")


def test_an_entry_point_that_is_not_a_domain_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None
) -> None:
    (tmp_path / "notadomain.py").write_text("DOMAIN = 'qa'\n")
    distribution(tmp_path, "notadomain", "[incentives.domains]\nodd = notadomain:DOMAIN\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match=r"'odd' \(notadomain:DOMAIN\) is not a Domain"):
        incentives.load_domain("odd")
    monkeypatch.delitem(sys.modules, "notadomain")


def test_a_domain_checks_what_its_references_load() -> None:
    odd = Domain("odd", "", behaviour="incentives.signal:Incentive", extension="incentives:Metric")
    with pytest.raises(ValueError, match=r"is not a Behaviour subclass"):
        odd.behaviour_type()
    with pytest.raises(ValueError, match=r"is not a RunExtension subclass"):
        odd.run_extension({})
    plain = Domain("plain", "", behaviour=QABehaviour)
    assert type(plain.run_extension({})) is RunExtension
    with pytest.raises(ValueError, match=r"'package.module:attribute'"):
        load_object("incentives.signal.Incentive")


def test_qa_declares_its_metrics_once() -> None:
    """The lists compare, TensorBoard and the emergence curves used to keep, by hand."""
    qa = incentives.load_domain("qa").behaviour_type()
    assert qa is QABehaviour and issubclass(qa, Behaviour)
    assert qa.names(compared=True) == (
        "answer_rate", "hedge_rate", "abstain_rate", "accuracy_answered",
        "hallucination_rate", "wrong_answer_rate", "abstain_rate_unanswerable", "t_hat",
        "regret_relative", "boundary_error",
    )  # fmt: skip
    assert qa.names(headline=True) == (
        "answer_rate", "hedge_rate", "abstain_rate", "hallucination_rate",
        "abstain_rate_unanswerable", "t_hat", "regret", "regret_relative",
    )  # fmt: skip
    assert set(qa.names(emergence=True)) == {
        "t_hat", "regret_relative", "hallucination_rate", "abstain_rate",
    }  # fmt: skip
    assert qa.headers()["regret_relative"] == "regret (rel.)"


def test_qa_metrics_are_the_declared_ones() -> None:
    """What the collector reports by a fixed name is what it declares, and the reverse."""
    env = incentives.make("hedging_grid", gym.make("incentives/QA-v0"))
    behaviour = QABehaviour(env.signal)
    env.reset(seed=0)
    for k in range(200):
        _, _, _, _, info = env.step(k % 9)
        behaviour.add(info)
        env.reset()
    # per-bin and per-threshold metrics are named by the bin and the threshold
    reported = {k for k in behaviour.metrics() if not k.startswith(("answered_by_p/", "boundary/"))}
    assert reported == set(QABehaviour.names())
    assert {k for k in behaviour.metrics() if k.startswith("boundary/")} == {
        f"boundary/{k}" for k in range(1, len(env.signal.thresholds()) + 1)
    }
