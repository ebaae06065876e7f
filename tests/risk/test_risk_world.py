"""Detectors and the model on the small test world; the CLI's bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from chainsleuth.cli import app
from chainsleuth.core.errors import InvalidInput, NotFound
from chainsleuth.risk import model as risk_model
from chainsleuth.risk import registry
from chainsleuth.risk.evaluation import evaluate
from chainsleuth.risk.policy import parse_policy
from chainsleuth.risk.typologies import Typology, detect


def test_eval_every_detector_at_090(world: Path, risk_store: Path) -> None:
    """Issue 6's quality bar on a world the parameters were not tuned on (they were tuned
    on seed 5; this world is seed 11), with the world's public labels as provenance."""
    scores = {s.typology: s for s in evaluate(world, risk_store)}
    for typ in ("peel_chain", "fan_in", "fan_out", "structuring", "pass_through", "mixing",
                "chain_hopping", "dormant_then_active", "round_trip"):  # fmt: skip
        s = scores[typ]
        assert s.true > 0, (typ, s)
        assert s.precision is not None and s.precision >= 0.9, (typ, s)
        assert s.recall is not None and s.recall >= 0.9, (typ, s)
    assert scores["fan_in"].set_aside > 0  # one-deposit sweeps the truth calls fan-ins


def test_detect_per_address_and_incremental(risk_store: Path) -> None:
    every = detect(
        risk_store, "btc", typologies=[Typology.PEEL_CHAIN, Typology.DORMANT_THEN_ACTIVE]
    )
    assert every and all(i.explanation and i.tx_hashes for i in every)
    one = every[0]
    mine = detect(
        risk_store,
        "btc",
        address_ids=[one.address_ids[0]],
        typologies=[Typology.PEEL_CHAIN, Typology.DORMANT_THEN_ACTIVE],
    )
    assert one in mine and all(one.address_ids[0] in i.address_ids for i in mine)
    late = max(i.last_height for i in every)
    recent = detect(
        risk_store,
        "btc",
        since_height=late,
        typologies=[Typology.PEEL_CHAIN, Typology.DORMANT_THEN_ACTIVE],
    )
    assert recent == [i for i in every if i.last_height >= late]


def test_policy_bad_input() -> None:
    with pytest.raises(InvalidInput, match="peel_chain.min_hops"):
        parse_policy({"peel_chain": {"min_hops": 0}})
    with pytest.raises(InvalidInput):
        parse_policy({"no_such": 1})


def test_model_trains_beats_baseline_and_scores(
    world: Path, risk_store: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    version, m = risk_model.train(risk_store, world, models=models, trees=40)
    test = m["test"]
    assert test["auc"] is not None and test["auc"] >= 0.7  # measured 0.82 with 100 trees
    assert test["f1"] > 3 * test["baseline"]["f1"]
    cal = m["calibration"]
    assert abs(cal["mean_predicted"] - cal["observed_rate"]) < 0.02
    assert (
        registry.versions(models) == [version] and registry.metrics(models, version)["trees"] == 40
    )
    # temporal split: no test address first seen before the cut
    ds = risk_model.build_dataset(risk_store, world)
    train_m, test_m, cut = risk_model.temporal_split(ds.first_t, 0.3)
    assert ds.first_t[test_m].min() >= cut > ds.first_t[train_m].max()
    assert not np.any(train_m & test_m)
    ids = ds.address_ids[(ds.chain == "btc")][:20]
    probs, contrib = risk_model.score_addresses(risk_store, "btc", ids, models=models)
    assert probs.shape == (20,) and np.all((probs >= 0) & (probs <= 1))
    assert all(len(c) <= 5 for c in contrib) and any(c for c in contrib)
    registry.activate(models, version, by="test")
    assert registry.active(models) == version
    with pytest.raises(NotFound):
        registry.activate(models, "v0099", by="test")
    with pytest.raises(InvalidInput):
        registry.check_version(models, "../etc")


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "typologies", "/nonexistent-world"],
        ["typologies", "detect", "doge"],
        ["typologies", "detect", "btc", "--typology", "smurfing"],
        ["model", "activate", "v0999"],
        ["model", "activate", "latest"],
        ["model", "evaluate", "--version", "v0999"],
        ["model", "evaluate", "--dataset", "mnist", "/tmp"],
        ["model", "evaluate", "--dataset", "elliptic", "/nonexistent"],
        ["model", "train", "--world", "/nonexistent"],
        ["model", "score", "doge", "x"],
    ],
)
def test_cli_bad_input_exit_2(
    args: list[str], tmp_path: Path, risk_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path))
    if args[:2] == ["typologies", "detect"]:
        args = [*args, "--store", str(risk_store)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "Traceback" not in result.output


def test_cli_eval_typologies_prints_scores(world: Path, risk_store: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "typologies",
            str(world),
            "--store",
            str(risk_store),
            "--chain",
            "btc",
            "--typology",
            "peel_chain,dormant_then_active",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "peel_chain" in result.output and "1.000" in result.output
