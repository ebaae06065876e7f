"""The Elliptic loader and split, on a small sample in the data set's format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from chainsleuth.cli import app
from chainsleuth.core.errors import InvalidInput
from chainsleuth.risk import elliptic


def write_sample(folder: Path, n: int = 1200, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    steps = rng.integers(1, 50, size=n)
    illicit = rng.random(n) < 0.15
    x = rng.normal(size=(n, 165))
    x[illicit, :5] += 2.0  # a learnable signal
    with (folder / elliptic.FEATURES_FILE).open("w") as fh:
        for i in range(n):
            fh.write(",".join([str(1000 + i), str(steps[i]), *(f"{v:.5f}" for v in x[i])]) + "\n")
    with (folder / elliptic.CLASSES_FILE).open("w") as fh:
        fh.write("txId,class\n")
        for i in range(n):
            cls = "unknown" if i % 5 == 0 else ("1" if illicit[i] else "2")
            fh.write(f"{1000 + i},{cls}\n")
    with (folder / elliptic.EDGES_FILE).open("w") as fh:
        fh.write("txId1,txId2\n")
        for i in range(n - 1):
            fh.write(f"{1000 + i},{1001 + i}\n")


def test_load_and_split(tmp_path: Path) -> None:
    write_sample(tmp_path)
    data = elliptic.load(tmp_path)
    assert data.x.shape == (1200, 165) and data.edges.shape == (1199, 2)
    assert set(np.unique(data.label)) == {-1, 0, 1}
    train, test = elliptic.split(data)
    assert data.steps[train].max() <= 34 and data.steps[test].min() >= 35
    assert not np.any(data.label[train | test] < 0)
    m = elliptic.evaluate(tmp_path, trees=30)
    assert m["test"]["f1"] > 0.5 and m["published_random_forest_illicit_f1"] == 0.788


def test_malformed_files(tmp_path: Path) -> None:
    write_sample(tmp_path, n=50)
    (tmp_path / elliptic.CLASSES_FILE).write_text("txId,class\n1000,3\n")
    with pytest.raises(InvalidInput, match="line 2"):
        elliptic.load(tmp_path)
    (tmp_path / elliptic.CLASSES_FILE).write_text("id,label\n")
    with pytest.raises(InvalidInput, match="header"):
        elliptic.load(tmp_path)
    (tmp_path / elliptic.FEATURES_FILE).write_text("1,2,3\n")
    with pytest.raises(InvalidInput, match="columns"):
        elliptic.load(tmp_path)
    (tmp_path / elliptic.EDGES_FILE).unlink()
    result = CliRunner().invoke(app, ["model", "evaluate", "--dataset", "elliptic", str(tmp_path)])
    assert result.exit_code == 2 and "missing" in result.output


def test_cli_evaluate_elliptic(tmp_path: Path) -> None:
    write_sample(tmp_path)
    result = CliRunner().invoke(
        app, ["model", "evaluate", "--dataset", "elliptic", str(tmp_path), "--trees", "20"]
    )
    assert result.exit_code == 0, result.output
    assert "0.788" in result.output
