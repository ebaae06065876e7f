"""Helpers for the cases tests: actors for test users, a small trace graph."""

from __future__ import annotations

from typing import Any

from chainsleuth.audit.enums import Channel
from chainsleuth.audit.service import Actor
from chainsleuth.auth.models import User

BTC_ADDR = "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
BTC_ADDR_2 = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
ETH_ADDR = "0x52908400098527886E0F7030069857D2E4169EE7"


def actor_for(user: User) -> Actor:
    return Actor(user_id=user.id, name=user.username, channel=Channel.WEB, ip="127.0.0.1")


def trace_graph(n: int = 4) -> dict[str, Any]:
    """A trace graph shaped like /trace/data's: a chain of ``n`` addresses."""
    nodes = [
        {
            "id": f"btc:a{i}",
            "chain": "btc",
            "address": f"1Addr{i:030d}",
            "asset": "BTC",
            "entity": None,
            "category": "exchange" if i == n - 1 else None,
            "amount": 1000 - i,
            "hop": i,
            "stop": i == n - 1,
        }
        for i in range(n)
    ]
    edges = [
        {
            "source": f"btc:a{i}",
            "target": f"btc:a{i + 1}",
            "kind": "flow",
            "chain": "btc",
            "tx_hash": f"{i:064x}",
            "time": "2024-01-01T00:00:00Z",
            "asset": "BTC",
            "asset_out": "BTC",
            "amount": 900 - i,
            "amount_out": 900 - i,
            "value": 950,
            "hop": i + 1,
        }
        for i in range(n - 1)
    ]
    return {
        "chain": "btc",
        "direction": "forward",
        "model": "haircut",
        "hops": n,
        "origin": ["btc:a0"],
        "nodes": nodes,
        "edges": edges,
        "truncated": False,
    }
