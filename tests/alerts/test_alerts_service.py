"""raise_alert (deduplicated, audited), the workflow and its refusals, bulk actions, stats."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.alerts import service as alerts
from chainsleuth.alerts import stats as alert_stats
from chainsleuth.alerts.models import Alert
from chainsleuth.audit import service as audit
from chainsleuth.audit.models import AuditEvent
from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from chainsleuth.core.errors import Conflict, InvalidInput, NotFound
from factories import SYSTEM, make_user

ADDR = "0x" + "ab" * 20


def _raise(session: Session, **overrides: object) -> Alert:
    values: dict[str, object] = {
        "actor": SYSTEM,
        "severity": "high",
        "subject_type": "address",
        "subject": ADDR.upper().replace("0X", "0x"),
        "chain": "eth",
        "reasons": ["62% of incoming value comes within 2 hops from ransomware entity X"],
        "source": "screening",
    }
    values.update(overrides)
    return alerts.raise_alert(session, **values)  # type: ignore[arg-type]


def _actions(session: Session, alert: Alert) -> list[str]:
    return [e.action for e in alerts.history(session, alert)]


def test_raise_alert_is_audited_and_deduplicated(session: Session) -> None:
    first = _raise(session)
    session.commit()
    assert first.subject == ADDR  # canonical (lower-case) address
    assert first.status == "new" and first.occurrences == 1
    again = _raise(session, severity="severe", reasons=[first.reasons[0] + "  "])
    session.commit()
    assert again.id == first.id
    assert again.occurrences == 2 and again.severity == "severe"
    assert _actions(session, first) == ["alert.raised", "alert.repeated"]
    other = _raise(session, reasons=["another reason"])
    assert other.id != first.id
    session.commit()
    assert session.scalar(select(Alert.id).where(Alert.id == other.id)) == other.id
    assert audit.verify(session).ok


def test_a_closed_alert_is_not_bumped(session: Session) -> None:
    first = _raise(session)
    alerts.set_status(
        session, actor=SYSTEM, alert=first, status="closed", disposition="benign", note="ok"
    )
    session.commit()
    second = _raise(session)
    session.commit()
    assert second.id != first.id and second.occurrences == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"severity": "urgent"}, "unknown severity"),
        ({"subject_type": "wallet"}, "unknown subject type"),
        ({"source": "rumour"}, "unknown source"),
        ({"chain": "doge"}, "unknown chain"),
        ({"subject": "0x1234"}, "0x1234"),
        ({"reasons": ["  "]}, "at least one reason"),
        ({"chain": None}, "needs its chain"),
        ({"details": {"x": {1, 2}}}, "JSON"),
    ],
)
def test_raise_alert_refuses_bad_input(
    session: Session, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        _raise(session, **overrides)
    session.rollback()
    assert session.scalar(select(Alert.id)) is None
    assert session.scalar(select(AuditEvent.seq).where(AuditEvent.object_type == "alert")) is None


def test_workflow_and_refusals(session: Session, settings: Settings) -> None:
    worker = make_user(session, settings, role=Role.INVESTIGATOR, with_mfa=False)
    trainee = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    alert = _raise(session)
    session.commit()

    with pytest.raises(InvalidInput, match="no user"):
        alerts.assign(session, actor=SYSTEM, alert=alert, assignee="nobody-here")
    with pytest.raises(InvalidInput, match="may not work alerts"):
        alerts.assign(session, actor=SYSTEM, alert=alert, assignee=trainee.username)
    alerts.assign(session, actor=SYSTEM, alert=alert, assignee=worker.username)
    alerts.set_status(session, actor=SYSTEM, alert=alert, status="in_review")
    alerts.set_status(session, actor=SYSTEM, alert=alert, status="escalated", note="needs legal")
    with pytest.raises(Conflict, match="cannot go from escalated to new"):
        alerts.set_status(session, actor=SYSTEM, alert=alert, status="new")
    with pytest.raises(InvalidInput, match="needs a disposition"):
        alerts.set_status(session, actor=SYSTEM, alert=alert, status="closed", note="done")
    with pytest.raises(InvalidInput, match="unknown disposition"):
        alerts.set_status(
            session, actor=SYSTEM, alert=alert, status="closed", disposition="meh", note="x"
        )
    with pytest.raises(InvalidInput, match="needs a note"):
        alerts.set_status(
            session, actor=SYSTEM, alert=alert, status="closed", disposition="false_positive"
        )
    alerts.add_comment(session, actor=SYSTEM, alert=alert, body="customer explained the funds")
    alerts.set_status(
        session,
        actor=SYSTEM,
        alert=alert,
        status="closed",
        disposition="false_positive",
        note="known OTC desk",
    )
    session.commit()
    assert alert.status == "closed" and alert.disposition == "false_positive"
    assert alert.closed_at is not None

    with pytest.raises(Conflict, match="re-open it explicitly"):
        alerts.set_status(session, actor=SYSTEM, alert=alert, status="in_review")
    with pytest.raises(Conflict, match="closed"):
        alerts.assign(session, actor=SYSTEM, alert=alert, assignee=None)
    with pytest.raises(InvalidInput, match="needs a note"):
        alerts.set_status(session, actor=SYSTEM, alert=alert, status="in_review", reopen=True)
    alerts.set_status(
        session, actor=SYSTEM, alert=alert, status="in_review", reopen=True, note="new evidence"
    )
    session.commit()
    assert alert.disposition is None and alert.closed_at is None
    assert _actions(session, alert) == [
        "alert.raised",
        "alert.assigned",
        "alert.status_changed",
        "alert.status_changed",
        "alert.commented",
        "alert.closed",
        "alert.reopened",
    ]
    assert [c.body for c in alert.comments] == ["customer explained the funds"]


def test_bulk_actions_are_all_or_nothing(session: Session, settings: Settings) -> None:
    worker = make_user(session, settings, role=Role.COMPLIANCE_ANALYST, with_mfa=False)
    made = [_raise(session, reasons=[f"reason {i}"]) for i in range(4)]
    session.commit()
    ids = [a.id for a in made]
    alerts.bulk(session, actor=SYSTEM, alert_ids=ids, action="assign", assignee=worker.username)
    session.commit()
    assert {a.assignee_id for a in made} == {worker.user.id}

    with pytest.raises(NotFound, match="no alert 999"):
        alerts.bulk(session, actor=SYSTEM, alert_ids=[ids[0], 999], action="escalate")
    session.rollback()
    alerts.set_status(
        session, actor=SYSTEM, alert=made[3], status="closed", disposition="benign", note="n"
    )
    session.commit()
    # one of them is closed already: nothing changes
    with pytest.raises(Conflict):
        alerts.bulk(
            session,
            actor=SYSTEM,
            alert_ids=ids,
            action="close",
            disposition="true_positive",
            note="confirmed",
        )
    session.rollback()
    assert [session.get(Alert, i).status for i in ids] == ["new", "new", "new", "closed"]  # type: ignore[union-attr]
    alerts.bulk(
        session,
        actor=SYSTEM,
        alert_ids=ids[:3],
        action="close",
        disposition="true_positive",
        note="confirmed",
    )
    session.commit()
    assert {session.get(Alert, i).disposition for i in ids[:3]} == {"true_positive"}  # type: ignore[union-attr]


def test_list_filters_and_pages(session: Session, settings: Settings) -> None:
    worker = make_user(session, settings, with_mfa=False)
    low = _raise(session, severity="low", reasons=["a"], source="manual")
    severe = _raise(session, severity="severe", reasons=["b"], source="watchlist")
    mid = _raise(session, severity="medium", reasons=["c"])
    alerts.assign(session, actor=SYSTEM, alert=mid, assignee=worker.username)
    session.commit()

    items, total = alerts.list_alerts(session, flt=alerts.AlertFilter())
    assert total == 3 and [a.id for a in items] == [severe.id, mid.id, low.id]
    items, total = alerts.list_alerts(session, flt=alerts.AlertFilter(), limit=1, offset=1)
    assert total == 3 and [a.id for a in items] == [mid.id]
    flt = alerts.AlertFilter(source=[alerts.parse_source("watchlist")])
    assert [a.id for a in alerts.list_alerts(session, flt=flt)[0]] == [severe.id]
    flt = alerts.AlertFilter(assignee=worker.username)
    assert [a.id for a in alerts.list_alerts(session, flt=flt)[0]] == [mid.id]
    flt = alerts.AlertFilter(assignee="none", severity=[alerts.parse_severity("low")])
    assert [a.id for a in alerts.list_alerts(session, flt=flt)[0]] == [low.id]
    later = low.first_seen + timedelta(days=1)
    assert alerts.list_alerts(session, flt=alerts.AlertFilter(since=later))[1] == 0
    with pytest.raises(InvalidInput, match="before"):
        alerts.list_alerts(session, flt=alerts.AlertFilter(since=later, until=low.first_seen))


def test_stats(session: Session) -> None:
    made = [_raise(session, reasons=[f"r{i}"]) for i in range(5)]
    session.flush()
    start = made[0].first_seen
    # dispositions after 1, 2 and 4 hours: the median is 2 hours
    for alert, hours, disposition in [
        (made[0], 1, "false_positive"),
        (made[1], 2, "true_positive"),
        (made[2], 4, "false_positive"),
    ]:
        alerts.set_status(
            session, actor=SYSTEM, alert=alert, status="closed", disposition=disposition, note="n"
        )
        alert.closed_at = alert.first_seen + timedelta(hours=hours)
    made[4].first_seen = start - timedelta(days=1)
    session.commit()
    figures = alert_stats.stats(session, days=7)
    assert figures.total == 5 and figures.open == 2 and figures.closed == 3
    assert figures.median_hours_to_disposition == pytest.approx(2.0)
    assert figures.false_positive_share == pytest.approx(2 / 3)
    per_day = {d.day: d.count for d in figures.per_day}
    assert per_day[start.date()] == 4
    assert per_day[(start - timedelta(days=1)).date()] == 1
    assert figures.by_disposition == {"false_positive": 2, "true_positive": 1}


def test_two_racing_raisers_make_one_alert(database: Database) -> None:
    """A second raiser that looked before the first committed bumps the first's alert
    (the partial unique index on open alerts' keys), instead of opening a duplicate."""
    opened = contextlib.ExitStack()
    first_session = opened.enter_context(database.session())
    first = _raise(first_session)  # inserted, not yet committed
    result: dict[str, object] = {}

    def second() -> None:
        with database.session() as s:
            try:
                alert = _raise(s)
                s.commit()
                result["id"], result["occurrences"] = alert.id, alert.occurrences
            except Exception as exc:  # reported below, not lost in the thread
                result["error"] = exc

    racer = threading.Thread(target=second)
    racer.start()
    time.sleep(0.5)  # the racer has looked and now waits on the first's insert (or lock)
    first_session.commit()
    first_id = first.id
    opened.close()
    racer.join(timeout=30)
    assert "error" not in result, result.get("error")
    assert result == {"id": first_id, "occurrences": 2}
    with database.session() as s:
        rows = s.scalars(select(Alert)).all()
        assert [(a.id, a.occurrences) for a in rows] == [(first_id, 2)]
        assert audit.verify(s).ok
