"""Building a response package: one ZIP with a cover letter, the data and a signed manifest.

Layout of the ZIP (every file but the last three is listed in the manifest)::

    cover-letter.pdf           the letter: letterhead, reference, legal basis, what is
                               produced and what is withheld, how to verify
    data/<category>.csv        one CSV per produced category (UTF-8, header row), each row
                               led by the customer id (and the chain, for on-chain items)
    data/records.xlsx          the same tables, one sheet each, and a "Contents" sheet
    manifest.json              reference, produced and withheld items, each file's name,
                               size and SHA-256, the signing key's fingerprint
    manifest.sig               Ed25519 signature of manifest.json's bytes (base64)
    signing-key.pem            the public key (for convenience: verify against the
                               published one, /.well-known/chainsleuth-signing-key)

Only the ticked items are read, and each is checked against the digest taken when it was
gathered (:func:`chainsleuth.packages.gather.item_digest`).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.orm import Session

from chainsleuth.core.errors import Conflict
from chainsleuth.packages import gather as gather_module
from chainsleuth.packages import signing, tables, xlsx
from chainsleuth.packages.enums import Category
from chainsleuth.packages.gather import Scope, Sources

FORMAT = "chainsleuth-package/1"
COVER = "cover-letter.pdf"
WORKBOOK = "data/records.xlsx"
PLATFORM = "chainsleuth"


@dataclass(frozen=True)
class Item:
    """A gathered item as the package sees it."""

    scope: Scope
    rows: int
    digest: str
    selected: bool


@dataclass(frozen=True)
class Letter:
    """What the cover letter says besides the items."""

    reference: str
    legal_basis: str
    agency: str
    agency_country: str | None
    subjects: list[str]
    notes: list[str]
    approved_by: str
    created_at: datetime
    expires_at: datetime
    request_type: str | None = None
    case_reference: str | None = None


@dataclass
class FileEntry:
    name: str
    size: int
    sha256: str
    category: str | None = None
    rows: int | None = None


@dataclass
class Built:
    path: Path
    size: int
    sha256: str
    manifest_sha256: str
    signature: str
    fingerprint: str
    files: list[FileEntry] = field(default_factory=list)


def _item_json(item: Item) -> dict[str, Any]:
    return {
        "customer_id": item.scope.customer_id,
        "category": str(item.scope.category),
        "chain": item.scope.chain,
        "rows": item.rows,
        "since": item.scope.since.isoformat() if item.scope.since else None,
        "until": item.scope.until.isoformat() if item.scope.until else None,
    }


@dataclass
class Produced:
    """The ticked items of one category: the package's columns, and each item's lead values
    (customer, chain), rows and CSV rows (led by those values)."""

    columns: list[str]
    parts: list[tuple[tuple[Any, ...], tables.Table, bytes]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(len(table) for _lead, table, _body in self.parts)

    def csv(self) -> bytes:
        return b"".join([tables.csv_header(self.columns), *(b for _l, _t, b in self.parts)])


def read_selected(
    session: Session, items: Sequence[Item], src: Sources
) -> dict[Category, Produced]:
    """The ticked items' rows, per category, each row led by its customer (and chain);
    refused when an item no longer matches its digest."""
    produced: dict[Category, Produced] = {}
    for item in items:
        if not item.selected:
            continue
        scope = item.scope
        table = gather_module.read_item(session, scope, src)
        lead_columns, lead = scope.lead
        body = tables.csv_body(table, lead)
        if gather_module.item_digest(session, scope, table, body) != item.digest:
            where = f" on {scope.chain}" if scope.chain else ""
            raise Conflict(
                f"the {scope.category.label.lower()} of {scope.customer_id}{where} changed "
                "since they were gathered: gather again before approving"
            )
        entry = produced.setdefault(scope.category, Produced(lead_columns + list(table.columns)))
        entry.parts.append((lead, table, body))
    return dict(sorted(produced.items(), key=lambda kv: list(Category).index(kv[0])))


# --- the cover letter ---------------------------------------------------------------------------


def _letterhead(canvas: Any, doc: Any) -> None:
    width, height = A4
    canvas.saveState()
    canvas.setFillColor(colors.HexColor("#1f3a5f"))
    canvas.rect(0, height - 28 * mm, width, 28 * mm, fill=1, stroke=0)
    canvas.setFillColor(colors.white)
    canvas.setFont("Helvetica-Bold", 16)
    canvas.drawString(18 * mm, height - 14 * mm, f"{PLATFORM} · Investigations team")
    canvas.setFont("Helvetica", 9)
    canvas.drawString(18 * mm, height - 21 * mm, "Law-enforcement response · confidential")
    canvas.setFillColor(colors.grey)
    canvas.setFont("Helvetica", 8)
    canvas.drawString(18 * mm, 10 * mm, f"{doc.reference} · page {doc.page}")
    canvas.drawRightString(width - 18 * mm, 10 * mm, "Signed package: see manifest.json")
    canvas.restoreState()


def cover_letter(
    letter: Letter, items: Sequence[Item], files: Sequence[FileEntry], fingerprint: str
) -> bytes:
    """The cover letter PDF."""
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"])
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10)
    h2 = ParagraphStyle("h2", parent=styles["Heading2"])

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(
            text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"), style
        )

    def table(rows: list[list[Any]], widths: list[float]) -> Table:
        t = Table([[p(str(c), small) for c in r] for r in rows], colWidths=widths, repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b8c4")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return t

    produced = [i for i in items if i.selected]
    withheld = [i for i in items if not i.selected]
    story: list[Any] = [
        Spacer(1, 14 * mm),
        p(
            f"To: {letter.agency}"
            + (f" ({letter.agency_country})" if letter.agency_country else "")
        ),
        p(f"Date: {letter.created_at:%Y-%m-%d %H:%M} UTC"),
        p(f"Our reference: {letter.reference}"),
    ]
    if letter.case_reference:
        story.append(p(f"Your case reference: {letter.case_reference}"))
    story += [
        Spacer(1, 4 * mm),
        Paragraph(f"Response to request {letter.reference}", styles["Heading1"]),
        p(
            "In answer to your "
            + (letter.request_type.lower() if letter.request_type else "request")
            + f" under the legal basis stated below, we produce the records listed in this "
            f"letter. We produced only what that legal basis allows; the records withheld are "
            f"listed too. Approved by {letter.approved_by}."
        ),
        Paragraph("Legal basis", h2),
        p(letter.legal_basis),
        Paragraph("Subjects named in the request", h2),
    ]
    story += [p(f"• {s}") for s in letter.subjects] or [p("(none)")]
    story.append(Paragraph("Produced", h2))
    if produced:
        story.append(
            table(
                [["Customer", "Records", "Chain", "Rows", "Period"]]
                + [
                    [
                        i.scope.customer_id,
                        i.scope.category.label,
                        i.scope.chain or "–",
                        i.rows,
                        _period(i.scope),
                    ]
                    for i in produced
                ],
                [28 * mm, 48 * mm, 16 * mm, 18 * mm, 64 * mm],
            )  # fmt: skip
        )
    else:
        story.append(p("Nothing: no record falls within what the legal basis allows."))
    story.append(Paragraph("Withheld", h2))
    if withheld:
        story.append(
            table(
                [["Customer", "Records", "Chain", "Rows"]]
                + [
                    [i.scope.customer_id, i.scope.category.label, i.scope.chain or "–", i.rows]
                    for i in withheld
                ],
                [28 * mm, 64 * mm, 20 * mm, 20 * mm],
            )
        )
    else:
        story.append(p("Nothing was withheld."))
    if letter.notes:
        story.append(Paragraph("Notes", h2))
        story += [p(f"• {n}") for n in letter.notes]
    story += [
        Paragraph("Files", h2),
        table(
            [["File", "Size (bytes)", "SHA-256"]] + [[f.name, f.size, f.sha256] for f in files],
            [45 * mm, 25 * mm, 104 * mm],
        ),
        Paragraph("Verifying this package", h2),
        p(
            "manifest.json lists every file with its SHA-256 and is signed with our Ed25519 "
            "key (manifest.sig, base64). Fetch our public key from "
            "/.well-known/chainsleuth-signing-key and check that its fingerprint (SHA-256 of "
            f"the raw public key) is {fingerprint}. Then: "
            "base64 -d manifest.sig > manifest.sig.bin; openssl pkeyutl -verify -pubin "
            "-inkey signing-key.pem -rawin -in manifest.json -sigfile manifest.sig.bin; "
            "and sha256sum each file against the manifest (or run `chainsleuth packages "
            "verify PACKAGE.zip --key KEY.pem`)."
        ),
        p(f"The download link of this package expires on {letter.expires_at:%Y-%m-%d} (UTC)."),
    ]
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        title=f"Response to request {letter.reference}",
        author=PLATFORM,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=22 * mm,
        bottomMargin=18 * mm,
    )
    doc.reference = letter.reference  # type: ignore[attr-defined]
    doc.build(story, onFirstPage=_letterhead, onLaterPages=_letterhead)
    return out.getvalue()


def _period(scope: Scope) -> str:
    low = scope.since.strftime("%Y-%m-%d %H:%M") if scope.since else "start"
    high = scope.until.strftime("%Y-%m-%d %H:%M") if scope.until else "now"
    return f"{low} – {high}"


# --- the package ----------------------------------------------------------------------------------


def build_package(
    session: Session,
    *,
    letter: Letter,
    items: Sequence[Item],
    src: Sources,
    key: Ed25519PrivateKey,
    path: Path,
) -> Built:
    """Read the ticked items, write the ZIP at ``path`` (atomically) and sign its manifest."""
    produced = read_selected(session, items, src)
    files: list[FileEntry] = []
    blobs: list[tuple[str, bytes, int]] = []

    def add(name: str, data: bytes, category: str | None, rows: int | None, method: int) -> None:
        files.append(FileEntry(name, len(data), hashlib.sha256(data).hexdigest(), category, rows))
        blobs.append((name, data, method))

    for category, entry in produced.items():
        add(f"data/{category}.csv", entry.csv(), str(category), entry.rows, zipfile.ZIP_DEFLATED)
    book = io.BytesIO()
    wb = xlsx.Workbook(book)
    wb.add_sheet(
        "Contents",
        ["status", "customer_id", "category", "chain", "rows", "since", "until"],
        [
            ("produced" if i.selected else "withheld", i.scope.customer_id,
             str(i.scope.category), i.scope.chain, i.rows, _iso(i.scope.since),
             _iso(i.scope.until))
            for i in items
        ],
    )  # fmt: skip
    for category, entry in produced.items():
        wb.add_blocks(
            str(category),
            entry.columns,
            [xlsx.Block(lead, t.rows if t.data is None else t.data) for lead, t, _ in entry.parts],
        )
    wb.close()
    add(WORKBOOK, book.getvalue(), None, None, zipfile.ZIP_STORED)

    public = key.public_key()
    fp = signing.fingerprint(public)
    data_files = list(files)
    pdf = cover_letter(letter, items, data_files, fp)
    add(COVER, pdf, None, None, zipfile.ZIP_DEFLATED)

    manifest = {
        "format": FORMAT,
        "reference": letter.reference,
        "agency": letter.agency,
        "legal_basis": letter.legal_basis,
        "created_at": letter.created_at.isoformat(),
        "expires_at": letter.expires_at.isoformat(),
        "approved_by": letter.approved_by,
        "signature": {"algorithm": "Ed25519", "key_fingerprint": fp, "file": signing.SIGNATURE},
        "produced": [_item_json(i) for i in items if i.selected],
        "withheld": [_item_json(i) for i in items if not i.selected],
        "notes": letter.notes,
        "files": [
            {k: v for k, v in vars(f).items() if v is not None}
            for f in sorted(files, key=lambda f: f.name)
        ],
    }
    manifest_bytes = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
    signature = signing.sign(key, manifest_bytes)

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        with zipfile.ZipFile(tmp, "w", compresslevel=1) as zf:
            for name, data, method in blobs:
                zf.writestr(name, data, compress_type=method)
            zf.writestr(signing.MANIFEST, manifest_bytes, compress_type=zipfile.ZIP_DEFLATED)
            zf.writestr(signing.SIGNATURE, signature + "\n")
            zf.writestr(signing.PUBLIC_KEY, signing.public_pem(public))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return Built(
        path=path,
        size=path.stat().st_size,
        sha256=digest.hexdigest(),
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        signature=signature,
        fingerprint=fp,
        files=files,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
