"""``chainsleuth model ...`` (train, evaluate, list, activate, score), ``chainsleuth
typologies detect`` and ``chainsleuth eval typologies``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from chainsleuth.chain import service as chain_service
from chainsleuth.chain.addresses import canonical_address
from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.cli import console
from chainsleuth.core.config import load_settings
from chainsleuth.core.errors import InvalidInput, NotFound
from chainsleuth.entities import source
from chainsleuth.risk import elliptic, registry
from chainsleuth.risk import model as risk_model
from chainsleuth.risk.evaluation import evaluate as evaluate_typologies
from chainsleuth.risk.provenance import ProvenanceContext, labels_from_files
from chainsleuth.risk.typologies import detect, parse_typologies

app = typer.Typer(
    help="The illicit-probability model: train, evaluate, versions, score.", no_args_is_help=True
)
typologies_app = typer.Typer(help="Typology detectors.", no_args_is_help=True)

StoreOption = typer.Option(
    None, "--store", help="The chain store folder (default: <data dir>/chains)"
)
JsonOption = typer.Option(False, "--json", help="Print JSON")
LabelsOption = typer.Option(
    [], "--labels", help="Label files or folders (TagPack, OFAC, CSV): where funds come from"
)


def _root(store: Path | None) -> Path:
    return Path(store) if store is not None else chain_service.store_root(load_settings())


def _models() -> Path:
    return registry.models_dir(load_settings().data_dir)


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _f(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}"


@app.command()
def train(
    world: Path = typer.Option(
        ..., "--world", help="The world folder whose truth gives the labels"
    ),
    store: Path | None = StoreOption,
    trees: int = typer.Option(200, "--trees", help="Boosting rounds"),
    test_share: float = typer.Option(
        0.3, "--test-share", help="Latest share of addresses to test on"
    ),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Alert threshold (default: best F1)"
    ),
    activate: bool = typer.Option(False, "--activate", help="Make the new version active"),
    as_json: bool = JsonOption,
) -> None:
    """Train a model on the store's chains (temporal split), store it as a new version."""
    if not (Path(world) / "truth").is_dir():
        raise InvalidInput(f"{world} is no world folder (no truth/)")
    models = _models()
    version, metrics = risk_model.train(
        _root(store), world, models=models, trees=trees, test_share=test_share, threshold=threshold
    )
    if activate:
        registry.activate(models, version, by="cli")
    if as_json:
        _echo_json(metrics)
        return
    _print_metrics(metrics)


def _print_metrics(m: dict[str, Any]) -> None:
    t = m["test"]
    b = t["baseline"]
    table = Table(
        "",
        "precision",
        "recall",
        "F1",
        "AUC",
        title=f"model {m.get('version', '')} on "
        f"{'the test part' if 'split' in m or m.get('dataset') == 'elliptic' else m.get('world')}"
        f" ({t['rows']} rows, {t['illicit']} illicit)",
    )
    table.add_row(
        f"model @ {t['threshold']:.3f}",
        _f(t["precision"]),
        _f(t["recall"]),
        _f(t["f1"]),
        _f(t["auc"]),
    )
    table.add_row("baseline: flag all", _f(b["precision"]), _f(b["recall"]), _f(b["f1"]), "0.500")
    if "published_random_forest_illicit_f1" in m:
        table.add_row(
            "Weber et al. 2019 random forest",
            "-",
            "-",
            _f(m["published_random_forest_illicit_f1"]),
            "-",
        )
    console.print(table)


@app.command()
def evaluate(
    version: str | None = typer.Option(
        None, "--version", help="A stored version (default: active)"
    ),
    dataset: str | None = typer.Option(
        None, "--dataset", help="'elliptic' to run on that data set"
    ),
    folder: Path | None = typer.Argument(None, help="The data set's folder (with --dataset)"),
    trees: int = typer.Option(300, "--trees", help="Boosting rounds (with --dataset)"),
    world: Path | None = typer.Option(
        None, "--world", help="Score the version on this (other) world: its store is --store"
    ),
    store: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Show a version's stored test metrics, score it on another world (``--world``), or
    train and test on the Elliptic data set (steps 1-34 / 35-49) beside the published
    random forest."""
    if world is not None and dataset is None:
        if not (Path(world) / "truth").is_dir():
            raise InvalidInput(f"{world} is no world folder (no truth/)")
        metrics = risk_model.evaluate_on_world(
            _root(store), world, models=_models(), version=version
        )
    elif dataset is not None:
        if dataset.strip().lower() != "elliptic":
            raise InvalidInput(f"unknown dataset {dataset!r}: use elliptic")
        if folder is None:
            raise InvalidInput(
                "give the Elliptic folder: chainsleuth model evaluate --dataset elliptic DIR"
            )
        metrics = elliptic.evaluate(folder, trees=trees)
    else:
        models = _models()
        metrics = registry.metrics(models, registry.resolve(models, version))
    if as_json:
        _echo_json(metrics)
        return
    _print_metrics(metrics)


@app.command("list")
def list_versions(as_json: bool = JsonOption) -> None:
    """The stored versions with their test metrics; * marks the active one."""
    models = _models()
    active = registry.active(models)
    rows = []
    for v in registry.versions(models):
        m = registry.metrics(models, v)
        rows.append(
            {
                "version": v,
                "active": v == active,
                "trees": m.get("trees"),
                **{k: m["test"].get(k) for k in ("precision", "recall", "f1", "auc", "threshold")},
            }
        )
    if as_json:
        _echo_json(rows)
        return
    table = Table("", "version", "trees", "precision", "recall", "F1", "AUC", "threshold")
    for r in rows:
        table.add_row(
            "*" if r["active"] else "",
            r["version"],
            str(r["trees"]),
            _f(r["precision"]),
            _f(r["recall"]),
            _f(r["f1"]),
            _f(r["auc"]),
            _f(r["threshold"]),
        )
    console.print(table)


@app.command("activate")
def activate_version(version: str = typer.Argument(..., help="e.g. v0002")) -> None:
    """Make a version the active one (the CLI acts as an operator)."""
    registry.activate(_models(), version, by="cli")
    typer.echo(f"{version} is now the active model")


def _address_id(root: Path, chain: str, address: str) -> int:
    info = get_chain(chain)
    text = canonical_address(info.id, address)
    with source.chain_connection(root) as con:
        found = ChainReader(con, root).address_id(info.id, text)
    if found is None:
        raise NotFound(f"address {address} is not on {info.id}")
    return found


@app.command()
def score(
    chain: str = typer.Argument(...),
    address: str = typer.Argument(...),
    store: Path | None = StoreOption,
    version: str | None = typer.Option(None, "--version"),
    as_json: bool = JsonOption,
) -> None:
    """The illicit probability of an address and its top feature contributions."""
    root = _root(store)
    aid = _address_id(root, chain, address)
    prob, contrib = risk_model.score_addresses(
        root, chain, [aid], models=_models(), version=version
    )
    if as_json:
        _echo_json({"address": address, "probability": float(prob[0]), "contributions": contrib[0]})
        return
    typer.echo(f"illicit probability {float(prob[0]):.3f}")
    for c in contrib[0]:
        typer.echo(f"  {c['feature']:<26} = {c['value']:<12.4g} {c['contribution']:+.3f}")


@typologies_app.command("detect")
def detect_cmd(
    chain: str = typer.Argument(...),
    address: str | None = typer.Option(None, "--address", help="Only instances touching it"),
    typology: str | None = typer.Option(None, "--typology", help="Comma-separated typologies"),
    since_height: int | None = typer.Option(None, "--since-height"),
    labels: list[Path] = LabelsOption,
    prices: Path | None = typer.Option(
        None,
        "--prices",
        help="A trades export (asset, price_usd, time: the exchange's trades.csv): value "
        "payments at the day's median price instead of the policy's reference prices",
    ),
    store: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Run the typology detectors over a chain (or for one address). With ``--labels``
    (TagPacks, OFAC lists, CSV files or a folder of them), only instances whose funds came
    from an illicit source are reported; without, the shapes alone."""
    from chainsleuth.risk.typologies.prices import from_trades_csv

    root = _root(store)
    day_prices = from_trades_csv(prices) if prices is not None else None
    chosen = parse_typologies(typology)
    ids = [_address_id(root, chain, address)] if address else None
    context = ProvenanceContext(labels_from_files(root, labels)) if labels else None
    found = detect(
        root,
        chain,
        typologies=chosen,
        address_ids=ids,
        since_height=since_height,
        context=context,
        prices=day_prices,
    )
    if as_json:
        _echo_json([i.model_dump(mode="json") for i in found])
        return
    for i in found:
        typer.echo(
            f"{i.first_time:%Y-%m-%d %H:%M} {i.typology.value}: {i.explanation}"
            f" [{len(i.tx_hashes)} txs, first {i.tx_hashes[0] if i.tx_hashes else '-'}]"
        )
    typer.echo(f"{len(found)} instance(s)")


def eval_typologies(
    world: Path = typer.Argument(..., help="The world folder (with truth/)"),
    store: Path | None = StoreOption,
    chain: str = typer.Option("all", "--chain", help="btc, eth or all"),
    typology: str | None = typer.Option(None, "--typology", help="Comma-separated typologies"),
    labels: list[Path] = typer.Option(
        [],
        "--labels",
        help="Label files or folders telling where funds come from (default: the world's "
        "public labels/ folder)",
    ),
    no_labels: bool = typer.Option(
        False, "--no-labels", help="Score the shapes alone, with no provenance"
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Also count the one-to-one fan-ins/fan-outs of the truth"
    ),
    as_json: bool = JsonOption,
) -> None:
    """Precision and recall of each typology detector against the world's ground truth
    (a detection matches a true instance of the same typology when they share a tx)."""
    scores = evaluate_typologies(
        world,
        _root(store),
        chain=chain,
        typologies=parse_typologies(typology),
        labels=[] if no_labels else (labels or None),
        strict=strict,
    )
    if as_json:
        _echo_json([s.model_dump() for s in scores])
        return
    table = Table(
        "typology",
        "truth name",
        "detected",
        "true",
        "set aside",
        "precision",
        "recall",
        title="Typology detectors against ground truth",
    )
    for s in scores:
        table.add_row(
            s.typology,
            s.truth_name,
            str(s.detected),
            str(s.true),
            str(s.set_aside),
            _f(s.precision),
            _f(s.recall),
        )
    console.print(table)
