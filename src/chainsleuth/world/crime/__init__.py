"""Crime and the services it uses, as scripted processes interleaved with the economy.

``plan_schemes`` (in the parent, before any block) decides who does what, when and for how
much; ``attach_schemes`` (in each chain's generator) starts the processes of that chain:
the bridge's side, the mixers (UTXO chain), the upkeep of contracts (account chain), and
every scheme's part on that chain. Each process writes its ground truth to the chain's
``Recorder``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from chainsleuth.world.crime.plans import plan_schemes
from chainsleuth.world.crime.record import Recorder
from chainsleuth.world.plan import STREAMS, WorldPlan, rng_for

if TYPE_CHECKING:
    from chainsleuth.world.account import AccountChain
    from chainsleuth.world.account_script import AccountCtx
    from chainsleuth.world.utxo import UtxoChain
    from chainsleuth.world.utxo_script import UtxoCtx

__all__ = ["ChainHandle", "attach_schemes", "plan_schemes"]

T = TypeVar("T")
Step = Generator[int, None, T]


@dataclass
class ChainHandle:
    """What a scheme process sees of its chain."""

    eng: Any  # UtxoChain | AccountChain
    plan: WorldPlan
    rec: Recorder
    rng: np.random.Generator
    services: dict[str, Any] = field(default_factory=dict)

    @property
    def chain(self) -> str:
        return str(self.eng.chain)

    @property
    def pace(self) -> float:
        """Scale of the schemes' waiting times: 1 in worlds of four months or more, down to
        0.15 in short ones, so that every scheme runs to its end within the span."""
        return min(1.0, max(0.15, self.plan.params.days / 120))

    def later(self, low_h: float, high_h: float) -> int:
        """A time ``low_h .. high_h`` hours (scaled by ``pace``) after now."""
        return self.now + int(self.rng.uniform(low_h, high_h) * 3_600 * self.pace)

    @property
    def now(self) -> int:
        return int(self.eng.ctx.now)

    @property
    def btc(self) -> UtxoCtx:
        ctx: UtxoCtx = self.eng.ctx
        return ctx

    @property
    def eth(self) -> AccountCtx:
        ctx: AccountCtx = self.eng.ctx
        return ctx

    def spawn(self, time: int, process: Generator[int, None, Any]) -> None:
        self.eng.scheduler.spawn(time, process)


def attach_schemes(engine: UtxoChain | AccountChain, plan: WorldPlan) -> Any:
    """Start this chain's scripted processes; returns the chain's recorder (with ``export``)."""
    from chainsleuth.world.crime import bridge, dormant, hack, market, mixers, ransomware, scam

    chain = str(engine.chain)
    seq = np.random.SeedSequence(
        plan.params.seed, spawn_key=(STREAMS.index("crime"), 1 + (chain == "eth"))
    )
    rec = Recorder(chain)
    h = ChainHandle(engine, plan, rec, np.random.Generator(np.random.PCG64(seq)))
    start = plan.params.start
    if chain == "btc":
        mixers.attach(h)
        bridge.attach_btc(h)
    else:
        from chainsleuth.world.services import eth_services

        h.spawn(start, eth_services(engine))  # type: ignore[arg-type]
        bridge.attach_eth(h)
    by_type = {
        "ransomware": ransomware.attach,
        "defi_hack": hack.attach,
        "investment_scam": scam.attach,
        "darknet_market": market.attach,
        "dormant_wallets": dormant.attach,
        "mixing_services": mixers.attach_benign,
    }
    # the content added later draws from its own substream, so that it leaves the draws of
    # the schemes above as they were
    from chainsleuth.world.crime import eth_services as account_services
    from chainsleuth.world.crime import gambling, terror

    extra = ChainHandle(
        engine, plan, rec, rng_for(plan.params.seed, "extra", 4, 1 + (chain == "eth")), h.services
    )
    later = {"gambling_laundering": gambling.attach, "terrorist_financing": terror.attach}
    for scheme in plan.schemes:
        if chain in scheme.chains:
            if scheme.type in later:
                later[scheme.type](extra, scheme)
            else:
                by_type[scheme.type](h, scheme)
    if chain == "eth" and "eth_services" in plan.extra:
        account_services.attach(extra, plan.extra["eth_services"])
    if "round_trips" in plan.extra:  # its own substream, as ``extra`` above
        from chainsleuth.world.crime import roundtrip

        rt = ChainHandle(
            engine,
            plan,
            rec,
            rng_for(plan.params.seed, "extra", 6, 1 + (chain == "eth")),
            h.services,
        )
        roundtrip.attach(rt, plan.extra["round_trips"])
    return _Exporter(h)


class _Exporter:
    def __init__(self, h: ChainHandle) -> None:
        self.h = h

    def export(self) -> dict[str, Any]:
        eng = self.h.eng
        if self.h.chain == "btc":
            return self.h.rec.export(
                lambda ids: eng.book.strings(np.array(ids, dtype=np.int64)).to_pylist()
            )
        return self.h.rec.export(
            lambda ids: eng.accounts.strings(np.array(ids, dtype=np.int64)).to_pylist()
        )
