"""The signed document of a request: checked to be a real PDF, size-limited, stored under
the data folder by its SHA-256 (``requests/documents/ab/abcdef...``).

Files are written before the transaction commits and removed again when it does not
(``StoredFiles.discard``), so that a refused request leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from chainsleuth.core.config import Settings
from chainsleuth.core.errors import InvalidInput, NotFound, PayloadTooLarge

DOCUMENTS_DIR = Path("requests") / "documents"
PDF_TYPE = "application/pdf"

logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass
class StoredFiles:
    """The files written for one transaction: discarded when it fails."""

    created: list[Path] = field(default_factory=list)

    def discard(self) -> None:
        for path in self.created:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self.created.clear()


def check_size(settings: Settings, upload: Upload, *, what: str) -> None:
    limit = settings.request_document_max_bytes
    if len(upload.data) > limit:
        raise PayloadTooLarge(
            f"the {what} is {len(upload.data):,} bytes; the limit is {limit:,} bytes"
        )
    if not upload.data:
        raise InvalidInput(f"the {what} is empty")


def check_pdf(settings: Settings, upload: Upload) -> int:
    """Refuse what is not a readable PDF; return its number of pages."""
    check_size(settings, upload, what="signed document")
    if not upload.data.lstrip()[:5] == b"%PDF-":
        raise InvalidInput(f"{upload.filename or 'the document'} is not a PDF file")
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(upload.data), strict=False)
        if reader.is_encrypted:
            raise InvalidInput("the PDF is encrypted: send it without a password")
        pages = len(reader.pages)
    except InvalidInput:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InvalidInput(f"{upload.filename or 'the document'} is not a readable PDF") from exc
    if pages < 1:
        raise InvalidInput("the PDF has no pages")
    return pages


def safe_filename(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/")).strip() or "document"
    cleaned = "".join(c if c.isalnum() or c in "._- " else "_" for c in base)
    return cleaned[:200]


def store(settings: Settings, data: bytes, files: StoredFiles) -> tuple[str, str]:
    """Write ``data`` content-addressed; return (sha256, path relative to the data dir)."""
    sha = hashlib.sha256(data).hexdigest()
    rel = DOCUMENTS_DIR / sha[:2] / sha
    path = settings.data_dir / rel
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        files.created.append(path)
    return sha, rel.as_posix()


def read(settings: Settings, storage_path: str, sha256: str) -> bytes:
    path = settings.data_dir / storage_path
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFound("the document's file is missing from the data folder") from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        from chainsleuth.core.errors import IntegrityViolation

        raise IntegrityViolation("the stored document does not match its SHA-256")
    return data
