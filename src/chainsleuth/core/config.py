"""Settings: one typed object, read from the environment (prefix ``CHAINSLEUTH_``).

Secrets are never defaulted outside development: in production a missing, short or
well-known secret key stops the start with a clear message.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from enum import StrEnum
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chainsleuth.core.errors import ConfigurationError

_WEAK_SECRETS = {"", "changeme", "changethis", "secret", "default", "development", "dev"}
_MIN_SECRET_LEN = 32
SECRET_FILE = "secret_key"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHAINSLEUTH_", extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path("data")
    database_url: str | None = None
    secret_key: SecretStr | None = None
    #: The demo world: demo logins are allowed and MFA is optional for them.
    demo: bool = False

    session_idle_minutes: int = Field(default=30, ge=1)
    session_max_hours: int = Field(default=12, ge=1)
    lockout_threshold: int = Field(default=5, ge=1)
    lockout_minutes: int = Field(default=15, ge=1)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    api_token_days: int = Field(default=90, ge=1)
    #: Per client address, in the ``limits`` notation ("20/minute", "1000/hour").
    rate_limit_signin: str = "20/minute"
    rate_limit_api: str = "600/minute"

    # --- ingest (chainsleuth.ingest): node URLs and credentials, never on a command line ---
    btc_rpc_url: str | None = None
    btc_rpc_user: str | None = None
    btc_rpc_password: SecretStr | None = None
    #: Bitcoin Core's ``.cookie`` file (``__cookie__:<password>``), read at each start
    btc_rpc_cookie_file: Path | None = None
    eth_rpc_url: SecretStr | None = None  # provider URLs often carry an API key
    eth_rpc_user: str | None = None
    eth_rpc_password: SecretStr | None = None
    rpc_timeout_s: float = Field(default=30.0, gt=0)
    rpc_retries: int = Field(default=4, ge=0)
    rpc_concurrency: int = Field(default=4, ge=1, le=64)
    rpc_batch_size: int = Field(default=100, ge=1, le=10_000)

    # --- response packages (chainsleuth.packages) ---
    #: the platform's Ed25519 private key (PEM); generated under the data folder when unset
    signing_key_file: Path | None = None
    #: how long an agency's officer may download a delivered package
    package_link_days: int = Field(default=14, ge=1, le=365)

    # --- law-enforcement requests (chainsleuth.requests) ---
    #: the largest signed document (PDF) or subjects file an officer may upload
    request_document_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            if self.demo:
                raise ConfigurationError("CHAINSLEUTH_DEMO cannot be set in production")
            key = self.secret_key.get_secret_value() if self.secret_key else ""
            if key.lower() in _WEAK_SECRETS or len(key) < _MIN_SECRET_LEN:
                raise ConfigurationError(
                    "CHAINSLEUTH_SECRET_KEY must be set to a random value of at least "
                    f"{_MIN_SECRET_LEN} characters in production"
                )
            if not self.database_url:
                raise ConfigurationError("CHAINSLEUTH_DATABASE_URL must be set in production")
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def mfa_enforced(self) -> bool:
        """MFA is required for every role but trainee, except in the demo world."""
        return not self.demo

    @property
    def cookie_secure(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'chainsleuth.db').resolve()}"

    @cached_property
    def secret(self) -> bytes:
        """The secret key; in development it is generated once and kept in the data folder."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value().encode()
        if self.is_production:  # pragma: no cover - the validator refuses this earlier
            raise ConfigurationError("CHAINSLEUTH_SECRET_KEY is required in production")
        path = self.data_dir / SECRET_FILE
        if not path.exists():
            _create_secret_file(path)
        return path.read_text().strip().encode()


def _create_secret_file(path: Path) -> None:
    """Write a new secret beside ``path`` (mode 0600) and link it into place, atomically:
    of starts racing on a fresh data folder one wins, and all read its complete file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{SECRET_FILE}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def load_settings() -> Settings:
    """Read the settings from the environment; errors become one clear message."""
    try:
        return Settings()
    except ConfigurationError:
        raise
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "CHAINSLEUTH_" + "_".join(str(p) for p in first["loc"]).upper()
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigurationError(f"invalid setting {name}: {first['msg']}{more}") from exc
    except ValueError as exc:  # pydantic-settings could not parse a value
        raise ConfigurationError(f"invalid settings: {exc}") from exc
