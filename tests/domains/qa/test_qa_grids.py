"""The QA grid family: valid grids, theory's thresholds, learned boundaries, the config.

Expected thresholds come from a brute force over a fine grid of p (the best payoff line
taken directly from the payoffs, not from the signal's ``thresholds``); boundaries of
hand-made behaviours are known by construction.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from incentives.domains.qa.behaviour import QABehaviour
from incentives.domains.qa.figures import boundaries_figure, short_label
from incentives.domains.qa.grids import (
    family_member,
    grid_family,
    learned_boundaries,
    main,
)
from incentives.domains.qa.schemes import HedgingGridSignal
from incentives.run.build import ConfigError, phases


def brute_force(params: dict[str, float], scheme: str) -> tuple[list[float], list[str]]:
    """Switch points and modes of the best payoff line on a fine grid of p."""
    if scheme == "confidence_target":
        t = params["t"]
        cells = {"answer": (1.0, -t / (1 - t)), "hedge": (1.0, -t / (1 - t)), "abstain": (0, 0)}
    else:
        cells = {
            "answer": (params["correct"], params["wrong"]),
            "hedge": (params["hedged_correct"], params["hedged_wrong"]),
            "abstain": (params["abstain"], params["abstain"]),
        }
    p = np.linspace(0.0, 1.0, 200_001)
    order = ["abstain", "answer", "hedge"]  # ties: abstain, then answer
    values = np.stack([cells[m][0] * p + cells[m][1] * (1 - p) for m in order])
    best = np.argmax(values + 1e-12 * np.array([[2], [1], [0]]), axis=0)
    switches = np.flatnonzero(best[1:] != best[:-1])
    return [float(p[i + 1]) for i in switches], [order[best[0]]] + [
        order[best[i + 1]] for i in switches
    ]


def test_family_grids_are_valid_and_match_brute_force() -> None:
    grids = grid_family(19, 12)
    assert [g.kind for g in grids[:4]] == ["band", "single", "band", "target"]
    for grid in grids:
        cuts, modes = brute_force(grid.params, grid.scheme)
        assert tuple(modes) == grid.modes
        assert np.allclose(cuts, grid.thresholds, atol=2e-5)
        assert all(0.3 <= t <= 0.95 for t in grid.thresholds)
        if grid.kind == "band":
            assert modes == ["abstain", "hedge", "answer"]
            assert 0.079 <= grid.thresholds[1] - grid.thresholds[0] <= 0.301
        else:
            assert modes == ["abstain", "answer"]
        if grid.scheme == "hedging_grid":  # no warning-worthy oddities
            assert HedgingGridSignal(**grid.params).oddities() == []
    singles = sorted(g.thresholds[0] for g in grids if g.kind == "single")
    # one single threshold in each third of (0.3, 0.95)
    assert [int((t - 0.3) / (0.65 / 3)) for t in singles] == [0, 1, 2]


def test_family_is_deterministic_per_seed() -> None:
    assert grid_family(19, 6) == grid_family(19, 6)
    assert grid_family(19, 6) != grid_family(20, 6)


def test_family_member_and_bad_input() -> None:
    grid = grid_family(19, 12)[3]
    assert family_member(19, 3) == (grid.scheme, grid.params)
    with pytest.raises(ValueError, match=r"reward.index=12; accepted: a whole number in \[0, 11\]"):
        family_member(19, 12)
    with pytest.raises(ValueError, match=r"reward\.family_seed='x'"):
        family_member("x", 0)


def test_config_resolves_a_member_to_its_own_scheme() -> None:
    config = {
        "reward": {"name": "grid_family", "family_seed": 19, "size": 12, "index": 0},
        "warmup": [{"reward": "binary", "steps": 10}],
        "budget": 20,
    }
    schedule = phases(config)
    grid = grid_family(19, 12)[0]
    assert schedule[1].signal.name == grid.scheme
    assert schedule[1].signal.thresholds() == pytest.approx(grid.thresholds, abs=1e-6)
    config["reward"]["index"] = -1
    with pytest.raises(ConfigError, match=r"^reward: reward.index=-1; accepted"):
        phases(config)


def test_learned_boundaries_of_hand_behaviours() -> None:
    signal = HedgingGridSignal(hedged_wrong=-1.0)  # abstain < 2/3 < hedge < 6/7 < answer
    p = np.round(np.arange(0.25, 1.0001, 0.01), 2)
    modes = np.where(p < 0.6, "abstain", np.where(p < 0.9, "hedge", "answer"))
    assert learned_boundaries(signal, p, modes) == pytest.approx([0.595, 0.895])
    # never abstains: the first boundary is the lowest p* seen; always abstains: 1
    assert learned_boundaries(signal, p, np.full(p.shape, "hedge"))[0] == pytest.approx(0.25)
    assert learned_boundaries(signal, p, np.full(p.shape, "abstain")) == [1.0, 1.0]
    # one stray answer at 0.3 moves no boundary: the stump minimises the mistakes
    stray = modes.copy()
    stray[5] = "answer"
    assert learned_boundaries(signal, p, stray) == pytest.approx([0.595, 0.895])
    # codes into MODES (answer 0, hedge 1, abstain 2) as the env reports them
    codes = np.where(p < 0.6, 2, np.where(p < 0.9, 1, 0))
    assert learned_boundaries(signal, p, codes) == pytest.approx([0.595, 0.895])


def test_behaviour_reports_boundaries_and_their_error() -> None:
    signal = HedgingGridSignal(hedged_wrong=-1.0)
    behaviour = QABehaviour(signal)
    p = np.round(np.arange(0.25, 1.0001, 0.01), 2)
    codes = np.where(p < 0.6, 2, np.where(p < 0.9, 1, 0))
    n = len(p)
    behaviour.add_columns(
        {
            "mode": codes,
            "correct": np.ones(n, bool),
            "p_star": p,
            "p_chosen": p,
            "stratum": np.ones(n, np.int64),
        },
        np.arange(n),
    )
    metrics = behaviour.metrics()
    assert metrics["boundary/1"] == pytest.approx(0.595)
    assert metrics["boundary/2"] == pytest.approx(0.895)
    assert metrics["boundary_error"] == pytest.approx(max(2 / 3 - 0.595, 0.895 - 6 / 7))


def test_figure_needs_two_grids_and_labels_are_short() -> None:
    theory = {"thresholds": [0.5]}
    run = {"boundary/1": 0.52, "regret_relative": 0.01}
    assert boundaries_figure({"a": ([run], theory)}) is None
    figure = boundaries_figure(
        {
            "grid_family reward.index=1": ([run, run], theory),
            "grid_family reward.index=0": ([run], theory),
        }
    )
    assert figure is not None
    assert short_label("grid_family reward.index=10") == "g10"


def test_listing_command_writes_the_family(tmp_path, capsys) -> None:
    main(["--seed", "19", "--n", "4", "--out", str(tmp_path)])
    listing = json.loads((tmp_path / "grids.json").read_text())
    assert [g["index"] for g in listing["grids"]] == [0, 1, 2, 3]
    assert listing["grids"][1]["rerun"].endswith("reward.family_seed=19 reward.index=1")
    assert len(capsys.readouterr().out.splitlines()) == 4
    with pytest.raises(SystemExit) as stop:
        main(["--n", "0"])
    assert stop.value.code == 2
