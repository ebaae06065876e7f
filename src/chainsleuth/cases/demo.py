"""The demo world's sample case (``chainsleuth cases demo-seed WORLD_DIR``, run by
``make demo``): a ransomware case owned by the demo investigator, linked to the world's
first Bitcoin ransom payment (its transaction and the receiving address), with a task and
a note. Idempotent: a second run finds the case and changes nothing."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit.enums import Channel
from chainsleuth.audit.service import Actor
from chainsleuth.auth import service as user_service
from chainsleuth.cases import service as case_service
from chainsleuth.cases import team as case_team
from chainsleuth.cases.models import Case
from chainsleuth.cases.schemas import TaskCreate
from chainsleuth.core.errors import InvalidInput

TITLE = "Demo: ransom payments on the Bitcoin-like chain"
OWNER, REVIEWER = "ivy", "leo"


def seed(session: Session, *, world: Path) -> Case | None:
    """Open the demo case if it is not there yet; None when it was."""
    if session.scalar(select(Case.id).where(Case.title == TITLE)) is not None:
        return None
    hops_file = world / "truth" / "scheme_hops.parquet"
    if not hops_file.is_file():
        raise InvalidInput(f"{world} is not a generated world (no truth/scheme_hops.parquet)")
    hops = pq.read_table(hops_file, columns=["chain", "step", "tx_hash", "to_addresses"])
    payment = next(
        (h for h in hops.to_pylist() if h["chain"] == "btc" and h["step"] == "ransom_payment"),
        None,
    )
    owner = user_service.get_by_username(session, OWNER)
    if owner is None:
        raise InvalidInput("run `chainsleuth demo seed` first (the demo users are missing)")
    actor = Actor(user_id=owner.id, name=owner.username, channel=Channel.SYSTEM)
    links = []
    if payment is not None:
        links = [
            {"item_type": "transaction", "item_ref": f"btc:{payment['tx_hash']}",
             "note": "the victim's payment"},
            {"item_type": "address", "item_ref": f"btc:{payment['to_addresses'][0]}",
             "note": "receives the ransom"},
        ]  # fmt: skip
    reviewer = user_service.get_by_username(session, REVIEWER)
    case = case_service.open_case(
        session,
        actor=actor,
        title=TITLE,
        type="ransomware",
        severity="high",
        summary="A victim paid a ransom; follow the funds to the exchanges that cash them out.",
        participants=[REVIEWER] if reviewer is not None else [],
        links=links,
    )
    case_team.add_task(
        session,
        actor=actor,
        case=case,
        data=TaskCreate(title="Trace the payment forward and save the graph to the case",
                        assignee=OWNER, due_date=date.today() + timedelta(days=7)),
    )  # fmt: skip
    case_team.add_note(
        session, actor=actor, case=case, body="Opened from the world's ground truth (demo)."
    )
    return case
