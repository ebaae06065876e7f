"""Benchmark of the risk engine: every typology detector over a whole chain, the address
features, and bulk scoring of every address with the model.

Generates a world of ``--txs`` transactions (or takes ``--world`` and its loaded
``--store``), builds entities, trains a model (``--trees``), then times per chain: reading
the chain (``load_chain``), each detector, the features and the scoring of every address.

The baseline, measured in the same run: scoring addresses one at a time through the
public ``score_addresses`` with its feature cache emptied before each call (what a naive
implementation does), on ``--sample`` addresses, extrapolated to all of them. Also shown:
one address at a time with the cache warm (the tip has not moved).

    .venv/bin/python bench/typologies.py --txs 200000        # quick
    .venv/bin/python bench/typologies.py --txs 10000000      # the issue's size
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from chainsleuth.entities import service as entity_service
from chainsleuth.risk import model as risk_model
from chainsleuth.risk.data import load_chain
from chainsleuth.risk.features import address_features
from chainsleuth.risk.policy import TypologyPolicy
from chainsleuth.risk.typologies import DETECTORS
from chainsleuth.world.generate import generate_world
from chainsleuth.world.load import load_world
from chainsleuth.world.presets import params_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--txs", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--world", type=Path, help="an existing world folder")
    parser.add_argument("--store", type=Path, help="its loaded chain store (entities built)")
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--sample", type=int, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-risk-"))
    try:
        if args.world and args.store:
            world, root = args.world, args.store
        else:
            world, root = tmp / "world", tmp / "chains"
            t = time.perf_counter()
            generate_world(world, params_for(txs=args.txs, days=args.days, seed=args.seed))
            load_world(world, store_root=root)
            entity_service.build(root, "all")
            print(
                f"world of {args.txs:,} txs generated, loaded, clustered in "
                f"{time.perf_counter() - t:.1f} s"
            )
        policy = TypologyPolicy()
        t = time.perf_counter()
        version, m = risk_model.train(root, world, models=tmp / "models", trees=args.trees)
        print(
            f"model trained ({args.trees} trees) in {time.perf_counter() - t:.1f} s: "
            f"test F1 {m['test']['f1']:.3f}, AUC {m['test']['auc']}"
        )
        _, fitted, _ = risk_model.load(tmp / "models", version)
        for chain in ("btc", "eth"):
            t = time.perf_counter()
            data = load_chain(root, chain, prices_usd=policy.prices_usd)
            print(f"\n{chain}: read in {time.perf_counter() - t:.2f} s")
            for typ, fn in DETECTORS.items():
                t = time.perf_counter()
                found = fn(data, getattr(policy, typ.value))
                print(
                    f"  {typ.value:<22} {len(found):>7,} instances  "
                    f"{time.perf_counter() - t:7.2f} s"
                )
            t = time.perf_counter()
            ids, _, x = address_features(data, policy)
            feat_s = time.perf_counter() - t
            t = time.perf_counter()
            fitted.proba(x)
            pred_s = time.perf_counter() - t
            t = time.perf_counter()
            fitted.contributions(x)
            contrib_s = time.perf_counter() - t
            data.close()
            print(
                f"  bulk: features of {ids.size:,} addresses {feat_s:.2f} s (with the "
                f"detectors), probabilities {pred_s:.2f} s, contributions {contrib_s:.2f} s"
            )
            sample = ids[: args.sample]
            t = time.perf_counter()
            for a in sample:
                risk_model._CACHE.clear()  # a naive caller: features computed every call
                risk_model.score_addresses(root, chain, [int(a)], models=tmp / "models")
            per = (time.perf_counter() - t) / max(sample.size, 1)
            risk_model.score_addresses(root, chain, [int(sample[0])], models=tmp / "models")
            t = time.perf_counter()
            for a in sample:
                risk_model.score_addresses(root, chain, [int(a)], models=tmp / "models")
            cached = (time.perf_counter() - t) / max(sample.size, 1)
            print(
                f"  one address with the features cached (tip unchanged): "
                f"{cached * 1000:.1f} ms each"
            )
            print(
                f"  baseline: one address at a time {per:.2f} s each -> "
                f"{per * ids.size / 60:,.1f} min for all {ids.size:,} "
                f"(bulk {(feat_s + pred_s) / 60:.2f} min)"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
