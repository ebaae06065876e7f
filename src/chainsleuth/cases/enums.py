"""Machine values of the cases domain."""

from __future__ import annotations

from enum import StrEnum


class CaseType(StrEnum):
    FRAUD = "fraud"
    RANSOMWARE = "ransomware"
    SANCTIONS = "sanctions"
    MONEY_MULE = "money_mule"
    LE_REQUEST = "le_request"
    SCAM = "scam"
    HACK = "hack"
    TERRORIST_FINANCING = "terrorist_financing"
    DARKNET = "darknet"
    OTHER = "other"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize().replace("Le request", "LE request")


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class CaseStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    ESCALATED = "escalated"
    REFERRED = "referred"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


#: The statuses a case may move to from each status (closing needs a reason; reopening
#: moves a closed case back to open).
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.OPEN: frozenset(
        {CaseStatus.IN_PROGRESS, CaseStatus.ESCALATED, CaseStatus.REFERRED, CaseStatus.CLOSED}
    ),
    CaseStatus.IN_PROGRESS: frozenset(
        {CaseStatus.OPEN, CaseStatus.ESCALATED, CaseStatus.REFERRED, CaseStatus.CLOSED}
    ),
    CaseStatus.ESCALATED: frozenset(
        {CaseStatus.IN_PROGRESS, CaseStatus.REFERRED, CaseStatus.CLOSED}
    ),
    CaseStatus.REFERRED: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.CLOSED}),
    CaseStatus.CLOSED: frozenset({CaseStatus.OPEN}),
}


class CloseReason(StrEnum):
    RESOLVED = "resolved"
    REFERRED_TO_LE = "referred_to_le"
    FUNDS_RECOVERED = "funds_recovered"
    NO_FURTHER_ACTION = "no_further_action"
    FALSE_POSITIVE = "false_positive"
    DUPLICATE = "duplicate"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize().replace(" le", " law enforcement")


class ParticipantRole(StrEnum):
    OWNER = "owner"
    MEMBER = "member"
    VIEWER = "viewer"


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class ItemType(StrEnum):
    """What a case link points to (``case_links.item_type``)."""

    ALERT = "alert"
    REQUEST = "request"
    FREEZE = "freeze"
    ENTITY = "entity"
    ADDRESS = "address"
    TRANSACTION = "transaction"
    CUSTOMER = "customer"
    SNAPSHOT = "snapshot"
    CASE = "case"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class EventKind(StrEnum):
    """What a timeline entry records (``case_events.kind``)."""

    OPENED = "opened"
    UPDATED = "updated"
    STATUS = "status"
    CLOSED = "closed"
    REOPENED = "reopened"
    OWNER = "owner"
    PARTICIPANT_ADDED = "participant_added"
    PARTICIPANT_REMOVED = "participant_removed"
    RESTRICTED = "restricted"
    LINK_ADDED = "link_added"
    LINK_REMOVED = "link_removed"
    NOTE_ADDED = "note_added"
    TASK_ADDED = "task_added"
    TASK_UPDATED = "task_updated"
    EVIDENCE_ADDED = "evidence_added"
    EVIDENCE_TAMPERED = "evidence_tampered"
    SNAPSHOT_SAVED = "snapshot_saved"
    EXPORTED = "exported"
    #: a step of a linked item taken in its own domain (a freeze requested on the case, approved)
    ITEM_STEP = "item_step"
