"""The Elliptic data set format (Weber et al. 2019, "Anti-Money Laundering in Bitcoin").

Three CSV files in a folder:

* ``elliptic_txs_features.csv``: no header; ``txId``, the time step (1-49), then 165
  features (167 columns in all);
* ``elliptic_txs_classes.csv``: header ``txId,class``; class ``1`` illicit, ``2`` licit,
  ``unknown``;
* ``elliptic_txs_edgelist.csv``: header ``txId1,txId2``.

The paper's temporal split: train on time steps 1-34, test on 35-49, labelled
transactions only. Its best illicit F1 was the random forest's on all features: 0.788.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chainsleuth.core.errors import InvalidInput
from chainsleuth.risk import model as risk_model

FEATURES_FILE = "elliptic_txs_features.csv"
CLASSES_FILE = "elliptic_txs_classes.csv"
EDGES_FILE = "elliptic_txs_edgelist.csv"
N_FEATURES = 165
TRAIN_LAST_STEP = 34
PUBLISHED_RF_ILLICIT_F1 = 0.788


@dataclass
class Elliptic:
    tx_ids: np.ndarray  # int64
    steps: np.ndarray  # int64
    x: np.ndarray  # float64, 165 columns
    label: np.ndarray  # 1 illicit, 0 licit, -1 unknown
    edges: np.ndarray  # (n, 2) int64 txIds


def _need(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise InvalidInput(f"{folder} is no Elliptic data set folder: {name} is missing")
    return path


def load(folder: Path) -> Elliptic:
    """Read and check the three files; one-line ``InvalidInput`` naming the first fault."""
    folder = Path(folder)
    feats = _need(folder, FEATURES_FILE)
    classes = _need(folder, CLASSES_FILE)
    edges_path = _need(folder, EDGES_FILE)
    try:
        raw = np.loadtxt(feats, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise InvalidInput(
            f"{FEATURES_FILE}: not numeric CSV ({str(exc).splitlines()[0]})"
        ) from None
    if raw.shape[1] != N_FEATURES + 2:
        raise InvalidInput(
            f"{FEATURES_FILE}: {raw.shape[1]} columns, expected {N_FEATURES + 2} "
            "(txId, time step, 165 features)"
        )
    tx_ids = raw[:, 0].astype(np.int64)
    steps = raw[:, 1].astype(np.int64)
    if steps.size and (steps.min() < 1 or steps.max() > 49):
        raise InvalidInput(f"{FEATURES_FILE}: time steps must be 1 to 49")
    index = {int(t): i for i, t in enumerate(tx_ids)}
    label = np.full(tx_ids.size, -1, dtype=np.int8)
    with classes.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != ["txId", "class"]:
            raise InvalidInput(f"{CLASSES_FILE}: the header must be txId,class")
        for line, row in enumerate(reader, 2):
            if len(row) != 2:
                raise InvalidInput(f"{CLASSES_FILE} line {line}: expected txId,class")
            tx, cls = row[0].strip(), row[1].strip()
            if not tx.isdigit() or cls not in {"1", "2", "unknown"}:
                raise InvalidInput(f"{CLASSES_FILE} line {line}: bad txId or class {cls!r}")
            i = index.get(int(tx))
            if i is None:
                raise InvalidInput(f"{CLASSES_FILE} line {line}: txId {tx} has no features")
            label[i] = {"1": 1, "2": 0, "unknown": -1}[cls]
    pairs: list[tuple[int, int]] = []
    with edges_path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != ["txId1", "txId2"]:
            raise InvalidInput(f"{EDGES_FILE}: the header must be txId1,txId2")
        for line, row in enumerate(reader, 2):
            if len(row) != 2 or not all(c.strip().isdigit() for c in row):
                raise InvalidInput(f"{EDGES_FILE} line {line}: expected txId1,txId2")
            pairs.append((int(row[0]), int(row[1])))
    edges = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return Elliptic(tx_ids, steps, raw[:, 2:], label, edges)


def split(data: Elliptic, last_train_step: int = TRAIN_LAST_STEP) -> tuple[np.ndarray, np.ndarray]:
    """(train mask, test mask) over labelled transactions: steps 1-34, and 35-49."""
    known = data.label >= 0
    return known & (data.steps <= last_train_step), known & (data.steps > last_train_step)


def evaluate(folder: Path, *, trees: int = 300, seed: int = 0) -> dict[str, Any]:
    """Train LightGBM on steps 1-34 (calibrated on the last of them), report illicit
    precision/recall/F1 on 35-49 beside the paper's random forest."""
    data = load(folder)
    train_m, test_m = split(data)
    if not np.any(data.label[train_m] == 1):
        raise InvalidInput("the Elliptic training steps (1-34) hold no illicit transaction")
    fitted, info = risk_model.fit(
        data.x[train_m],
        data.label[train_m].astype(np.int8),
        data.steps[train_m].astype(np.float64),
        features=[f"f{i}" for i in range(1, N_FEATURES + 1)],
        trees=trees,
        seed=seed,
    )
    test = risk_model.evaluate_fitted(fitted, data.x[test_m], data.label[test_m].astype(np.int8))
    at_half = risk_model.prf(data.label[test_m], fitted.proba(data.x[test_m]), 0.5)
    return {
        "dataset": "elliptic",
        "folder": str(folder),
        "transactions": int(data.tx_ids.size),
        "edges": int(data.edges.shape[0]),
        "train_rows": int(train_m.sum()),
        "test_rows": int(test_m.sum()),
        **info,
        "test": test,
        "test_at_0.5": at_half,
        "published_random_forest_illicit_f1": PUBLISHED_RF_ILLICIT_F1,
    }
