from __future__ import annotations

import pytest
from request_helpers import Actor, staff, verified_officer
from sqlalchemy.orm import Session

from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings


@pytest.fixture
def officer(session: Session, settings: Settings) -> Actor:
    return verified_officer(session, settings)


@pytest.fixture
def investigator(session: Session, settings: Settings) -> Actor:
    return staff(session, settings, Role.INVESTIGATOR)


@pytest.fixture
def reviewer(session: Session, settings: Settings) -> Actor:
    return staff(session, settings, Role.LEGAL_REVIEWER)


@pytest.fixture
def reviewer2(session: Session, settings: Settings) -> Actor:
    return staff(session, settings, Role.LEGAL_REVIEWER)
