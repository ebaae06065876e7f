"""Screening deposits and withdrawals (KYT): a synchronous decision, stored, alerted.

``from chainsleuth.risk import screening as screening_service``.

``screen(session, scorer=..., actor=..., data=...)``:

1. the request is checked and canonicalised (chain, asset, address, hash, amount,
   account): bad input is ``InvalidInput`` and nothing is written;
2. with an idempotency key already used, the stored screening comes back when the
   request is the same (its digest), and ``Conflict`` (409) when it differs;
3. the risk result of the transfer (its transaction, when given and on chain) or of the
   address, under the active policy (its version is kept with the decision);
4. the screening row, an alert when the policy's action is review or hold
   (``alerts.service.raise_alert``) and the audit event: one transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, Select, String, Table, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chainsleuth.alerts import service as alert_service
from chainsleuth.audit import service as audit_service
from chainsleuth.audit.service import Actor
from chainsleuth.chain import storage
from chainsleuth.chain.addresses import canonical_address, canonical_hash, display_address
from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.enums import ChainKind
from chainsleuth.core.errors import Conflict, InvalidInput, NotFound
from chainsleuth.core.models import MAX_ROW_ID, Base, utcnow
from chainsleuth.exchange.models import Account
from chainsleuth.risk.facts import Scorer
from chainsleuth.risk.result import RiskResult, evaluate, result_json
from chainsleuth.risk.riskpolicy import Action, Severity
from chainsleuth.risk.screening_models import Screening
from chainsleuth.risk.screening_schemas import ScreeningCreate, ScreeningDirection

MAX_PAGE = 200
#: the most of an asset, in whole units, that one transfer may move (more is absurd)
MAX_WHOLE_UNITS = {"BTC": 21_000_000, "ETH": 200_000_000}
DEFAULT_MAX_WHOLE = 10**12


@dataclass(frozen=True)
class Checked:
    chain: str
    asset: str
    decimals: int
    direction: ScreeningDirection
    address: str | None
    tx_hash: str | None
    amount: int
    account_id: str | None
    customer_id: str | None

    def digest(self) -> str:
        body = {
            "chain": self.chain,
            "asset": self.asset,
            "direction": self.direction.value,
            "address": self.address,
            "tx_hash": self.tx_hash,
            "amount": str(self.amount),
            "account_id": self.account_id,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _asset(scorer: Scorer, chain: str, asset: str | None) -> tuple[str, int]:
    info = get_chain(chain)
    if asset is None or not asset.strip() or asset.strip().upper() == info.symbol:
        return info.symbol, info.decimals
    text = asset.strip()
    con = scorer.reader.con
    if info.kind is ChainKind.ACCOUNT and con is not None:
        row = storage.one(
            con,
            "SELECT symbol, decimals FROM tokens WHERE chain = ? AND upper(symbol) = ?",
            [info.id, text.upper()],
        )
        if row is not None and row[0]:
            return str(row[0]), int(row[1]) if row[1] is not None else 0
    raise InvalidInput(f"unknown asset {asset!r} on {info.name}")


def _amount(value: int | str, symbol: str, decimals: int) -> int:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("-") and text[1:].isdigit():
            raise InvalidInput("the amount must not be negative")
        if not text.isdigit() or len(text) > 60:
            raise InvalidInput(
                f"amount {value!r} is not a whole number of the smallest unit (digits only)"
            )
        amount = int(text)
    else:
        amount = int(value)
    if amount < 0:
        raise InvalidInput("the amount must not be negative")
    cap = MAX_WHOLE_UNITS.get(symbol.upper(), DEFAULT_MAX_WHOLE) * 10**decimals
    if amount > cap:
        raise InvalidInput(f"the amount {amount} is more {symbol} than there is ({cap} at most)")
    return amount


def check(session: Session, scorer: Scorer, data: ScreeningCreate) -> Checked:
    """The request, canonical; ``InvalidInput`` for anything we will not screen."""
    info = get_chain(data.chain)
    symbol, decimals = _asset(scorer, info.id, data.asset)
    address = data.address.strip() if data.address and data.address.strip() else None
    tx_hash = data.tx_hash.strip() if data.tx_hash and data.tx_hash.strip() else None
    if address is None and tx_hash is None:
        raise InvalidInput("give the address, the transaction hash or both")
    if address is not None:
        address = display_address(info.id, canonical_address(info.id, address))
    if tx_hash is not None:
        tx_hash = canonical_hash(info.id, tx_hash)
    amount = _amount(data.amount, symbol, decimals)
    account_id = data.account_id.strip() if data.account_id and data.account_id.strip() else None
    customer_id = None
    if account_id is not None:
        account = session.get(Account, account_id)
        if account is None:
            raise InvalidInput(f"unknown customer account {account_id!r}")
        if account.asset.upper() != symbol.upper():
            raise InvalidInput(f"account {account_id} holds {account.asset}, not {symbol}")
        customer_id = account.customer_id
    return Checked(
        info.id, symbol, decimals, data.direction, address, tx_hash, amount, account_id,
        customer_id,
    )  # fmt: skip


#: ``key_column``'s bound parameter: the idempotency key (``effective_key``)
KEY_PARAM = "screening_key"


def effective_key(data: ScreeningCreate, key: str | None) -> str | None:
    """The idempotency key of a request: the header's (``key``) or the body's, stripped;
    ``InvalidInput`` when both are given and differ, or when it is too long."""
    header_key = key.strip() if key else None
    body_key = data.idempotency_key.strip() if data.idempotency_key else None
    if header_key and body_key and header_key != body_key:
        raise InvalidInput("the Idempotency-Key header and the idempotency_key field differ")
    found = header_key or body_key or None
    if found is not None and len(found) > 128:
        raise InvalidInput("the idempotency key is longer than 128 characters")
    return found


def key_column() -> ScalarSelect[Any]:
    """The id of the screening stored under an idempotency key (bound as ``KEY_PARAM``;
    NULL when there is none, or no key), as a scalar subquery for a hot path's query:
    give what it read to ``screen(stored=...)``."""
    wanted = bindparam(KEY_PARAM, type_=String())
    return select(_TABLE.c.id).where(_TABLE.c.idempotency_key == wanted).scalar_subquery()


@dataclass(frozen=True)
class Stored:
    """What the caller read of the idempotency key in the screening's transaction
    (``key_column``): the id of the screening stored under it, or None."""

    screening_id: int | None


def _by_key(session: Session, key: str) -> Screening | None:
    return session.scalars(select(Screening).where(Screening.idempotency_key == key)).first()


def _replay(found: Screening, digest: str, key: str) -> Screening:
    if found.request_digest != digest:
        raise Conflict(
            f"the idempotency key {key!r} was used for another screening (#{found.id}) with a "
            "different request"
        )
    return found


def assess(scorer: Scorer, checked: Checked) -> RiskResult:
    """The risk result a screening decides on: the transfer's funds when its transaction
    is on chain, otherwise the address."""
    forward = checked.direction is ScreeningDirection.WITHDRAWAL
    facts = None
    notes: list[str] = []
    if checked.tx_hash is not None:
        try:
            facts = scorer.transfer(
                checked.chain, checked.tx_hash, forward=forward, address=checked.address
            )
        except NotFound as exc:
            if checked.address is None:
                raise
            notes.append(f"{exc.message}: the address was screened instead")
    if facts is None:
        assert checked.address is not None
        facts = scorer.address(checked.chain, checked.address)
    elif checked.address is not None:
        own = scorer.address(checked.chain, checked.address)
        facts.own_category, facts.labels = own.own_category, own.labels
        facts.model, facts.typologies = own.model, own.typologies
    facts.notes.extend(notes)
    return evaluate(scorer.policy, facts)


def screen(
    session: Session,
    *,
    scorer: Scorer,
    actor: Actor,
    data: ScreeningCreate,
    key: str | None = None,
    stored: Stored | None = None,
) -> tuple[Screening, bool]:
    """Screen one transfer; (the screening, whether it was created now). ``stored``: the
    idempotency key (``effective_key``) already looked up in this transaction."""
    key = effective_key(data, key)
    checked = check(session, scorer, data)
    digest = checked.digest()
    if key is not None:
        if stored is None:
            found = _by_key(session, key)
        elif stored.screening_id is None:
            found = None
        else:
            found = session.get(Screening, stored.screening_id)
        if found is not None:
            return _replay(found, digest, key), False
    result = assess(scorer, checked)
    values: dict[str, Any] = {
        "created_at": utcnow(),
        "created_by": actor.name,
        "user_id": actor.user_id,
        "idempotency_key": key,
        "request_digest": digest,
        "chain": checked.chain,
        "asset": checked.asset,
        "direction": checked.direction.value,
        "address": checked.address,
        "tx_hash": checked.tx_hash,
        "amount": checked.amount,
        "account_id": checked.account_id,
        "customer_id": checked.customer_id,
        "severity": result.severity.value,
        "action": result.action.value,
        "score": result.score,
        "policy_version": result.policy_version,
        "result": result_json(result),
        "alert_id": None,
    }

    def audited(alert_id: int | None) -> dict[str, Any]:
        return {
            "chain": checked.chain,
            "direction": checked.direction.value,
            "address": checked.address,
            "tx_hash": checked.tx_hash,
            "amount": str(checked.amount),
            "account_id": checked.account_id,
            "action": result.action.value,
            "severity": result.severity.value,
            "policy_version": result.policy_version,
            "alert_id": alert_id,
        }

    try:
        # Core, not the ORM's unit of work: the hot path of a KYT service (the row is
        # returned as a Screening that is not in the session)
        if result.action not in (Action.REVIEW, Action.HOLD):
            # most screenings: the row and its audit entry together (two statements on
            # PostgreSQL, see ``record_insert``)
            row_id, _ = audit_service.record_insert(
                session, _TABLE, values, actor=actor, action="risk.screening.create",
                object_type="screening", details=audited(None),
            )  # fmt: skip
            row = Screening(id=row_id, **values)
        else:
            row_id = session.connection().execute(_INSERT, values).scalar_one()
            row = Screening(id=row_id, **values)
            subject_type = "transfer" if result.subject_type == "transfer" else "address"
            alert = alert_service.raise_alert(
                session,
                actor=actor,
                severity=result.severity.value,
                subject_type=subject_type,
                subject=result.subject if subject_type == "transfer" else (checked.address or ""),
                chain=checked.chain,
                reasons=result.reasons[:10],
                source="screening",
                screening_id=row.id,
                details={
                    "action": result.action.value,
                    "score": result.score,
                    "policy_version": result.policy_version,
                    "direction": checked.direction.value,
                    "amount": str(checked.amount),
                    "asset": checked.asset,
                    "account_id": checked.account_id,
                    "customer_id": checked.customer_id,
                },
            )
            row.alert_id = alert.id
            session.connection().execute(
                _TABLE.update().where(_TABLE.c.id == row_id).values(alert_id=alert.id)
            )
            audit_service.record(
                session,
                actor=actor,
                action="risk.screening.create",
                object_type="screening",
                object_id=row.id,
                details=audited(row.alert_id),
            )
        session.commit()
    except IntegrityError:
        session.rollback()
        found = _by_key(session, key) if key is not None else None
        if found is None:
            raise
        return _replay(found, digest, key or ""), False
    return row, True


_TABLE: Table = Base.metadata.tables["risk_screenings"]
_INSERT = _TABLE.insert().returning(_TABLE.c.id)


def get(session: Session, screening_id: int) -> Screening:
    if not 1 <= screening_id <= MAX_ROW_ID:
        raise InvalidInput(f"{screening_id} is not a screening id")
    found = session.get(Screening, screening_id)
    if found is None:
        raise NotFound(f"there is no screening {screening_id}")
    return found


def _filtered(
    stmt: Select[Any],
    *,
    chain: str | None,
    action: str | None,
    severity: str | None,
    address: str | None,
    account_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[Any]:
    if chain:
        stmt = stmt.where(Screening.chain == get_chain(chain).id)
    if action:
        try:
            stmt = stmt.where(Screening.action == Action(action.strip().lower()).value)
        except ValueError:
            raise InvalidInput(f"unknown action {action!r}: use allow, review or hold") from None
    if severity:
        try:
            stmt = stmt.where(Screening.severity == Severity(severity.strip().lower()).value)
        except ValueError:
            raise InvalidInput(
                f"unknown severity {severity!r}: use severe, high, medium or low"
            ) from None
    if address:
        if not chain:
            raise InvalidInput("filter by address together with its chain")
        info = get_chain(chain)
        stmt = stmt.where(
            Screening.address == display_address(info.id, canonical_address(info.id, address))
        )
    if account_id:
        stmt = stmt.where(Screening.account_id == account_id.strip())
    if since is not None:
        stmt = stmt.where(Screening.created_at >= since)
    if until is not None:
        stmt = stmt.where(Screening.created_at <= until)
    return stmt


def search(
    session: Session,
    *,
    chain: str | None = None,
    action: str | None = None,
    severity: str | None = None,
    address: str | None = None,
    account_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Screening], int]:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise InvalidInput("offset must not be negative")
    filters: dict[str, Any] = {
        "chain": chain, "action": action, "severity": severity, "address": address,
        "account_id": account_id, "since": since, "until": until,
    }  # fmt: skip
    stmt = _filtered(select(Screening), **filters).order_by(Screening.id.desc())
    total = session.scalar(_filtered(select(func.count(Screening.id)), **filters)) or 0
    return list(session.scalars(stmt.limit(limit).offset(offset))), int(total)
