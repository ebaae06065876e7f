"""KYC personal data: encrypted at rest, searchable through keyed blind indexes without
decrypting, masked for readers; the subject search across ids, addresses and hashes."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from exchange_helpers import IMPORTER, import_dir, read_csv
from sqlalchemy import text
from sqlalchemy.orm import Session

from chainsleuth.core.config import Settings
from chainsleuth.core.errors import IntegrityViolation, InvalidInput
from chainsleuth.exchange import kyc as kyc_module
from chainsleuth.exchange import service as exchange_service
from chainsleuth.exchange.enums import MatchField
from chainsleuth.exchange.kyc import KycKeys, name_tokens, norm_phone
from chainsleuth.exchange.models import Customer
from chainsleuth.exchange.search import SubjectQuery, classify, find_subjects


def individuals(mini: Path) -> list[dict[str, str]]:
    return [
        r
        for r in read_csv(mini / "customers.csv")
        if r["customer_type"] == "individual" and r["email"] and r["phone"]
    ]


def test_personal_data_is_encrypted_at_rest(
    session: Session, settings: Settings, mini: Path
) -> None:
    import_dir(session, settings, mini)
    keys = exchange_service.keys_for(settings)
    rows = individuals(mini)
    assert rows
    for row in rows:
        raw = session.execute(
            text("SELECT * FROM exchange_customers WHERE id = :id"), {"id": row["customer_id"]}
        ).one()
        stored = " ".join(str(v) for v in raw)
        index = " ".join(
            str(v)
            for r in session.execute(
                text("SELECT field, digest FROM exchange_kyc_index WHERE customer_id = :id"),
                {"id": row["customer_id"]},
            )
            for v in r
        )
        for field in ("email", "phone", "document_number", "address_line", "date_of_birth"):
            assert row[field] not in stored and row[field] not in index, field
        for field in ("first_name", "last_name"):
            if len(row[field]) >= 3:
                assert row[field] not in stored and row[field].lower() not in index, field
        customer = session.get(Customer, row["customer_id"])
        assert customer is not None and customer.kyc_key_version == 1
        record = keys.decrypt(customer.kyc, customer.kyc_key_version)
        assert record["email"] == row["email"] and record["last_name"] == row["last_name"]
        assert customer.masked["email"].endswith("@" + row["email"].split("@")[1])
        assert customer.masked["name"].startswith(row["first_name"][:1] + "•••")
    other = KycKeys(b"another-secret-key-" + b"y" * 30)
    with pytest.raises(IntegrityViolation):
        other.decrypt(customer.kyc, customer.kyc_key_version)


def _ids(session: Session, keys: KycKeys, **criteria: object) -> list[str]:
    query = SubjectQuery(**criteria)  # type: ignore[arg-type]
    return [m.customer.id for m in find_subjects(session, keys=keys, query=query)]


def test_blind_index_search_matches_normalised_values(
    session: Session, settings: Settings, mini: Path
) -> None:
    import_dir(session, settings, mini)
    keys = exchange_service.keys_for(settings)
    row = individuals(mini)[0]
    cid = row["customer_id"]
    assert cid in _ids(session, keys, email=row["email"].upper())
    digits = re.sub(r"\D", "", re.sub(r"x\d+$", "", row["phone"]).replace("(0)", ""))
    assert cid in _ids(session, keys, phone=" ".join(digits[i : i + 3] for i in range(0, 99, 3)))
    assert cid in _ids(session, keys, name=f"{row['last_name'].upper()} {row['first_name']}")
    born = date.fromisoformat(row["date_of_birth"])
    assert _ids(session, keys, name=f"{row['first_name']} {row['last_name']}", date_of_birth=born)
    assert cid in _ids(session, keys, date_of_birth=born)
    assert cid not in _ids(
        session, keys, name=row["last_name"], date_of_birth=born.replace(year=born.year - 1)
    )
    assert _ids(session, keys, document=row["document_number"].lower()) == [cid]
    matches = find_subjects(session, keys=keys, query=SubjectQuery(email=row["email"]))
    assert [r.field for r in matches[0].reasons] == [MatchField.EMAIL]


def test_search_box_finds_ids_addresses_hashes_ips_and_devices(
    session: Session, settings: Settings, mini: Path
) -> None:
    import_dir(session, settings, mini)
    keys = exchange_service.keys_for(settings)
    deposit = read_csv(mini / "deposits.csv")[0]
    withdrawal = next(r for r in read_csv(mini / "withdrawals.csv") if r["chain"] == "eth")
    login = read_csv(mini / "logins.csv")[0]
    address = read_csv(mini / "deposit_addresses.csv")[0]

    def found(q: str) -> dict[str, set[MatchField]]:
        _query, matches = exchange_service.search(session, keys=keys, q=q)
        return {m.customer.id: {r.field for r in m.reasons} for m in matches}

    assert found(deposit["customer_id"].lower()) == {
        deposit["customer_id"]: {MatchField.CUSTOMER_ID}
    }
    assert found(deposit["account_id"]) == {deposit["customer_id"]: {MatchField.ACCOUNT_ID}}
    assert MatchField.DEPOSIT_TX in found(deposit["tx_hash"])[deposit["customer_id"]]
    upper = "0x" + withdrawal["tx_hash"][2:].upper()
    assert MatchField.WITHDRAWAL_TX in found(upper)[withdrawal["customer_id"]]
    assert MatchField.WITHDRAWAL_ADDRESS in found(withdrawal["address"])[withdrawal["customer_id"]]
    assert MatchField.DEPOSIT_ADDRESS in found(address["address"])[address["customer_id"]]
    assert MatchField.LOGIN_IP in found(login["ip"])[login["customer_id"]]
    assert MatchField.DEVICE in found(login["device_id"])[login["customer_id"]]
    assert found("nobody@nowhere.example") == {}
    btc = next(r for r in read_csv(mini / "deposit_addresses.csv") if r["chain"] == "btc")
    with pytest.raises(InvalidInput, match="not an address on eth"):
        find_subjects(session, keys=keys, query=SubjectQuery(address=btc["address"], chain="eth"))


def test_normalisation_and_classification() -> None:
    assert name_tokens("Štefan", "Pospíšil") == ["stefan", "pospisil"]
    assert name_tokens("  MICHELLE  hunt ") == ["michelle", "hunt"]
    assert norm_phone("+44(0)3069990856") == norm_phone("0306 999 0856") == "69990856"
    assert norm_phone("(340)723-9543x3706") == norm_phone("+1 340 723 9543")
    assert norm_phone("12") is None
    assert classify("C123456789").customer_id == "C123456789"
    assert classify("C123456789-usdt").account_id == "C123456789-usdt"
    assert classify("a@b.example").email == "a@b.example"
    assert classify("1978-12-07").date_of_birth == date(1978, 12, 7)
    q = classify("Michelle Hunt 1978-12-07")
    assert q.name == "Michelle Hunt" and q.date_of_birth == date(1978, 12, 7)
    assert classify("10.45.239.235").ip == "10.45.239.235"
    assert classify("83f15dfc97f7ad44e1ef1a366523ae7f").device_id is not None
    assert classify("+44 115 496 0103").phone is not None
    assert classify("IP2508275").document == "IP2508275"
    assert classify("bc1qsywjn2q508s9wuj4k7nugh8yuk6prk4a3ldlzv").address is not None
    assert classify("0x" + "ab" * 32).tx_hash is not None
    assert classify("   ").is_empty()


def test_a_new_key_version_re_encrypts_and_old_records_stay_readable(
    session: Session, settings: Settings, mini: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_dir(session, settings, mini)
    keys = exchange_service.keys_for(settings)
    monkeypatch.setattr(kyc_module, "KEY_VERSION", 2)
    row = individuals(mini)[0]
    # before the re-encryption, version-1 records are still read with their own key
    old = session.get(Customer, row["customer_id"])
    assert old is not None and old.kyc_key_version == 1
    assert keys.decrypt(old.kyc, old.kyc_key_version)["email"] == row["email"]
    done = exchange_service.rekey(session, keys=keys, actor=IMPORTER)
    assert done == len(read_csv(mini / "customers.csv"))
    customer = session.get(Customer, row["customer_id"])
    assert customer is not None and customer.kyc_key_version == 2
    assert keys.decrypt(customer.kyc, 2)["email"] == row["email"]
    with pytest.raises(IntegrityViolation):
        keys.decrypt(customer.kyc, 1)
    assert exchange_service.rekey(session, keys=keys, actor=IMPORTER) == 0
