"""Gymnasium environments that emit events, registered under ``incentives/<Name>-v0``.

Importing ``envs`` registers them; the env modules themselves load on first ``make``.
"""

import gymnasium

__all__: list[str] = []

_ENTRY_POINTS = {
    "incentives/QA-v0": "envs.qa.env:QAEnv",
    "incentives/Chess-v0": "envs.chess.env:ChessEnv",
    "incentives/Text-v0": "envs.text.env:TextEnv",
    "incentives/TextAnswer-v0": "envs.text.answering:TextAnswerEnv",
}

for _env_id, _entry_point in _ENTRY_POINTS.items():
    if _env_id not in gymnasium.registry:
        gymnasium.register(id=_env_id, entry_point=_entry_point)
