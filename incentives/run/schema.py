"""The config schema: every key of a run's config, its kind, range and purpose, in one place.

``conf/*.yaml`` hold the users' defaults and say what they are for; this module says
what each key accepts. :func:`check` walks a composed config before the run writes
anything: a key that is not declared is named with the closest declared ones; a value
out of its kind or range is named with what is accepted; both as a one-line
:class:`ConfigError` (exit code 2 in the CLI). ``incentives-train --schema`` (and the end
of ``--help``) prints :func:`describe`.

The schema is plain :class:`~incentives.domain.Setting` declarations checked by our own
code, not Hydra structured configs or pydantic models: the message is ours (one line,
``<key>=<value>; accepted: <what>``), a domain or plugin declares its own env keys with
the same core type without depending on the runner, and the rules that classes already
enforce stay there, stated once: a scheme checks its parameters (``reward.*``, warm-up
entries), an env its arguments (``env.kwargs``: their names here, against the env's
constructor, their values by building one), the agent's builder ``agent.policy``,
``size``, ``layers``, ``channels`` and ``blocks``, the chess extension its ladder,
self-play and curriculum.

Example:
    >>> try:
    ...     check({"seed": "abc"}, domain_settings={})
    ... except ConfigError as error:
    ...     print(error)
    seed='abc'; accepted: an integer in [0, 4294967295]
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

from incentives.domain import Setting
from incentives.errors import UserError

__all__ = [
    "AGENT_SETTINGS",
    "SETTINGS",
    "ConfigError",
    "check",
    "check_env_kwargs",
    "describe",
    "env_kwarg_names",
    "unknown_key",
]


class ConfigError(UserError):
    """A config value or key that cannot be used; the CLI prints it as one line, exit 2."""


_STEPS = "a positive whole number of env steps"
_AGENT = "agents.ppo"

#: Every key of the common config (``conf/config.yaml`` and the groups' shapes). A key
#: ``<node>.*`` admits any key below ``<node>`` (checked by the ``checked_by`` class).
SETTINGS: dict[str, Setting] = {
    "experiment_name": Setting(
        "str",
        "names the runs/<experiment>/ folder; set by +experiment=<name>",
        pattern=r"[\w.=,+-]+",
        accepted_text="a folder name (letters, digits, _ . = , + -)",
    ),
    "seed": Setting("int", "the one seed every generator and env stream comes from", 0, 2**32 - 1),
    "budget": Setting(
        "int", "env steps under `reward`, after the warm-up phases", 1, accepted_text=_STEPS
    ),
    "warmup": Setting(
        "list",
        "phases trained before `reward`: [{reward: binary, steps: 150000, <params>}]",
        checked_by="the schemes",
    ),
    "progress_bar": Setting("bool", "stable-baselines3's progress bar (tqdm + rich)"),
    "resume": Setting(
        "bool", "the same command resumes an unfinished run; false: a new folder beside it"
    ),
    "checkpoint": Setting("mapping", "checkpoints, for resuming a killed run"),
    "checkpoint.every": Setting("int", "env steps between checkpoints (0: none)", 0),
    "eval": Setting("mapping", "periodic deterministic evaluation on a fixed, seeded set"),
    "eval.name": Setting(
        "str",
        "logged as eval/<name>/<metric>",
        pattern=r"[\w.-]+",
        accepted_text="a TensorBoard tag part (letters, digits, _ . -)",
    ),
    "eval.every": Setting("int", "env steps between evaluations (0: only the final one)", 0),
    "eval.episodes": Setting("int", "episodes per evaluation", 1),
    "eval.n_envs": Setting("int", "envs the evaluation runs side by side", 1),
    "eval.seed": Setting("int", "seed of the evaluation's episodes", 0, 2**32 - 1),
    "eval.ladder": Setting(
        "mapping",
        "chess: more opponents after each evaluation (eval/ladder/<rung>/*)",
        required=False,
        nullable=True,
    ),
    "eval.ladder.opponents": Setting(
        "list",
        "the rungs, e.g. [random, greedy, {name: stockfish, depth: 1}]; []: off",
        required=False,
        checked_by="the domain's ladder",
    ),
    "eval.ladder.episodes": Setting(
        "int",
        "games per rung (Wilson 95% intervals)",
        required=False,
        checked_by="the domain's ladder",
    ),
    "eval.ladder.pgns": Setting(
        "int", "games per rung shown as TensorBoard text", 0, required=False
    ),
    "eval.ladder.tablebase": Setting(
        "bool",
        "judge the first rung's moves with our tablebase (eval/tablebase/*); null: "
        "on for the endgame starts it holds (kqk, krk)",
        required=False,
        nullable=True,
    ),
    "eval.ladder.transfer": Setting(
        "mapping",
        "the first rung again with other env.kwargs, e.g. {krk: {start: krk}} "
        "(eval/transfer/<name>/*): does the skill carry over?",
        required=False,
        nullable=True,
        checked_by="the domain's ladder",
    ),
    "eval.ladder.move_quality": Setting(
        "mapping",
        "learner moves judged by Stockfish (eval/move_quality/*); null: not judged",
        required=False,
        nullable=True,
    ),
    **{
        f"eval.ladder.move_quality.{key}": Setting(
            kind, text, required=False, nullable=kind == "str", checked_by="MoveQuality"
        )
        for key, kind, text in (
            ("positions", "int", "learner moves sampled per evaluation"),
            ("depth", "int", "Stockfish's search depth per judgement"),
            ("cap", "int", "centipawn loss cap (a mate counts as the cap)"),
            ("rung", "str", "the rung whose games supply the positions (default: the first)"),
            ("path", "str", "the Stockfish binary (default: on PATH, then Debian's)"),
        )
    },
    "env": Setting("mapping", "the environment: pick one with env=<option>"),
    "env.name": Setting("str", "names the runs/<experiment>/<env>/ folder"),
    "env.id": Setting("str", "the Gymnasium id, e.g. incentives/QA-v0"),
    "env.module": Setting("str", "the module imported to register the id (subprocesses too)"),
    "env.batched": Setting(
        "str",
        "a VecEnv class (module.Class) running all copies at once; null: gym.make",
        nullable=True,
    ),
    "env.vec_env": Setting("str", "the vector env when not batched", choices=("dummy", "subproc")),
    "env.n_envs": Setting("int", "training envs side by side", 1),
    "env.needs_masks": Setting(
        "bool",
        "only an agent that reads action masks (agent=maskable_ppo) can play it",
        required=False,
    ),
    "env.domain": Setting("str", "the domain (entry point incentives.domains) that measures it"),
    "env.kwargs": Setting(
        "mapping",
        "the env's constructor arguments",
        nullable=True,
        checked_by="the env's class",
    ),
    "reward": Setting("mapping", "the reward scheme: pick one with reward=<option>"),
    "reward.name": Setting("str", "the scheme's registered name", checked_by="the registry"),
    "reward.*": Setting("any", "the scheme's parameters", nullable=True, checked_by="the scheme"),
}


def _device(description: str) -> Setting:
    """``agent.device`` of a learner: where torch runs it."""
    return Setting(
        "str",
        description,
        pattern=r"auto|cpu|mps|cuda(:\d+)?",
        accepted_text="auto, cpu, cuda, cuda:<n> or mps",
    )


_THREADS = Setting(
    "int", "torch threads (0 or null: torch's default)", 0, nullable=True, required=False
)

#: The keys of each kind of learner (``agent.algo``), in place of one another.
_PPO: dict[str, Setting] = {
    "agent": Setting("mapping", "the learner: pick one with agent=<option>"),
    "agent.name": Setting("str", "names the agent config"),
    "agent.algo": Setting("str", "ppo | maskable_ppo | lm", checked_by="the schema"),
    "agent.policy": Setting(
        "str", "mlp | qa_set | chess_mlp | chess_resnet", nullable=True, checked_by=_AGENT
    ),
    "agent.size": Setting(
        "str",
        "network size preset: tiny | small | base | large",
        nullable=True,
        checked_by=_AGENT,
    ),
    "agent.layers": Setting(
        "list",
        "explicit hidden widths, e.g. [128,128]; override size",
        nullable=True,
        required=False,
        checked_by=_AGENT,
    ),
    "agent.head": Setting(
        "str",
        "action head of the mlp policy: flat | mode_candidate (QA: mode x candidate)",
        nullable=True,
        required=False,
        checked_by=_AGENT,
    ),
    "agent.phase_reset": Setting(
        "list",
        "parts reset when the reward scheme changes: mode_head, action_head, value_head",
        nullable=True,
        required=False,
        checked_by=_AGENT,
    ),
    "agent.channels": Setting(
        "int",
        "chess_resnet: override the preset's channels",
        nullable=True,
        required=False,
        checked_by=_AGENT,
    ),
    "agent.blocks": Setting(
        "int",
        "chess_resnet: override the preset's residual blocks",
        nullable=True,
        required=False,
        checked_by=_AGENT,
    ),
    "agent.device": _device("auto: CUDA when present (MLP policies are often faster on CPU)"),
    "agent.torch_threads": _THREADS,
    "agent.learning_rate": Setting("float", "Adam's step size", 0, 1, exclusive_low=True),
    "agent.n_steps": Setting("int", "steps per env per rollout (x env.n_envs)", 1),
    "agent.batch_size": Setting("int", "minibatch size of each update", 2),
    "agent.n_epochs": Setting("int", "passes over each rollout", 1),
    "agent.gamma": Setting("float", "discount of future rewards", 0, 1),
    "agent.gae_lambda": Setting("float", "GAE's bias-variance trade-off", 0, 1),
    "agent.clip_range": Setting("float", "PPO's policy clipping", 0, exclusive_low=True),
    "agent.ent_coef": Setting("float", "entropy bonus coefficient", 0),
    "agent.mode_ent_decay": Setting(
        "str",
        "none | phase: the mode entropy bonus falls linearly to 0 over each reward phase",
        nullable=True,
        required=False,
        checked_by=_AGENT,
    ),
    "agent.mode_ent_coef": Setting(
        "float",
        "QA: entropy bonus on the mode (answer, hedge, abstain), besides ent_coef's",
        0,
        nullable=True,
        required=False,
    ),
    "agent.vf_coef": Setting("float", "value loss coefficient", 0),
    "agent.max_grad_norm": Setting("float", "gradient clipping norm", 0, exclusive_low=True),
}
_LM = "agents.lm"
_LANGUAGE_MODEL: dict[str, Setting] = {
    "agent": Setting("mapping", "the learner: pick one with agent=<option>"),
    "agent.name": Setting("str", "names the agent config"),
    "agent.algo": Setting(
        "str", "lm: a causal transformer trained on the text corpus", choices=("lm",)
    ),
    "agent.size": Setting(
        "str",
        "model size preset: tiny (~10k parameters) | small (~108k) | base (~0.8M) | "
        "large (~3.2M) | xl (~10.7M)",
        nullable=True,
        checked_by=_LM,
    ),
    "agent.d_model": Setting("int", "width; overrides the preset's", 1, nullable=True),
    "agent.n_layers": Setting("int", "transformer blocks; override the preset's", 1, nullable=True),
    "agent.n_heads": Setting(
        "int", "attention heads (divide d_model); override the preset's", 1, nullable=True
    ),
    "agent.context": Setting("int", "tokens the model sees (>= the longest document)", 2, 4096),
    "agent.device": _device("auto: CUDA when present (bf16 autocast there)"),
    "agent.torch_threads": _THREADS,
    "agent.learning_rate": Setting("float", "AdamW's peak step size", 0, 1, exclusive_low=True),
    "agent.batch_size": Setting("int", "windows of `context` tokens per update", 1),
    "agent.weight_decay": Setting("float", "AdamW's decoupled weight decay (matrices only)", 0),
    "agent.lr_warmup": Setting("int", "updates of linear learning-rate warm-up", 0),
    "agent.lr_schedule": Setting(
        "str",
        "after warm-up: cosine decay to 10% at the end, or constant",
        choices=("cosine", "constant"),
    ),
    "agent.max_grad_norm": Setting("float", "gradient clipping norm (0: none)", 0),
    "agent.log_every": Setting("int", "updates between training scalars", 1),
    "agent.pretrained_cache": Setting(
        "str",
        "folder keeping pretrained models by digest, shared by runs that pretrain alike",
        nullable=True,
        required=False,
    ),
    "agent.rl": Setting(
        "mapping", "answer phases: PPO on generated answers, and teaching", required=False
    ),
    "agent.rl.learning_rate": Setting(
        "float", "AdamW's step size in answer phases", 0, 1, exclusive_low=True, required=False
    ),
    "agent.rl.batch_size": Setting(
        "int", "questions per rollout (or taught batch)", 2, required=False
    ),
    "agent.rl.n_epochs": Setting("int", "PPO passes over each rollout", 1, required=False),
    "agent.rl.minibatch_size": Setting("int", "answers per PPO update", 1, required=False),
    "agent.rl.clip_range": Setting(
        "float", "PPO's policy clipping", 0, exclusive_low=True, required=False
    ),
    "agent.rl.gae_lambda": Setting(
        "float", "GAE's lambda over an answer's tokens", 0, 1, required=False
    ),
    "agent.rl.ent_coef": Setting("float", "entropy bonus coefficient", 0, required=False),
    "agent.rl.vf_coef": Setting("float", "value loss coefficient", 0, required=False),
    "agent.rl.kl_coef": Setting(
        "float",
        "per-token penalty on log pi - log pi_ref (the phase's first model)",
        0,
        required=False,
    ),
}
AGENT_SETTINGS: dict[str, dict[str, Setting]] = {
    "ppo": _PPO,
    "maskable_ppo": _PPO,
    "lm": _LANGUAGE_MODEL,
}


def _value(value: Any) -> str:
    return repr(value) if not isinstance(value, str) or "'" not in value else f'"{value}"'


def unknown_key(path: str, known: Iterable[str]) -> str:
    """The line that names an unknown key and the closest of the ``known`` ones.

    Example:
        >>> unknown_key("agent.learning_rat", ["agent.learning_rate", "agent.n_steps"])
        "unknown key 'agent.learning_rat'; accepted (closest): agent.learning_rate"
        >>> unknown_key("agent.x", ["agent.gamma", "agent.n_steps", "seed"])
        "unknown key 'agent.x'; accepted: agent.gamma, agent.n_steps"
    """
    known = sorted({k for k in known if not k.endswith(".*")})
    parent, _, leaf = path.rpartition(".")
    siblings = [k for k in known if k.rpartition(".")[0] == parent]
    close = _closest(leaf, siblings) or _closest(leaf, known)
    if close:
        return f"unknown key {path!r}; accepted (closest): {', '.join(close)}"
    return f"unknown key {path!r}; accepted: {', '.join(siblings or known)}"


def _closest(leaf: str, keys: list[str]) -> list[str]:
    by_leaf: dict[str, list[str]] = {}
    for key in keys:
        by_leaf.setdefault(key.rpartition(".")[2], []).append(key)
    names = difflib.get_close_matches(leaf, list(by_leaf), n=3, cutoff=0.6)
    return [key for name in names for key in by_leaf[name]][:3]


def check(config: Mapping[str, Any], domain_settings: Mapping[str, Setting] | None = None) -> None:
    """Check every key and value of ``config`` against the schema; the first problem
    raises a one-line :class:`ConfigError`.

    The ``agent`` keys are those of its kind of learner (``agent.algo``);
    ``domain_settings`` are the env keys that the config's domain adds (``env.domain``),
    by default looked up in the registry.
    """
    if domain_settings is None:
        domain_settings = _domain_settings(config)
    settings = {**SETTINGS, **_agent_settings(config)}
    settings.update({f"env.{key}": s for key, s in domain_settings.items()})
    _walk(config, "", settings)


def _agent_settings(config: Mapping[str, Any]) -> dict[str, Setting]:
    """The agent keys of the config's kind of learner (PPO's when it names none)."""
    agent = config.get("agent")
    algo = agent.get("algo", "ppo") if isinstance(agent, Mapping) else "ppo"
    if algo not in AGENT_SETTINGS:
        raise ConfigError(f"agent.algo={_value(algo)}; accepted: {', '.join(AGENT_SETTINGS)}")
    return AGENT_SETTINGS[algo]


def _domain_settings(config: Mapping[str, Any]) -> dict[str, Setting]:
    """The env keys the config's domain declares; a one-line error for an unknown domain."""
    from incentives.registry import domain_names, load_domain

    env = config.get("env")
    name = env.get("domain") if isinstance(env, Mapping) else None
    if not isinstance(name, str):
        return {}  # the walk names the missing or mistyped env.domain
    if name not in domain_names():
        raise ConfigError(f"env.domain={name!r}; accepted: {', '.join(domain_names())}")
    return load_domain(name).settings()


def _walk(node: Mapping[str, Any], prefix: str, settings: Mapping[str, Setting]) -> None:
    for key, value in node.items():
        path = f"{prefix}{key}"
        setting = settings.get(path) or settings.get(f"{prefix}*")
        if setting is None:
            raise ConfigError(unknown_key(path, settings))
        if not setting.accepts(value):
            raise ConfigError(f"{path}={_value(value)}; accepted: {setting.accepted()}")
        if isinstance(value, Mapping) and any(k.startswith(f"{path}.") for k in settings):
            _walk(value, f"{path}.", settings)
    parent = prefix[:-1]
    for path, setting in settings.items():
        above, _, leaf = path.rpartition(".")
        if above == parent and leaf != "*" and setting.required and leaf not in node:
            raise ConfigError(f"{path} is missing; accepted: {setting.accepted()}")


def env_kwarg_names(env_config: Mapping[str, Any]) -> list[str] | None:
    """The argument names the configured env's constructor takes (None: any name).

    The ``batched`` VecEnv class's (less ``num_envs``), else the class or function that
    Gymnasium registered for ``env.id`` once ``env.module`` is imported.
    """
    import gymnasium as gym

    batched = env_config.get("batched")
    if batched:
        module, _, name = str(batched).rpartition(".")
        target: Any = getattr(importlib.import_module(module), name)
    else:
        importlib.import_module(str(env_config["module"]))
        entry = gym.spec(str(env_config["id"])).entry_point
        if isinstance(entry, str):
            module, _, name = entry.partition(":")
            target = importlib.import_module(module)
            for part in name.split("."):
                target = getattr(target, part)
        else:
            target = entry
    parameters = inspect.signature(target).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return [
        p.name
        for p in parameters
        if p.name not in ("self", "num_envs")
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]


def check_env_kwargs(env_config: Mapping[str, Any]) -> None:
    """A one-line :class:`ConfigError` for an ``env.kwargs`` key the env does not take."""
    names = env_kwarg_names(env_config)
    if names is None:
        return
    for key in env_config.get("kwargs") or {}:
        if key not in names:
            raise ConfigError(unknown_key(f"env.kwargs.{key}", [f"env.kwargs.{n}" for n in names]))


def describe(width: int = 100) -> str:
    """The schema as text: each key, what it accepts and what it is for.

    The common keys, each installed domain's env keys, each scheme's parameters.
    """
    from incentives.registry import domain_names, load_domain, scheme_type
    from incentives.registry import schemes as scheme_statements
    from incentives.signal import param_names

    lines = ["Every config key (incentives-train KEY=VALUE), what it accepts, what it is for:", ""]

    def add(key: str, setting: Setting) -> None:
        optional = "" if setting.required else ", optional"
        text = f"{key:<27} {setting.description} [{setting.accepted()}{optional}]"
        lines.extend(textwrap.wrap(text, width, initial_indent="  ", subsequent_indent=" " * 30))

    for key, setting in SETTINGS.items():
        add(key, setting)
    for algo, settings in AGENT_SETTINGS.items():
        if algo == "maskable_ppo":
            continue  # PPO's keys
        lines += ["", f"Agent keys of agent.algo={algo}{' (and maskable_ppo)' * (algo == 'ppo')}:"]
        for key, setting in settings.items():
            add(key, setting)
    for name in domain_names():
        extra = load_domain(name).settings()
        if extra:
            lines += ["", f"Env keys of the {name} domain (env={name} and its kind):"]
            for key, setting in extra.items():
                add(f"env.{key}", setting)
    lines += ["", "Reward scheme parameters (reward.<param>; each scheme checks its own):"]
    for name, statement in scheme_statements().items():
        params = ", ".join(param_names(scheme_type(name).signal_type)) or "none"
        lines.extend(textwrap.wrap(f"{name} ({params}): {statement}", width,
                                   initial_indent="  ", subsequent_indent="      "))  # fmt: skip
    return "\n".join(lines)
