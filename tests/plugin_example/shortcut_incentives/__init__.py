"""Reward gaming in one step: an agent can do a task or claim it done without doing it.

Importing the package registers the env ``shortcut/Shortcut-v0``. The package is an
``incentives`` plugin: its schemes (``claimed_done``, ``verified_done``), its domain
(``shortcut``) and its Hydra configs are declared as entry points in ``pyproject.toml``.
"""

import gymnasium as gym

from incentives.domain import Domain
from shortcut_incentives.env import ENV_ID, ShortcutEnv

__all__ = ["DOMAIN", "ENV_ID", "ShortcutEnv"]

if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="shortcut_incentives.env:ShortcutEnv")

DOMAIN = Domain(
    name="shortcut",
    description="do a task, or claim it done without doing it",
    behaviour="shortcut_incentives.behaviour:ShortcutBehaviour",
)
