"""Factories for test objects, built through the services (so that audit entries exist)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from chainsleuth.audit.service import Actor
from chainsleuth.auth import mfa
from chainsleuth.auth import service as user_service
from chainsleuth.auth.enums import Role
from chainsleuth.auth.models import User
from chainsleuth.auth.schemas import UserCreate
from chainsleuth.core.config import Environment, Settings
from chainsleuth.orgs import service as org_service
from chainsleuth.orgs.models import Agency, Organisation
from chainsleuth.orgs.schemas import AgencyCreate, OrganisationCreate

#: The secret key of every test app (long enough for the production rules).
TEST_SECRET = "test-secret-key-" + "x" * 40
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_settings(tmp_path: Path, db_url: str, **overrides: object) -> Settings:
    """Settings for a test app: test environment, its own data folder and database."""
    values: dict[str, object] = {
        "env": Environment.TEST,
        "data_dir": tmp_path / "data",
        "database_url": db_url,
        "secret_key": TEST_SECRET,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


PASSWORD = "correct-horse-battery-staple"
_seq = itertools.count(1)
SYSTEM = Actor.system("test")


@dataclass
class Account:
    user: User
    password: str
    totp_secret: str | None

    @property
    def username(self) -> str:
        return self.user.username

    def code(self, *, at: float | None = None) -> str:
        assert self.totp_secret, "this account has no second factor"
        return mfa.current_code(self.totp_secret, at=at)


def make_agency(session: Session, name: str | None = None, country: str = "GB") -> Agency:
    n = next(_seq)
    return org_service.create_agency(
        session,
        actor=SYSTEM,
        data=AgencyCreate(
            name=name or f"Agency {n}", country=country, email_domains=[f"agency{n}.example"]
        ),
    )


def make_organisation(session: Session, name: str | None = None) -> Organisation:
    return org_service.create_organisation(
        session,
        actor=SYSTEM,
        data=OrganisationCreate(name=name or f"Organisation {next(_seq)}", kind="analytics_firm"),
    )


def make_user(
    session: Session,
    settings: Settings,
    *,
    role: Role = Role.INVESTIGATOR,
    username: str | None = None,
    agency: Agency | None = None,
    organisation: Organisation | None = None,
    with_mfa: bool = True,
    password: str = PASSWORD,
) -> Account:
    """A user; with_mfa enrols a TOTP second factor whose secret the test knows."""
    if role is Role.LE_OFFICER and agency is None:
        agency = make_agency(session)
    if role is Role.PARTNER and organisation is None:
        organisation = make_organisation(session)
    name = username or f"{role.value.replace('_', '')}{next(_seq)}"
    user = user_service.create_user(
        session,
        actor=SYSTEM,
        data=UserCreate(
            username=name,
            email=f"{name}@example.org",
            full_name=f"Test {name.title()}",
            role=role,
            password=password,
            agency_id=agency.id if agency else None,
            organisation_id=organisation.id if organisation else None,
        ),
    )
    secret = None
    if with_mfa:
        secret = user_service.start_mfa_enrolment(session, settings=settings, user=user)
        assert _enrol(session, settings, user, secret)
    return Account(user=user, password=password, totp_secret=secret)


def _enrol(session: Session, settings: Settings, user: User, secret: str) -> bool:
    ok = user_service.confirm_mfa_enrolment(
        session, settings=settings, actor=SYSTEM, user=user, code=mfa.current_code(secret)
    )
    # The enrolment used the current step; clear it so that the test's first login may use it.
    user.mfa_last_step = None
    session.commit()
    return ok


def login(client: TestClient, account: Account, *, next_path: str = "/") -> Response:
    """Sign in through the real pages (password, then TOTP when the account has one)."""
    page = client.get("/login")
    token = csrf_from(page.text)
    response = client.post(
        "/login",
        data={
            "username": account.username,
            "password": account.password,
            "csrf_token": token,
            "next": next_path,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    if response.headers["location"].startswith("/mfa"):
        mfa_page = client.get(response.headers["location"])
        response = client.post(
            "/mfa",
            data={
                "code": account.code(),
                "csrf_token": csrf_from(mfa_page.text),
                "next": next_path,
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
    return response


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unprotect_audit_log(engine: Engine) -> None:
    """What someone with direct database access does first: lift the append-only triggers.

    SQLite: drop them; PostgreSQL: disable the table's user triggers (as its owner may).
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_delete")


# --- verified officers (chainsleuth.officers): sign-up, e-mail link, approval, MFA ----------

OFFICER_LINK_RE = re.compile(r"https?://\S+?(/officers/(?:verify|activate))\?token=([\w-]+)")


def outbox_link(session: Session, settings: Settings, email: str, path: str) -> str:
    """The token of the newest link to ``path`` mailed to ``email`` (from the outbox)."""
    from chainsleuth.officers import mail

    messages = mail.outbox(session, settings=settings, to=email)
    session.commit()  # SQLite holds one writer: leave no transaction open
    for message in messages:
        for found_path, token in OFFICER_LINK_RE.findall(message.body):
            if found_path == path:
                return str(token)
    raise AssertionError(f"no {path} link mailed to {email}")


def make_verified_officer(
    session: Session,
    settings: Settings,
    *,
    agency: Agency | None = None,
    username: str | None = None,
    with_mfa: bool = True,
    password: str = PASSWORD,
) -> Account:
    """An officer who went the whole way: signed up from the agency's domain, verified the
    address, was approved, chose a password and (with_mfa) enrolled a second factor; a
    verified sender (``officers.service.is_verified_sender``) when with_mfa."""
    from chainsleuth.officers import service as officer_service
    from chainsleuth.officers.schemas import OfficerSignup

    agency = agency or make_agency(session)
    name = username or f"officer{next(_seq)}"
    email = f"{name}@{agency.email_domains[0]}"
    officer = officer_service.signup(
        session,
        settings=settings,
        data=OfficerSignup(full_name=f"Officer {name.title()}", email=email, username=name),
        base_url="http://testserver",
        ip=None,
    )
    officer_service.verify_email(
        session, token=outbox_link(session, settings, email, "/officers/verify"), ip=None
    )
    officer_service.approve(
        session,
        settings=settings,
        actor=SYSTEM,
        officer_id=officer.id,
        base_url="http://testserver",
    )
    officer_service.activate(
        session,
        token=outbox_link(session, settings, email, "/officers/activate"),
        password=password,
        ip=None,
    )
    user = user_service.require_by_username(session, name)
    secret = None
    if with_mfa:
        secret = user_service.start_mfa_enrolment(session, settings=settings, user=user)
        assert _enrol(session, settings, user, secret)
    session.commit()
    return Account(user=user, password=password, totp_secret=secret)
