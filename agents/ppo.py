"""PPO built from a config: one agent for every reward scheme of an experiment.

``algo: ppo`` is stable-baselines3's PPO; ``algo: maskable_ppo`` is sb3-contrib's
MaskablePPO, which reads the legal actions from the env's ``action_masks()`` (chess).
``policy`` picks the network: ``mlp`` (the library's own MLP policy, any env), or for chess
``chess_mlp`` (the same MLP over scaled planes, with the compact move head, fast masking
and compact mask storage of ``agents.chess_policy``) and ``chess_resnet`` (a residual
tower with convolutional move and value heads).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import explained_variance
from stable_baselines3.common.vec_env import VecEnv

from agents.chess_networks import ChessFlatten, ChessResNet, resnet_shape
from agents.chess_policy import ChessPolicy, CompactMaskRolloutBuffer
from agents.networks import HEADS, ModeCandidatePolicy, QASetPolicy, mlp_layers

__all__ = [
    "ALGORITHMS",
    "POLICIES",
    "RESETTABLE",
    "LeanPPO",
    "build_ppo",
    "load_ppo",
    "parameter_count",
    "phase_resets",
    "policy_setup",
    "qa_mode_entropy",
]

#: The networks ``agent.policy`` may name.
POLICIES = ("mlp", "qa_set", "chess_mlp", "chess_resnet")

#: What ``agent.phase_reset`` may name, to start afresh when the reward scheme changes:
#: ``mode_head`` (the mode softmax of ``agent.head=mode_candidate``: uniform over answer,
#: hedge, abstain), ``action_head`` (the whole action layer: uniform over the actions),
#: ``value_head`` (the value layer: 0 everywhere). Their optimizer state goes with them.
RESETTABLE = ("mode_head", "action_head", "value_head")


def _algorithm(config: Mapping[str, Any]) -> type[PPO] | type[MaskablePPO]:
    name = str(config.get("algo", "ppo"))
    if name not in ALGORITHMS:
        raise ValueError(f"agent.algo={name!r}; accepted: {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name]


def build_ppo(config: Mapping[str, Any], venv: VecEnv, seed: int) -> PPO | MaskablePPO:
    """A PPO (or MaskablePPO) agent with an MLP policy of the configured size.

    ``config`` holds ``algo``, ``size`` (a preset) or ``layers``, ``device`` (``auto``
    takes CUDA when present), ``torch_threads`` and PPO's own hyperparameters.
    """
    _threads(config)
    algorithm = _algorithm(config)
    policy, policy_kwargs, extra = policy_setup(config)
    resets = phase_resets(config)
    model = algorithm(
        policy,
        venv,
        learning_rate=float(config["learning_rate"]),
        n_steps=int(config["n_steps"]),
        batch_size=int(config["batch_size"]),
        n_epochs=int(config["n_epochs"]),
        gamma=float(config["gamma"]),
        gae_lambda=float(config["gae_lambda"]),
        clip_range=float(config["clip_range"]),
        ent_coef=float(config["ent_coef"]),
        vf_coef=float(config["vf_coef"]),
        max_grad_norm=float(config["max_grad_norm"]),
        policy_kwargs=policy_kwargs,
        device=str(config.get("device", "auto")),
        seed=seed,
        verbose=0,
        **extra,
    )
    mode_ent_coef = float(config.get("mode_ent_coef") or 0.0)
    if mode_ent_coef < 0:
        raise ValueError(f"agent.mode_ent_coef={mode_ent_coef!r}; accepted: a number >= 0")
    if mode_ent_coef:
        if not isinstance(model, LeanPPO) or not model._lean():
            raise ValueError(
                f"agent.mode_ent_coef={mode_ent_coef!r} needs agent.algo=ppo on a discrete "
                "action space; accepted here: 0"
            )
        model.mode_ent_coef = mode_ent_coef
        decay = str(config.get("mode_ent_decay") or "none")
        if decay not in ("none", "phase"):
            raise ValueError(f"agent.mode_ent_decay={decay!r}; accepted: none, phase")
        model.mode_ent_decay = decay
    if resets:
        if not isinstance(model, LeanPPO):
            raise ValueError(
                f"agent.phase_reset={list(resets)!r} needs agent.algo=ppo; accepted with "
                f"agent.algo={config.get('algo')!r}: []"
            )
        model.phase_reset = resets
    return model


def phase_resets(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The parts ``agent.phase_reset`` names, checked against the head they need.

    Example:
        >>> phase_resets({"head": "mode_candidate", "phase_reset": ["mode_head", "value_head"]})
        ('mode_head', 'value_head')
    """
    given = config.get("phase_reset") or []
    if isinstance(given, str) or not all(isinstance(p, str) for p in given):
        raise ValueError(
            f"agent.phase_reset={given!r}; accepted: a list of {', '.join(RESETTABLE)}"
        )
    for part in given:
        if part not in RESETTABLE:
            raise ValueError(
                f"agent.phase_reset: {part!r}; accepted: a list of {', '.join(RESETTABLE)}"
            )
    if "mode_head" in given and config.get("head", "flat") != "mode_candidate":
        raise ValueError(
            "agent.phase_reset: 'mode_head' needs agent.head=mode_candidate; accepted with "
            f"agent.head={config.get('head', 'flat')!r}: action_head, value_head"
        )
    return tuple(given)


def policy_setup(config: Mapping[str, Any]) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The policy (class or name), its keyword arguments, and extra algorithm arguments.

    Example:
        >>> config = {"algo": "maskable_ppo", "policy": "chess_resnet", "size": "tiny"}
        >>> policy, kwargs, extra = policy_setup(config)
        >>> policy.__name__, kwargs["features_extractor_kwargs"], sorted(extra)
        ('ChessPolicy', {'channels': 16, 'blocks': 1}, ['rollout_buffer_class'])
    """
    name = str(config.get("policy") or "mlp")
    size = str(config.get("size", "small"))
    head = str(config.get("head") or "flat")
    if head not in HEADS:
        raise ValueError(f"agent.head={head!r}; accepted: {', '.join(HEADS)}")
    if head != "flat" and _algorithm(config) is MaskablePPO:  # its policies are SB3's PPO's
        raise ValueError(
            f"agent.head={head!r} needs agent.algo=ppo; accepted with agent.algo=maskable_ppo: flat"
        )
    phase_resets(config)  # checked with the policy, before anything is built
    if name == "mlp":
        layers = mlp_layers(size, config.get("layers"))
        kind: Any = ModeCandidatePolicy if head == "mode_candidate" else "MlpPolicy"
        return kind, {"net_arch": {"pi": layers, "vf": layers}}, {}
    if name == "qa_set":  # its own mode x candidate head (QASetHead)
        if head != "mode_candidate":
            raise ValueError(
                f"agent.policy=qa_set needs agent.head=mode_candidate; got {head!r}; "
                "accepted: agent.head=mode_candidate"
            )
        layers = mlp_layers(size, config.get("layers"))
        return QASetPolicy, {"net_arch": {"pi": [], "vf": layers}, "set_width": layers[-1]}, {}
    if head != "flat":
        raise ValueError(f"agent.head={head!r} needs agent.policy=mlp; accepted: flat")
    if name in POLICIES and _algorithm(config) is not MaskablePPO:
        raise ValueError(
            f"agent.policy={name!r} needs agent.algo=maskable_ppo; accepted with "
            f"agent.algo={config.get('algo', 'ppo')!r}: mlp"
        )
    extra = {"rollout_buffer_class": CompactMaskRolloutBuffer}
    # SB3's Adam epsilon, and torch's fused Adam step (one kernel for all parameters).
    adam = {"eps": 1e-5, "fused": True}
    if name == "chess_mlp":
        layers = mlp_layers(size, config.get("layers"))
        kwargs = {
            "net_arch": {"pi": layers, "vf": layers},
            "features_extractor_class": ChessFlatten,
            "optimizer_kwargs": adam,
        }
        return ChessPolicy, kwargs, extra
    if name == "chess_resnet":
        channels, blocks = resnet_shape(size, config.get("channels"), config.get("blocks"))
        kwargs = {
            "net_arch": [],
            "features_extractor_class": ChessResNet,
            "features_extractor_kwargs": {"channels": channels, "blocks": blocks},
            "optimizer_kwargs": adam,
        }
        return ChessPolicy, kwargs, extra
    raise ValueError(f"agent.policy={name!r}; accepted: {', '.join(POLICIES)}")


def _threads(config: Mapping[str, Any]) -> None:
    if config.get("torch_threads"):
        torch.set_num_threads(int(config["torch_threads"]))


def load_ppo(config: Mapping[str, Any], path: str, venv: VecEnv) -> PPO | MaskablePPO:
    """An agent saved at ``path`` (with its optimizer and step count), on ``venv``."""
    _threads(config)
    return _algorithm(config).load(path, env=venv, device=str(config.get("device", "auto")))


def parameter_count(model: PPO | MaskablePPO) -> int:
    """The trainable parameters of an agent's network: policy, value and shared layers.

    What a scale experiment reports as the model's size; the run's compute is this count
    times the environment steps it trained on (every step runs the whole network).
    """
    return sum(p.numel() for p in model.policy.parameters() if p.requires_grad)


class LeanPPO(PPO):
    """stable-baselines3's PPO with a rollout loop and an update that do not waste the batch.

    The maths is SB3's, line for line: the same policy modules, the same categorical
    sampling (``torch.multinomial`` on the same probabilities, so the same draws of the
    same generator), the same buffer and GAE, the same minibatches (one
    ``np.random.permutation`` per epoch), losses, gradient clipping and optimizer step; the
    same ``train/*`` logs. What goes is the work around it:

    - rollout: no ``Categorical`` object per step (its argument checks), no per-slot loops
      over infos when the vector env reports its events as columns (``infos.columns``: the
      monitor's episodes and the timeout test read the arrays), direct writes into the
      buffer;
    - update: the buffer becomes tensors once per update instead of a copy per minibatch,
      and the logged losses stay tensors until the end of the update (one ``.item()`` per
      figure, not per minibatch).

    It saves the same ``model.zip`` as ``PPO`` (``PPO.load`` reads it) and falls back to
    SB3's own loops where it does not apply (non-discrete actions, gSDE, separate feature
    extractors). ``tests/agents/test_lean_ppo.py`` checks the same update on the same data.
    """

    #: The parts reset when the reward scheme changes (``RESETTABLE``; ``agent.phase_reset``).
    phase_reset: tuple[str, ...] = ()
    #: The weight of an entropy bonus on the QA *mode* (answer, hedge, abstain: the
    #: marginal of the 2K + 1 actions) besides ``ent_coef``'s on the actions
    #: (``agent.mode_ent_coef``; 0: none, the update is SB3's).
    mode_ent_coef: float = 0.0
    #: ``phase``: the mode entropy bonus falls linearly from ``mode_ent_coef`` to 0 over
    #: each reward phase (explore every mode while a new scheme's values are learned,
    #: then commit); ``none``: constant (``agent.mode_ent_decay``).
    mode_ent_decay: str = "none"
    #: The env steps at which the current reward phase started and ends (saved with the
    #: agent: a resumed run continues the same schedule).
    phase_span: tuple[int, int] | None = None
    #: The scheme the agent last trained under (name and parameters), saved with it, so a
    #: resumed run does not reset again in the middle of a phase.
    trained_scheme: str | None = None

    def _setup_model(self) -> None:
        super()._setup_model()
        self._foreach_adam()

    def learn(self, *args: Any, **kwargs: Any) -> Any:
        """SB3's ``learn``; first, if the env's scheme is not the one the agent last trained
        under, reset the ``phase_reset`` parts: a new scheme's decisions start open."""
        scheme = self._scheme()
        changed = self.trained_scheme is not None and scheme != self.trained_scheme
        if self.phase_reset and changed:
            self.reset_parts(self.phase_reset)
        self.trained_scheme = scheme
        steps = int(kwargs.get("total_timesteps", args[0] if args else 0))
        start = 0 if kwargs.get("reset_num_timesteps", True) else self.num_timesteps
        end = start + steps
        span = self.phase_span
        # a resumed phase keeps its start (same end); a new phase starts here
        if span is None or changed or int(span[1]) != end or start == 0:
            self.phase_span = (start, end)
        return super().learn(*args, **kwargs)

    def _mode_ent_weight(self) -> float:
        """The mode entropy bonus now: ``mode_ent_coef``, falling linearly to 0 over the
        phase with ``mode_ent_decay: phase``."""
        if self.mode_ent_decay != "phase" or self.phase_span is None:
            return self.mode_ent_coef
        start, end = (int(x) for x in self.phase_span)
        left = (end - self.num_timesteps) / max(end - start, 1)
        return self.mode_ent_coef * min(max(left, 0.0), 1.0)

    def _scheme(self) -> str | None:
        """The env's explicit signal as ``name:{parameters}``; None for an env without one."""
        env: Any = self.env
        signal = getattr(env, "signal", None)
        if signal is None and env is not None:
            try:
                signal = env.get_attr("signal", indices=[0])[0]
            except (AttributeError, ValueError, TypeError):
                return None
        if signal is None:
            return None
        return f"{signal.name}:{json.dumps(signal.params(), sort_keys=True, default=str)}"

    def reset_parts(self, parts: tuple[str, ...] | list[str]) -> None:
        """Zero the named output layers (``RESETTABLE``) and forget their Adam moments:
        a zero mode or action layer is the uniform distribution, a zero value layer
        predicts 0 (what "I don't know" pays under every scheme we have)."""
        policy = self.policy
        layers = {
            "mode_head": getattr(policy.action_net, "mode", None),
            "action_head": policy.action_net,
            "value_head": policy.value_net,
        }
        for part in parts:
            layer = layers.get(part)
            if layer is None:
                raise ValueError(
                    f"agent.phase_reset: {part!r} is not part of this policy; accepted: "
                    f"{', '.join(k for k, v in layers.items() if v is not None)}"
                )
            with torch.no_grad():
                for parameter in layer.parameters():
                    parameter.zero_()
                    policy.optimizer.state.pop(parameter, None)

    def _foreach_adam(self) -> None:
        """Adam's multi-tensor step: the same arithmetic as its per-parameter loop (the
        same numbers, checked in the tests), in fewer calls."""
        optimizer = getattr(self.policy, "optimizer", None)
        if isinstance(optimizer, torch.optim.Adam):
            for group in optimizer.param_groups:
                if not group.get("fused"):
                    group["foreach"] = True

    def _lean(self) -> bool:
        return (
            isinstance(self.action_space, spaces.Discrete)
            and not self.use_sde
            and bool(getattr(self.policy, "share_features_extractor", False))
            and type(self.rollout_buffer) is RolloutBuffer
        )

    def _policy_step(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """SB3's ``ActorCriticPolicy.forward`` for a categorical policy, without the
        distribution object: actions, values and log-probabilities."""
        policy = self.policy
        features = policy.extract_features(obs)
        latent_pi, latent_vf = policy.mlp_extractor(features)
        logits = policy.action_net(latent_pi)
        values = policy.value_net(latent_vf)
        # torch.distributions.Categorical(logits=...): normalise, softmax, multinomial
        logits = logits - logits.logsumexp(dim=-1, keepdim=True)
        probs = torch.softmax(logits, dim=-1)
        actions = torch.multinomial(probs, 1, True).T.reshape(-1)
        log_probs = logits.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        return actions, values, log_probs

    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: RolloutBuffer,
        n_rollout_steps: int,
    ) -> bool:
        """SB3's ``collect_rollouts`` for a discrete policy, with the waste taken out."""
        if not self._lean():
            return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)
        assert self._last_obs is not None, "No previous observation was provided"
        self.policy.set_training_mode(False)
        n_steps = 0
        rollout_buffer.reset()
        callback.on_rollout_start()
        buffer = rollout_buffer
        self._ended: list[tuple[np.ndarray, ...]] = []
        while n_steps < n_rollout_steps:
            with torch.no_grad():
                obs_tensor = torch.as_tensor(self._last_obs, device=self.device)
                actions_t, values, log_probs = self._policy_step(obs_tensor)
            actions = actions_t.cpu().numpy()
            clipped_actions = actions
            new_obs, rewards, dones, infos = env.step(clipped_actions)
            self.num_timesteps += env.num_envs
            callback.update_locals(locals())
            if not callback.on_step():
                self._flush_episodes()
                return False
            columns = getattr(infos, "columns", None)
            if columns is None:
                self._update_info_buffer(infos, dones)
            else:
                self._update_info_columns(cast(Any, infos).derived, dones)
            n_steps += 1
            actions = actions.reshape(-1, 1)
            self._bootstrap_timeouts(rewards, dones, infos, columns)
            pos = buffer.pos
            buffer.observations[pos] = self._last_obs
            buffer.actions[pos] = actions
            buffer.rewards[pos] = rewards
            buffer.episode_starts[pos] = self._last_episode_starts
            buffer.values[pos] = values.cpu().numpy().reshape(-1)
            buffer.log_probs[pos] = log_probs.cpu().numpy()
            buffer.pos += 1
            if buffer.pos == buffer.buffer_size:
                buffer.full = True
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones

        with torch.no_grad():
            values = self.policy.predict_values(torch.as_tensor(new_obs, device=self.device))
        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=dones)
        self._flush_episodes()
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _update_info_columns(self, derived: Mapping[str, Any], dones: np.ndarray) -> None:
        """``_update_info_buffer`` from the monitor's columns (``VecTaskMonitor``): the
        ended episodes are kept as arrays and only the last ``maxlen`` become dicts, at the
        rollout's end (``_flush_episodes``); the buffer then holds what SB3's would."""
        if "episode.r" not in derived:
            return
        ended = np.flatnonzero(dones)
        if len(ended):
            self._ended.append(
                (
                    derived["episode.r"][ended],
                    derived["episode.l"][ended],
                    derived["episode.t"][ended],
                )
            )

    def _flush_episodes(self) -> None:
        """Move the last ended episodes of ``_update_info_columns`` into ``ep_info_buffer``."""
        assert self.ep_info_buffer is not None
        if not self._ended:
            return
        r, length, t = (np.concatenate(parts) for parts in zip(*self._ended, strict=True))
        self._ended.clear()
        keep = slice(-(self.ep_info_buffer.maxlen or len(r)), None)
        self.ep_info_buffer.extend(
            {"r": r_i, "l": l_i, "t": t_i}
            for r_i, l_i, t_i in zip(
                r[keep].tolist(), length[keep].tolist(), t[keep].tolist(), strict=True
            )
        )

    def _bootstrap_timeouts(
        self,
        rewards: np.ndarray,
        dones: np.ndarray,
        infos: Any,
        columns: Mapping[str, Any] | None,
    ) -> None:
        """Add the discounted value of a truncated episode's last observation (SB3 #633)."""
        if columns is not None and "TimeLimit.truncated" in columns:
            cut = np.flatnonzero(dones & np.asarray(columns["TimeLimit.truncated"], dtype=bool))
        else:
            cut = np.array(
                [
                    i
                    for i, done in enumerate(dones)
                    if done
                    and infos[i].get("terminal_observation") is not None
                    and infos[i].get("TimeLimit.truncated", False)
                ],
                dtype=np.int64,
            )
        for idx in cut.tolist():
            terminal_obs = self.policy.obs_to_tensor(infos[idx]["terminal_observation"])[0]
            with torch.no_grad():
                terminal_value = self.policy.predict_values(terminal_obs)[0]
            rewards[idx] += self.gamma * terminal_value

    def train(self) -> None:
        """SB3's PPO update on the same minibatches, the buffer turned into tensors once."""
        if not self._lean():
            return super().train()
        policy = self.policy
        policy.set_training_mode(True)
        self._update_learning_rate(policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)  # type: ignore[operator]
        clip_range_vf = None
        if self.clip_range_vf is not None:
            clip_range_vf = self.clip_range_vf(self._current_progress_remaining)  # type: ignore[operator]
        data = self._flat_buffer()
        n = data["observations"].shape[0]
        entropy_losses: list[torch.Tensor] = []
        pg_losses: list[torch.Tensor] = []
        value_losses: list[torch.Tensor] = []
        clip_fractions: list[torch.Tensor] = []
        approx_kl_divs: list[torch.Tensor] = []
        mode_entropies: list[torch.Tensor] = []
        mode_ent_weight = self._mode_ent_weight()
        loss = torch.zeros(())
        continue_training = True
        parameters = list(policy.parameters())
        for _epoch in range(self.n_epochs):
            approx_kl_divs = []
            indices = np.random.permutation(n)  # noqa: NPY002 - RolloutBuffer.get's generator
            # on the buffer's device: index_select wants its index beside the data
            order = torch.from_numpy(indices).to(self.device)
            for start in range(0, n, self.batch_size):
                batch = order[start : start + self.batch_size]
                observations = data["observations"].index_select(0, batch)
                actions = data["actions"].index_select(0, batch).long().flatten()
                old_values = data["values"].index_select(0, batch)
                old_log_prob = data["log_probs"].index_select(0, batch)
                advantages = data["advantages"].index_select(0, batch)
                returns = data["returns"].index_select(0, batch)

                values, log_prob, entropy = self._evaluate(observations, actions)
                values = values.flatten()
                if self.normalize_advantage and len(advantages) > 1:
                    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
                ratio = torch.exp(log_prob - old_log_prob)
                policy_loss_1 = advantages * ratio
                policy_loss_2 = advantages * torch.clamp(ratio, 1 - clip_range, 1 + clip_range)
                policy_loss = -torch.min(policy_loss_1, policy_loss_2).mean()
                pg_losses.append(policy_loss.detach())
                clip_fractions.append(torch.mean((torch.abs(ratio - 1) > clip_range).float()))
                if clip_range_vf is None:
                    values_pred = values
                else:
                    values_pred = old_values + torch.clamp(
                        values - old_values, -clip_range_vf, clip_range_vf
                    )
                value_loss = F.mse_loss(returns, values_pred)
                value_losses.append(value_loss.detach())
                entropy_loss = -torch.mean(entropy)
                entropy_losses.append(entropy_loss.detach())
                loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
                if self.mode_ent_coef:
                    mode_entropy = qa_mode_entropy(self._last_log_probs).mean()
                    mode_entropies.append(mode_entropy.detach())
                    loss = loss - mode_ent_weight * mode_entropy
                with torch.no_grad():
                    log_ratio = log_prob - old_log_prob
                    approx_kl_div = torch.mean((torch.exp(log_ratio) - 1) - log_ratio)
                    approx_kl_divs.append(approx_kl_div)
                if self.target_kl is not None and approx_kl_div.item() > 1.5 * self.target_kl:
                    continue_training = False
                    break
                policy.optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(parameters, self.max_grad_norm)
                policy.optimizer.step()
            self._n_updates += 1
            if not continue_training:
                break

        buffer = self.rollout_buffer
        explained_var = explained_variance(buffer.values.flatten(), buffer.returns.flatten())

        def mean(values: list[torch.Tensor]) -> float:
            return float(torch.stack(values).double().mean()) if values else float("nan")

        self.logger.record("train/entropy_loss", mean(entropy_losses))
        if mode_entropies:
            self.logger.record("train/mode_entropy", mean(mode_entropies))
            self.logger.record("train/mode_ent_coef", mode_ent_weight)
        self.logger.record("train/policy_gradient_loss", mean(pg_losses))
        self.logger.record("train/value_loss", mean(value_losses))
        self.logger.record("train/approx_kl", mean(approx_kl_divs))
        self.logger.record("train/clip_fraction", mean(clip_fractions))
        self.logger.record("train/loss", loss.item())
        self.logger.record("train/explained_variance", explained_var)
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/clip_range", clip_range)
        if clip_range_vf is not None:
            self.logger.record("train/clip_range_vf", clip_range_vf)
        return None

    def _evaluate(
        self, observations: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """SB3's ``evaluate_actions`` for a categorical policy, without the distribution
        object (the same operations as ``Categorical``'s ``log_prob`` and ``entropy``)."""
        policy = self.policy
        features = policy.extract_features(observations)
        latent_pi, latent_vf = policy.mlp_extractor(features)
        logits = policy.action_net(latent_pi)
        # In SB3's order (it sets the order in which backward adds gradients up)
        logits = logits - logits.logsumexp(dim=-1, keepdim=True)
        log_prob = logits.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        self._last_log_probs = logits  # for a mode entropy bonus (``mode_ent_coef``)
        values = policy.value_net(latent_vf)
        probs = torch.softmax(logits, dim=-1)
        min_real = torch.finfo(logits.dtype).min
        entropy = -(torch.clamp(logits, min=min_real) * probs).sum(-1)
        return values, log_prob, entropy

    def _flat_buffer(self) -> dict[str, torch.Tensor]:
        """The rollout buffer flattened as ``RolloutBuffer.get`` does, as tensors (no copy)."""
        buffer = self.rollout_buffer
        names = ("observations", "actions", "values", "log_probs", "advantages", "returns")
        if not buffer.generator_ready:
            for name in names:
                buffer.__dict__[name] = buffer.swap_and_flatten(buffer.__dict__[name])
            buffer.generator_ready = True
        return {
            name: torch.as_tensor(buffer.__dict__[name], device=self.device).flatten()
            if name not in ("observations", "actions")
            else torch.as_tensor(buffer.__dict__[name], device=self.device)
            for name in names
        }


def qa_mode_entropy(log_probs: torch.Tensor) -> torch.Tensor:
    """The entropy of the mode (answer, hedge, abstain) of each row of normalised
    log-probabilities over the QA actions ``Discrete(2K + 1)`` (``envs.qa.actions``).

    Example:
        >>> round(float(qa_mode_entropy(torch.full((1, 5), 0.2).log())[0]), 4)  # K = 2
        1.0549
    """
    k = (log_probs.shape[-1] - 1) // 2
    modes = torch.stack(
        [
            log_probs[:, :k].logsumexp(-1),
            log_probs[:, k : 2 * k].logsumexp(-1),
            log_probs[:, 2 * k],
        ],
        -1,
    )
    return -(modes.exp() * modes).sum(-1)


#: ``agent.algo`` -> the algorithm: ``ppo`` is SB3's PPO in ``LeanPPO``'s loops.
ALGORITHMS: dict[str, type[PPO] | type[MaskablePPO]] = {"ppo": LeanPPO, "maskable_ppo": MaskablePPO}
