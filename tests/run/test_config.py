"""Every Hydra config group option composes, and what it describes can be built."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from agents.ppo import build_ppo
from incentives.domains.qa.grids import family_member
from incentives.registry import scheme_type
from incentives.run import configs
from incentives.run.build import build_behaviour, build_env, phases
from incentives.run.cli import unknown_choice
from incentives.run.configs import GROUPS, config_dir, group_options, join_plugin_configs

CONF = Path(config_dir())


def options(group: str) -> list[str]:
    """The options of a config group, as the CLI sees them (installed plugins' too)."""
    return group_options(group)


def compose_config(*overrides: str) -> dict[str, Any]:
    """The composed config for ``overrides`` on the CLI's search path, as plain containers."""
    join_plugin_configs()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides))
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def scheme_name(reward: dict[str, Any]) -> str:
    """The registered scheme a reward config builds: a QA grid family member's own."""
    if reward["name"] == "grid_family":
        return family_member(reward["family_seed"], reward["index"], reward["size"])[0]
    return str(reward["name"])


def option_schemes(option: str) -> list[str]:
    """The registered schemes a reward option uses: its ``name``, or a mix's parts'."""
    spec = OmegaConf.to_container(OmegaConf.load(CONF / "reward" / f"{option}.yaml"))
    assert isinstance(spec, dict)
    if spec["name"] == "mix":
        return [str(part["scheme"]) for part in spec["parts"]]
    return [scheme_name(spec)]


def needs(option: str, event: str) -> bool:
    """Whether a scheme of reward option ``option`` reads ``event``."""
    return any(event in scheme_type(n).signal_type.required_events for n in option_schemes(option))


def test_every_group_has_options() -> None:
    for group in GROUPS:
        assert options(group), f"conf/{group}/ has no options"


@pytest.mark.parametrize(
    "override",
    [f"{g}={o}" for g in ("env", "reward", "agent") for o in options(g)]
    + [f"+experiment={o}" for o in options("experiment")],
)
def test_option_composes_and_builds(override: str) -> None:
    if _is_text(override):
        return _text_option_composes_and_plans(override)
    # each scheme on the env whose events it reads: chess schemes on chess
    chess = override.startswith("reward=") and needs(override.split("=")[1], "learner_move")
    env = ["env=chess", "agent=maskable_ppo"] if chess or override == "env=chess" else []
    if override.startswith("agent=") and override != "agent=ppo":
        env = ["env=chess"]
    config = compose_config(*env, override, "env.n_envs=4", "agent.n_steps=8", "agent.batch_size=8")
    if chess and {"imitation", "dtm_shaping"} & set(option_schemes(override.split("=")[1])):
        config["env"]["kwargs"]["start"] = "kqk"  # the tablebase's schemes need its endings
    schedule = phases(config)
    assert schedule[-1].signal.name == scheme_name(config["reward"])
    assert schedule[-1].steps == config["budget"]
    venv = build_env(config["env"], schedule[0].signal, 4, seed=0)
    try:
        agent = build_ppo({**config["agent"], "device": "cpu"}, venv, seed=0)
        assert agent.n_envs == 4
        assert build_behaviour(config["env"], schedule[-1].signal).metrics() == {}
    finally:
        venv.close()


def _is_text(override: str) -> bool:
    """Whether an option belongs to the text domain (its LM learner, corpus, schemes)."""
    group, _, option = override.lstrip("+").partition("=")
    if group == "reward":
        return needs(option, "is_answer")
    return override in ("env=text", "agent=lm") or option.startswith("text_")


def _text_option_composes_and_plans(override: str) -> None:
    """A text option composes with the text env and the LM learner, and its plan (schema,
    phases, corpus, model shape) is built: the model has the planned parameter count."""
    from agents.lm import GPT
    from incentives.run.text import plan_text

    base = [] if override.startswith("+experiment=") else ["env=text", "agent=lm"]
    if override.startswith("reward="):
        base.append(override)
    else:
        base += [override, "reward=next_token"] if not override.startswith("+") else [override]
    plan = plan_text(compose_config(*dict.fromkeys(base)))
    assert plan.schedule[-1].signal.name == plan.config["reward"]["name"]
    assert plan.domain.name == "text" and len(plan.corpus.tokens) > 0
    assert sum(p.numel() for p in GPT(plan.spec).parameters()) > 0


def test_experiment_sets_its_folder_name() -> None:
    config = compose_config("+experiment=qa_grid")
    assert config["experiment_name"] == "qa_grid"
    assert [p.signal.name for p in phases(config)] == ["binary", "hedging_grid"]


def test_scheme_parameters_are_overridable() -> None:
    config = compose_config("reward.wrong=-3", "reward.hedged_wrong=-1")
    signal = phases(config)[-1].signal
    assert signal.params()["wrong"] == -3.0
    # hedge beats abstain above 2/3 (1.5p - 1 > 0); answer beats hedge above 0.8 (4p - 3 > 1.5p - 1)
    assert signal.thresholds() == pytest.approx((2 / 3, 0.8))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["reward=binray"],
            "unknown reward 'binray'; accepted: answer_only, answer_weighted, binary, check_bonus",
        ),
        (["-m", "reward=binary,nope"], "unknown reward 'nope'"),
        (
            ["+experiment=qa_gird"],
            "unknown experiment 'qa_gird'; accepted: chess_full, chess_kqk, chess_scale, "
            "chess_teach_vs_incentive, qa_demo",
        ),
        (["env=chess9"], "unknown env 'chess9'; accepted: chess, qa, text"),
        (
            ["-m", "hydra/launcher=jobllib"],
            "unknown hydra/launcher 'jobllib'; accepted: basic, joblib, ray, ray_aws, "
            "submitit_local, submitit_slurm",
        ),
    ],
)
def test_unknown_group_choice_is_named(args: list[str], expected: str) -> None:
    problem = unknown_choice(args)
    assert problem is not None and problem.startswith(expected)


def test_known_choices_pass() -> None:
    assert unknown_choice(["reward=binary,hedging_grid", "seed=0,1", "reward.wrong=-3"]) is None


def _plugin(root: Path, package: str, option: str) -> None:
    """A package under ``root`` whose ``conf`` folder holds one env option."""
    (root / package / "conf" / "env").mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    (root / package / "conf" / "env" / f"{option}.yaml").write_text(
        f"name: {option}\nid: incentives/QA-v0\nmodule: envs\nbatched: null\n"
        "vec_env: dummy\nn_envs: 2\ndomain: qa\nkwargs: {}\n"
    )


def _declare(monkeypatch: pytest.MonkeyPatch, **points: str) -> None:
    """Pretend the ``incentives.configs`` entry points ``points`` are installed."""
    declared = [EntryPoint(name, value, configs.CONFIG_GROUP) for name, value in points.items()]

    def entry_points(*, group: str) -> list[EntryPoint]:
        return declared if group == configs.CONFIG_GROUP else []

    monkeypatch.setattr(configs, "entry_points", entry_points)


def test_plugin_configs_join_the_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _plugin(tmp_path, "my_plugin", "bandit")
    monkeypatch.syspath_prepend(str(tmp_path))
    _declare(monkeypatch, mine="my_plugin.conf")
    assert configs.plugin_searchpath() == [("incentives.configs:mine", "pkg://my_plugin.conf")]
    assert options("env") == ["bandit", "chess", "qa", "text"]
    assert unknown_choice(["env=bandit"]) is None
    assert unknown_choice(["env=bandt"]) == "unknown env 'bandt'; accepted: bandit, chess, qa, text"
    config = compose_config("env=bandit")
    assert config["env"]["name"] == "bandit" and config["reward"]["name"] == "hedging_grid"


def test_a_users_searchpath_is_accepted(tmp_path: Path) -> None:
    _plugin(tmp_path, "local", "bandit")
    searchpath = f"hydra.searchpath=[file://{tmp_path / 'local' / 'conf'}]"
    assert unknown_choice(["env=bandit", searchpath]) is None
    assert unknown_choice(["env=bandt", searchpath]) == (
        "unknown env 'bandt'; accepted: bandit, chess, qa, text"
    )


def test_plugins_join_in_name_order(monkeypatch: pytest.MonkeyPatch) -> None:
    _declare(monkeypatch, zeta="z.conf", alpha="a.conf")
    assert [path for _, path in configs.plugin_searchpath()] == ["pkg://a.conf", "pkg://z.conf"]


def test_a_config_entry_point_names_a_package(monkeypatch: pytest.MonkeyPatch) -> None:
    _declare(monkeypatch, mine="my_plugin:CONF")
    with pytest.raises(ValueError, match="'mine' = 'my_plugin:CONF'; accepted: the package"):
        configs.plugin_searchpath()


def test_one_name_declared_by_two_packages_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    declared = [
        EntryPoint("mine", "a.conf", configs.CONFIG_GROUP),
        EntryPoint("mine", "b.conf", configs.CONFIG_GROUP),
    ]
    monkeypatch.setattr(configs, "entry_points", lambda *, group: declared)
    with pytest.raises(ValueError, match=r"'mine' is declared twice \(a.conf and b.conf\)"):
        configs.plugin_searchpath()
