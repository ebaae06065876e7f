"""Gathering and building packages through the service, on the world's records."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import openpyxl
import pytest
from packages_helpers import Store, zip_csv, zip_names
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.audit.models import AuditEvent
from chainsleuth.audit.service import Actor
from chainsleuth.chain import storage
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.config import Settings
from chainsleuth.core.errors import Conflict, InvalidInput
from chainsleuth.exchange.models import (
    Customer,
    CustomerLink,
    Deposit,
    LedgerEntry,
    Login,
    Withdrawal,
)
from chainsleuth.packages import service as package_service
from chainsleuth.packages import signing
from chainsleuth.packages.enums import Category
from chainsleuth.packages.gather import Subject
from chainsleuth.packages.models import Gathering
from factories import make_agency

STAFF = Actor.system("test-investigator")


def busy_customer(session: Session) -> str:
    """A customer with deposits, withdrawals, ledger entries and logins."""
    have = None
    for col in (
        Deposit.customer_id,
        Withdrawal.customer_id,
        LedgerEntry.customer_id,
        Login.customer_id,
    ):
        ids = set(session.scalars(select(col).distinct()))
        have = ids if have is None else have & ids
    chosen = sorted(have or set())
    assert chosen, "the world's cut has no customer with every kind of record"
    return chosen[0]


def linked_customer(session: Session) -> str:
    """A customer with linked accounts (one of the world's mules)."""
    found = session.scalar(select(CustomerLink.customer_a).order_by(CustomerLink.customer_a))
    assert found, "the world's cut has no linked customers"
    return found


@pytest.fixture
def reader(store: Store) -> ChainReader:
    r = ChainReader(storage.connect(store.root, read_only=True), store.root)
    yield r  # type: ignore[misc]
    r.close()


def spec(session: Session, *customer_ids: str) -> package_service.GatherSpec:
    agency = make_agency(session)
    return package_service.GatherSpec(
        agency_id=agency.id,
        reference="LER-2026-000042",
        legal_basis="Production order 12/2026 under section 9 of the Act",
        subjects=[Subject("customer_id", c) for c in customer_ids],
    )


def gathered(
    session: Session, settings: Settings, reader: ChainReader, store: Store, *customer_ids: str
) -> Gathering:
    src = package_service.sources(settings, reader=reader, tracing=store.context())
    return package_service.gather(session, actor=STAFF, src=src, spec=spec(session, *customer_ids))


def test_gathering_finds_every_kind_of_record(
    session: Session, settings: Settings, imported: Path, reader: ChainReader, store: Store
) -> None:
    cid, mule = busy_customer(session), linked_customer(session)
    g = gathered(session, settings, reader, store, cid, mule)
    assert {i.category for i in g.items} == {str(c) for c in Category}, g.notes
    by_cat = {(i.category, i.chain): i for i in g.items if i.customer_id == cid}
    counts = {
        "deposits": session.scalar(select(func.count()).where(Deposit.customer_id == cid)),
        "withdrawals": session.scalar(select(func.count()).where(Withdrawal.customer_id == cid)),
        "ledger": session.scalar(select(func.count()).where(LedgerEntry.customer_id == cid)),
        "logins": session.scalar(select(func.count()).where(Login.customer_id == cid)),
    }
    for cat, n in counts.items():
        assert by_cat[(cat, None)].rows == n > 0
    links = [i for i in g.items if i.category == "linked_accounts" and i.customer_id == mule]
    assert links and links[0].rows > 0
    assert by_cat[("kyc", None)].rows > 0 and by_cat[("balances", None)].rows > 0
    assert all(not i.selected for i in g.items)  # nothing ticked until the reviewer does
    on_chain = [i for i in g.items if i.category == "counterparties"]
    assert on_chain and any(i.rows > 0 for i in on_chain)
    audit = session.scalar(select(AuditEvent).where(AuditEvent.action == "packages.gather"))
    assert audit is not None and cid in json.loads(audit.details)["customers"]


def test_a_subject_by_email_and_unknown_subjects(
    session: Session, settings: Settings, imported: Path, store: Store
) -> None:
    cid = busy_customer(session)
    src = package_service.sources(settings, reader=None)
    customer = session.get(Customer, cid)
    assert customer is not None
    record = src.keys.decrypt(customer.kyc, customer.kyc_key_version)
    s = spec(session, cid)
    s = package_service.GatherSpec(
        s.agency_id, s.reference, s.legal_basis,
        [Subject("email", record["email"].upper()), Subject("email", "nobody@nowhere.example")],
    )  # fmt: skip
    g = package_service.gather(session, actor=STAFF, src=src, spec=s)
    assert {i.customer_id for i in g.items} == {cid}
    assert any("nobody@nowhere.example" in n for n in g.notes)
    assert any("chain store" in n for n in g.notes)  # no reader: said, not silently skipped
    with pytest.raises(InvalidInput):
        package_service.gather(
            session, actor=STAFF, src=src,
            spec=package_service.GatherSpec(s.agency_id, "R", "B", [Subject("address", "xyz")]),
        )  # fmt: skip


def test_only_ticked_items_are_in_the_package_and_it_verifies(
    session: Session, settings: Settings, imported: Path, reader: ChainReader, store: Store
) -> None:
    cid = busy_customer(session)
    g = gathered(session, settings, reader, store, cid)
    package_service.select_categories(
        session, actor=STAFF, gathering=g, categories=["deposits", "withdrawals", "kyc"]
    )
    src = package_service.sources(settings, reader=reader, tracing=store.context())
    pkg = package_service.approve(
        session, actor=Actor.system("test-legal"), settings=settings, gathering=g, src=src
    )
    path = package_service.package_path(settings, pkg)
    names = zip_names(path)
    assert {"data/deposits.csv", "data/withdrawals.csv", "data/kyc.csv"} <= names
    assert not names & {"data/logins.csv", "data/ledger.csv", "data/linked_accounts.csv",
                        "data/counterparties.csv"}  # fmt: skip
    deposits = zip_csv(path, "data/deposits.csv")
    n = session.scalar(select(func.count()).where(Deposit.customer_id == cid))
    assert len(deposits) == n and {d["customer_id"] for d in deposits} == {cid}
    # the KYC record is decrypted in the package (and only there)
    customer = session.get(Customer, cid)
    assert customer is not None
    record = src.keys.decrypt(customer.kyc, customer.kyc_key_version)
    kyc = {r["field"]: r["value"] for r in zip_csv(path, "data/kyc.csv")}
    assert kyc["last_name"] == record["last_name"]

    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        for entry in manifest["files"]:
            data = zf.read(entry["name"])
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            assert len(data) == entry["size"]
        withheld = {w["category"] for w in manifest["withheld"]}
        assert {"logins", "ledger", "linked_accounts"} <= withheld
        pdf = PdfReader(io.BytesIO(zf.read("cover-letter.pdf")))
        text = "".join(page.extract_text() for page in pdf.pages)
        assert "LER-2026-000042" in text and "Withheld" in text and "Logins" in text
        book = openpyxl.load_workbook(io.BytesIO(zf.read("data/records.xlsx")), read_only=True)
        assert {"Contents", "deposits", "withdrawals", "kyc"} == set(book.sheetnames)
        assert sum(1 for _ in book["deposits"].iter_rows()) == n + 1
        book.close()

    key = signing.load_private_key(settings).public_key()
    result = signing.verify_zip(path, key)
    assert result.ok, result.problems
    assert result.reference == "LER-2026-000042" and result.files == len(manifest["files"])
    assert pkg.key_fingerprint == signing.fingerprint(key)
    kyc_audit = session.scalar(select(AuditEvent).where(AuditEvent.action == "packages.approve"))
    assert kyc_audit is not None and json.loads(kyc_audit.details)["kyc_disclosed"] == [cid]
    with pytest.raises(Conflict):  # approved: the gathering can no longer change
        package_service.select_items(session, actor=STAFF, gathering=g, item_ids=[])


def _rewrite(src: Path, dst: Path, name: str, data: bytes | None) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, data if info.filename == name and data is not None
                          else zin.read(info.filename))  # fmt: skip
        if name not in zin.namelist() and data is not None:
            zout.writestr(name, data)


def test_the_signature_fails_after_tampering(
    session: Session, settings: Settings, imported: Path, reader: ChainReader, store: Store,
    tmp_path: Path,
) -> None:  # fmt: skip
    cid = busy_customer(session)
    g = gathered(session, settings, reader, store, cid)
    package_service.select_categories(session, actor=STAFF, gathering=g, categories=["deposits"])
    src = package_service.sources(settings, reader=reader, tracing=store.context())
    pkg = package_service.approve(session, actor=STAFF, settings=settings, gathering=g, src=src)
    path = package_service.package_path(settings, pkg)
    key = signing.load_private_key(settings).public_key()

    changed = tmp_path / "changed.zip"
    rows = zipfile.ZipFile(path).read("data/deposits.csv").replace(b",", b";", 1)
    _rewrite(path, changed, "data/deposits.csv", rows)
    assert "data/deposits.csv does not match" in " ".join(signing.verify_zip(changed, key).problems)

    forged = tmp_path / "forged.zip"
    manifest = zipfile.ZipFile(path).read("manifest.json").replace(b"LER-2026", b"LER-2025")
    _rewrite(path, forged, "manifest.json", manifest)
    assert "the signature does not match the manifest" in signing.verify_zip(forged, key).problems

    extra = tmp_path / "extra.zip"
    _rewrite(path, extra, "data/extra.csv", b"a,b\n")
    assert "data/extra.csv is not in the manifest" in signing.verify_zip(extra, key).problems

    other = signing.Ed25519PrivateKey.generate().public_key()
    assert not signing.verify_zip(path, other).ok


def test_records_changed_since_gathering_are_refused(
    session: Session, settings: Settings, imported: Path
) -> None:
    cid = busy_customer(session)
    src = package_service.sources(settings)
    g = package_service.gather(session, actor=STAFF, src=src, spec=spec(session, cid))
    package_service.select_categories(session, actor=STAFF, gathering=g, categories=["logins"])
    login = session.scalars(select(Login).where(Login.customer_id == cid)).first()
    assert login is not None
    login.ip = "203.0.113.99"
    session.commit()
    with pytest.raises(Conflict, match="changed since they were gathered"):
        package_service.approve(session, actor=STAFF, settings=settings, gathering=g, src=src)
    assert not list((settings.data_dir / "packages").rglob("*.zip"))
    session.refresh(g)
    assert g.status == "gathered"


def test_the_signing_key_is_private_and_stable(settings: Settings) -> None:
    key = signing.load_private_key(settings)
    path = signing.key_path(settings)
    assert path.stat().st_mode & 0o777 == 0o600
    assert signing.fingerprint(signing.load_private_key(settings).public_key()) == (
        signing.fingerprint(key.public_key())
    )
    path.chmod(0o644)
    with pytest.raises(Exception, match="chmod 600"):
        signing.load_private_key(settings)
