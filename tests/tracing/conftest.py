"""The small world of tests/world (same fixture) in a chain store, with what a tracer knows
of it: the service contracts (``tracing.yaml``) and categories of labelled addresses, taken
from the world's actors (the stand-in for the labels service)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from tracing_helpers import Traced, truth_categories

from chainsleuth.chain import storage
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.config import Settings
from chainsleuth.tracing.config import save_services, services_from_world
from chainsleuth.tracing.graph import FlowGraph, load_graph
from chainsleuth.world.load import load_world
from harness.world import SMALL

__all__ = ["SMALL"]


@pytest.fixture(scope="session")
def traced(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Traced:
    root = tmp_path_factory.mktemp("tracing") / "chains"
    load_world(world, store_root=root)
    con = duckdb.connect()
    try:
        hops = (
            con.sql(
                "SELECT * FROM read_parquet($p)",
                params={"p": str(world / "truth/scheme_hops.parquet")},
            )
            .to_arrow_table()
            .to_pylist()
        )
    finally:
        con.close()
    schemes = {s["id"]: s for s in json.loads((world / "truth/schemes.json").read_text())}
    return Traced(world, root, services_from_world(world), truth_categories(world), hops, schemes)


@pytest.fixture(scope="session")
def reader(traced: Traced) -> Iterator[ChainReader]:
    with ChainReader(storage.connect(traced.root, read_only=True), traced.root) as r:
        yield r


@pytest.fixture(scope="session")
def graph(traced: Traced, reader: ChainReader) -> FlowGraph:
    return load_graph(reader, traced.services)


@pytest.fixture
def data_dir(settings: Settings, traced: Traced) -> Path:
    """The test app's data folder, holding the world's store, services and labels."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "chains").symlink_to(traced.root)
    save_services(traced.services, settings.data_dir / "tracing.yaml")
    with (settings.data_dir / "tracing-labels.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["chain", "address", "category"])
        for (chain, address), category in sorted(traced.categories.mapping.items()):
            writer.writerow([chain, address, category])
    return settings.data_dir
