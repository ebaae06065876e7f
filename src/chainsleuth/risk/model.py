"""The machine-learned illicit probability: LightGBM on the address features.

* **Labels** from a world's ground truth: an address is illicit when its actor's category
  is one of ``ILLICIT`` (``truth/addresses_<chain>.parquet`` + ``truth/actors.parquet``).
* **Temporal split** by first-seen time (the block time of the address's first flow): the
  earliest ``1 - test_share`` of addresses train, the rest test; no test address was seen
  before the cut. The last quarter of the training period is held out to calibrate.
* **Calibration**: isotonic regression (scikit-learn) of the held-out raw scores; the alert
  threshold is the calibrated probability that maximises F1 on the held-out part (or the
  one given). Precision, recall and F1 at that threshold, and ROC AUC, on the test part,
  beside a trivial baseline (flag everything: the prevalence).
* **Contributions**: LightGBM's ``pred_contrib=True`` (SHAP values, in log-odds), the
  top ones per prediction.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq

from chainsleuth.chain import storage
from chainsleuth.chain.chains import get_chain
from chainsleuth.core.errors import InvalidInput, NotFound
from chainsleuth.entities import service as entity_service
from chainsleuth.entities import source
from chainsleuth.risk import registry
from chainsleuth.risk.data import ChainData, load_chain
from chainsleuth.risk.features import FEATURES, address_features
from chainsleuth.risk.policy import TypologyPolicy

if TYPE_CHECKING:  # lightgbm and scikit-learn take seconds to import: only where a model is used
    import lightgbm as lgb

ILLICIT = frozenset(
    {
        "ransomware",
        "scam",
        "stolen_funds",
        "darknet_market",
        "mixer",
        "sanctioned",
        "money_mule",
        "terrorist_financing",
    }
)

_CACHE: dict[tuple[str, str, str], tuple[int, np.ndarray, np.ndarray, bool]] = {}
_CACHE_LOCK = threading.Lock()


@dataclass
class Dataset:
    x: np.ndarray
    y: np.ndarray
    first_t: np.ndarray
    chain: np.ndarray
    address_ids: np.ndarray
    features: list[str]


def world_labels(world: Path, data: ChainData) -> np.ndarray:
    """0/1 per address id of the chain (1: an illicit actor's address)."""
    truth = Path(world) / "truth"
    path = truth / f"addresses_{data.info.id}.parquet"
    if not path.is_file() or not (truth / "actors.parquet").is_file():
        raise InvalidInput(f"{world} is no world folder: {path.name} or actors.parquet is missing")
    actors = pq.read_table(truth / "actors.parquet", columns=["actor_id", "category"]).to_pylist()
    bad = {int(a["actor_id"]) for a in actors if a["category"] in ILLICIT}
    rows = pq.read_table(path, columns=["address", "actor_id"]).to_pylist()
    illicit = {
        r["address"] for r in rows if r["actor_id"] is not None and int(r["actor_id"]) in bad
    }
    texts = data.addresses(list(range(data.address_count)))
    return np.array([1 if t in illicit else 0 for t in texts], dtype=np.int8)


def build_dataset(
    root: Path, world: Path | None, *, chain: str = "all", policy: TypologyPolicy | None = None
) -> Dataset:
    policy = policy or TypologyPolicy()
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for c in entity_service.chains_of(chain):
        try:
            data = load_chain(root, c, prices_usd=policy.prices_usd)
        except NotFound:
            continue
        try:
            ids, first_t, x = address_features(data, policy)
            if world is not None:
                y = world_labels(world, data)[ids]
            else:
                y = np.zeros(ids.size, dtype=np.int8)
        finally:
            data.close()
        parts.append((x, y, first_t, np.full(ids.size, c), ids))
    if not parts:
        raise NotFound("the chain store holds no blocks: load a world or ingest first")
    return Dataset(
        x=np.vstack([p[0] for p in parts]),
        y=np.concatenate([p[1] for p in parts]).astype(np.int8),
        first_t=np.concatenate([p[2] for p in parts]),
        chain=np.concatenate([p[3] for p in parts]),
        address_ids=np.concatenate([p[4] for p in parts]),
        features=list(FEATURES),
    )


def temporal_split(first_t: np.ndarray, test_share: float) -> tuple[np.ndarray, np.ndarray, int]:
    """(train mask, test mask, cut time): test = first seen at or after the cut."""
    if not 0 < test_share < 1:
        raise InvalidInput("test_share must be between 0 and 1")
    cut = int(np.quantile(first_t, 1 - test_share)) if first_t.size else 0
    return first_t < cut, first_t >= cut, cut


def prf(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    flag = p >= threshold
    tp = int(np.sum(flag & (y == 1)))
    fp = int(np.sum(flag & (y == 0)))
    fn = int(np.sum(~flag & (y == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def auc(y: np.ndarray, p: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

    return float(roc_auc_score(y, p)) if 0 < int(np.sum(y)) < y.size else None


def best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    if not np.any(y == 1):
        return 0.5
    best, best_f1 = 0.5, -1.0
    for th in np.unique(p):
        f1 = prf(y, p, float(th))["f1"]
        if f1 > best_f1:
            best, best_f1 = float(th), f1
    return best


@dataclass
class Fitted:
    booster: lgb.Booster
    iso_x: list[float]
    iso_y: list[float]
    threshold: float

    def raw(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(x), dtype=np.float64)

    def proba(self, x: np.ndarray) -> np.ndarray:
        raw = self.raw(x)
        if len(self.iso_x) < 2:
            return raw
        return np.asarray(np.interp(raw, self.iso_x, self.iso_y), dtype=np.float64)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(x, pred_contrib=True), dtype=np.float64)


def fit(
    x: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    *,
    features: Sequence[str],
    trees: int = 200,
    seed: int = 0,
    threshold: float | None = None,
) -> tuple[Fitted, dict[str, Any]]:
    """Fit on the earlier three quarters (by ``order``), calibrate and choose the threshold
    on the last quarter."""
    if int(np.sum(y)) == 0:
        raise InvalidInput("the training data holds no illicit example")
    cut = np.quantile(order, 0.75)
    fit_m, cal_m = order < cut, order >= cut
    if not np.any(y[cal_m] == 1) or not np.any(y[fit_m] == 1):  # too few: calibrate in-sample
        fit_m = cal_m = np.ones(y.size, dtype=bool)
    params = {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_data_in_leaf": 5,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.9,
        "bagging_freq": 1,
        "seed": seed,
        "deterministic": True,
        "num_threads": 2,
        "verbose": -1,
    }
    import lightgbm as lgb
    from sklearn.isotonic import IsotonicRegression  # type: ignore[import-untyped]

    booster = lgb.train(
        params,
        lgb.Dataset(x[fit_m], label=y[fit_m], feature_name=list(features)),
        num_boost_round=trees,
    )
    raw = np.asarray(booster.predict(x[cal_m]), dtype=np.float64)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y[cal_m])
    fitted = Fitted(
        booster, [float(v) for v in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_], 0.5
    )
    cal = fitted.proba(x[cal_m])
    fitted.threshold = float(threshold) if threshold is not None else best_threshold(y[cal_m], cal)
    info = {
        "fit_rows": int(fit_m.sum()),
        "calibration_rows": int(cal_m.sum()),
        "calibration": {
            "mean_predicted": float(np.mean(cal)),
            "observed_rate": float(np.mean(y[cal_m])),
            "brier": float(np.mean((cal - y[cal_m]) ** 2)),
        },
    }
    return fitted, info


def evaluate_fitted(fitted: Fitted, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    p = fitted.proba(x)
    prevalence = float(np.mean(y)) if y.size else 0.0
    out: dict[str, Any] = {
        "rows": int(y.size),
        "illicit": int(np.sum(y)),
        "threshold": fitted.threshold,
        "auc": auc(y, fitted.raw(x)),
        **prf(y, p, fitted.threshold),
        "brier": float(np.mean((p - y) ** 2)) if y.size else None,
        "baseline": {
            "rule": "flag every address (the prevalence)",
            "auc": 0.5,
            **prf(y, np.ones(y.size), 0.5),
        },
    }
    out["baseline"]["prevalence"] = prevalence
    return out


def save(models: Path, fitted: Fitted, features: Sequence[str], metrics: dict[str, Any]) -> str:
    files = {
        "model.txt": fitted.booster.model_to_string(),
        "calibration.json": json.dumps(
            {
                "x": fitted.iso_x,
                "y": fitted.iso_y,
                "threshold": fitted.threshold,
                "features": list(features),
            }
        ),
    }
    return registry.save_version(models, files, metrics)


_LOADED: dict[tuple[str, str], tuple[Fitted, list[str]]] = {}


def load(models: Path, version: str | None = None) -> tuple[str, Fitted, list[str]]:
    """A stored version (kept in memory: a version never changes once written)."""
    version = registry.resolve(models, version)
    path = registry.check_version(models, version)
    key = (str(path.resolve()), version)
    with _CACHE_LOCK:
        hit = _LOADED.get(key)
    if hit is not None:
        return version, hit[0], hit[1]
    import lightgbm as lgb

    booster = lgb.Booster(model_str=(path / "model.txt").read_text())
    cal = json.loads((path / "calibration.json").read_text())
    fitted = Fitted(booster, cal["x"], cal["y"], float(cal["threshold"]))
    with _CACHE_LOCK:
        _LOADED[key] = (fitted, list(cal["features"]))
    return version, fitted, list(cal["features"])


def train(
    root: Path,
    world: Path,
    *,
    models: Path,
    chain: str = "all",
    trees: int = 200,
    test_share: float = 0.3,
    seed: int = 0,
    threshold: float | None = None,
    policy: TypologyPolicy | None = None,
) -> tuple[str, dict[str, Any]]:
    """Train on the store's chains with the world's labels; store a version; its metrics."""
    if trees < 1 or trees > 10_000:
        raise InvalidInput("trees must be between 1 and 10000")
    ds = build_dataset(root, world, chain=chain, policy=policy)
    train_m, test_m, cut = temporal_split(ds.first_t, test_share)
    fitted, info = fit(
        ds.x[train_m],
        ds.y[train_m],
        ds.first_t[train_m],
        features=ds.features,
        trees=trees,
        seed=seed,
        threshold=threshold,
    )
    metrics = {
        "dataset": "world",
        "world": str(world),
        "chains": sorted(set(ds.chain.tolist())),
        "trees": trees,
        "features": ds.features,
        "split": {
            "by": "first-seen time",
            "cut": cut,
            "train_rows": int(train_m.sum()),
            "test_rows": int(test_m.sum()),
            "train_illicit": int(ds.y[train_m].sum()),
        },
        **info,
        "test": evaluate_fitted(fitted, ds.x[test_m], ds.y[test_m]),
        "importance": _importance(fitted, ds.features),
    }
    version = save(models, fitted, ds.features, metrics)
    metrics["version"] = version
    return version, metrics


def evaluate_on_world(
    root: Path,
    world: Path,
    *,
    models: Path,
    version: str | None = None,
    policy: TypologyPolicy | None = None,
) -> dict[str, Any]:
    """A stored version on another world (every address of its store, its truth's labels):
    how the model does on data it never saw."""
    version, fitted, features = load(models, version)
    if features != list(FEATURES):
        raise InvalidInput("the model was trained on other features: train a new version")
    ds = build_dataset(root, world, policy=policy)
    return {
        "dataset": "world",
        "version": version,
        "world": str(world),
        "test": evaluate_fitted(fitted, ds.x, ds.y),
    }


def _importance(fitted: Fitted, features: Sequence[str]) -> dict[str, float]:
    gain = fitted.booster.feature_importance(importance_type="gain")
    total = float(np.sum(gain)) or 1.0
    pairs = sorted(zip(features, gain, strict=True), key=lambda kv: -kv[1])
    return {k: round(float(v) / total, 4) for k, v in pairs[:10]}


def top_contributions(
    contrib: np.ndarray, features: Sequence[str], x: np.ndarray, top: int = 5
) -> list[list[dict[str, float | str]]]:
    out = []
    for row, vals in zip(contrib, x, strict=True):
        order = np.argsort(-np.abs(row[:-1]))[:top]
        out.append(
            [
                {"feature": features[j], "value": float(vals[j]), "contribution": float(row[j])}
                for j in order
                if row[j] != 0
            ]
        )
    return out


def chain_features(
    root: Path, chain: str, policy: TypologyPolicy
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(address ids, features, is UTXO) of every address of the chain, kept in memory
    until the chain's tip moves (one entry per store, chain and policy)."""
    info = get_chain(chain)
    with source.chain_connection(Path(root)) as con:
        row = storage.one(con, "SELECT tip_height FROM chain_state WHERE chain = ?", [info.id])
    tip = -1 if row is None or row[0] is None else int(row[0])
    key = (str(Path(root).resolve()), info.id, policy.model_dump_json())
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None and hit[0] == tip:
        return hit[1], hit[2], hit[3]
    data = load_chain(root, info.id, prices_usd=policy.prices_usd)
    try:
        ids, _, x = address_features(data, policy)
        utxo = data.utxo
    finally:
        data.close()
    with _CACHE_LOCK:
        _CACHE[key] = (tip, ids, x, utxo)
    return ids, x, utxo


def score_addresses(
    root: Path,
    chain: str,
    address_ids: Sequence[int],
    *,
    models: Path | None = None,
    version: str | None = None,
    policy: TypologyPolicy | None = None,
    top: int = 5,
) -> tuple[np.ndarray, list[list[dict[str, float | str]]]]:
    """Calibrated illicit probability of each address id and its top feature contributions
    (log-odds). Addresses without a flow get the model's score of an empty row."""
    models = models if models is not None else registry.models_dir(Path(root).parent)
    _, fitted, features = load(models, version)
    if features != list(FEATURES):
        raise InvalidInput("the model was trained on other features: train a new version")
    ids, x, utxo = chain_features(root, chain, policy or TypologyPolicy())
    want = np.asarray(list(address_ids), dtype=np.int64)
    pos = np.searchsorted(ids, want)
    found = (pos < ids.size) & (ids[np.minimum(pos, max(ids.size - 1, 0))] == want)
    rows = np.zeros((want.size, len(FEATURES)))
    rows[found] = x[pos[found]]
    rows[:, FEATURES.index("is_account_chain")] = 0.0 if utxo else 1.0
    return fitted.proba(rows), top_contributions(fitted.contributions(rows), features, rows, top)
