"""Settings: read from CHAINSLEUTH_* variables, safe defaults in development, and a refusal
with a clear message of anything unsafe in production."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path
from typing import Any

import pytest

from chainsleuth.core.config import SECRET_FILE, Environment, Settings, load_settings
from chainsleuth.core.errors import ConfigurationError

STRONG_SECRET = "s" * 16 + "0123456789abcdef" + "tail"
RACERS, RACE_ROUNDS = 6, 8
PG_URL = "postgresql+psycopg://chainsleuth@db.internal:5432/chainsleuth"


def production(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "production",
        "secret_key": STRONG_SECRET,
        "database_url": PG_URL,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.env is Environment.DEVELOPMENT
    assert settings.data_dir == Path("data")
    assert settings.database_url is None
    assert (
        settings.sqlalchemy_url == f"sqlite:///{(tmp_path / 'data' / 'chainsleuth.db').resolve()}"
    )
    assert settings.demo is False
    assert settings.mfa_enforced is True
    assert settings.cookie_secure is False
    assert settings.is_production is False
    assert (settings.lockout_threshold, settings.lockout_minutes) == (5, 15)
    assert (settings.session_idle_minutes, settings.session_max_hours) == (30, 12)


def test_environment_variables_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINSLEUTH_ENV", "test")
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("CHAINSLEUTH_SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("CHAINSLEUTH_DEMO", "1")
    monkeypatch.setenv("CHAINSLEUTH_LOCKOUT_THRESHOLD", "3")
    monkeypatch.setenv("CHAINSLEUTH_SESSION_IDLE_MINUTES", "5")
    settings = load_settings()
    assert settings.env is Environment.TEST
    assert settings.data_dir == tmp_path / "elsewhere"
    # Without a database URL the embedded SQLite file lives in the data folder.
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'elsewhere' / 'chainsleuth.db'}"
    assert settings.secret == STRONG_SECRET.encode()
    assert settings.demo is True
    assert settings.mfa_enforced is False
    assert (settings.lockout_threshold, settings.session_idle_minutes) == (3, 5)


def test_database_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", PG_URL)
    assert load_settings().sqlalchemy_url == PG_URL


def test_unprefixed_variables_are_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", PG_URL)
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)
    settings = load_settings()
    assert settings.database_url is None
    assert settings.secret_key is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHAINSLEUTH_ENV", "staging"),
        ("CHAINSLEUTH_LOCKOUT_THRESHOLD", "0"),
        ("CHAINSLEUTH_MAX_BODY_BYTES", "lots"),
        ("CHAINSLEUTH_DEMO", "perhaps"),
    ],
)
def test_an_invalid_value_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = caught.value.message
    assert name in message
    assert "\n" not in message  # one line, fit for the CLI's error line


# --- production -----------------------------------------------------------------------------


def test_production_with_a_strong_secret_and_a_database(tmp_path: Path) -> None:
    settings = production(data_dir=tmp_path / "data")
    assert settings.is_production
    assert settings.cookie_secure is True
    assert settings.mfa_enforced is True
    assert settings.secret == STRONG_SECRET.encode()
    assert not (tmp_path / "data" / SECRET_FILE).exists()  # nothing generated


@pytest.mark.parametrize(
    "secret",
    [None, "", "changeme", "CHANGEME", "secret", "too-short-0123456789", "x" * 31],
    ids=["missing", "empty", "changeme", "CHANGEME", "secret", "short", "31-chars"],
)
def test_production_refuses_a_missing_or_weak_secret(secret: str | None) -> None:
    with pytest.raises(ConfigurationError, match="CHAINSLEUTH_SECRET_KEY must be set") as caught:
        production(secret_key=secret)
    assert "at least 32 characters" in caught.value.message


def test_production_accepts_a_secret_of_32_characters() -> None:
    assert production(secret_key="k" * 31 + "!").is_production


def test_production_refuses_the_demo() -> None:
    with pytest.raises(ConfigurationError, match="CHAINSLEUTH_DEMO cannot be set in production"):
        production(demo=True)


def test_production_refuses_a_missing_database_url() -> None:
    with pytest.raises(ConfigurationError, match="CHAINSLEUTH_DATABASE_URL must be set"):
        production(database_url=None)


def test_production_rules_apply_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINSLEUTH_ENV", "production")
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", PG_URL)
    with pytest.raises(ConfigurationError, match="CHAINSLEUTH_SECRET_KEY") as caught:
        load_settings()
    assert "invalid settings" not in caught.value.message  # the rule's own message
    monkeypatch.setenv("CHAINSLEUTH_SECRET_KEY", "changeme")
    with pytest.raises(ConfigurationError, match="CHAINSLEUTH_SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("CHAINSLEUTH_SECRET_KEY", STRONG_SECRET)
    assert load_settings().is_production


# --- the development secret ---------------------------------------------------------------


def test_development_generates_a_private_secret_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    first = Settings(data_dir=data_dir).secret
    path = data_dir / SECRET_FILE
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 48
    assert path.read_text().strip().encode() == first

    # The next start reuses it (sessions and encrypted fields survive a restart).
    assert Settings(data_dir=data_dir).secret == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Another data folder gets its own.
    assert Settings(data_dir=tmp_path / "other").secret != first


def test_an_explicit_secret_is_used_and_nothing_is_written(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key=STRONG_SECRET)
    assert settings.secret == STRONG_SECRET.encode()
    assert not (tmp_path / "data" / SECRET_FILE).exists()


def _read_secret(data_dir: str, start: Any, out: Any) -> None:
    settings = Settings(data_dir=Path(data_dir))
    start.wait(timeout=10)
    try:
        out.put(settings.secret)
    except BaseException as exc:
        out.put(repr(exc))


def test_starts_racing_for_the_secret_all_get_the_same_one(tmp_path: Path) -> None:
    """Processes starting together on a fresh data folder (the server, a CLI command) agree
    on one complete secret: none fails on the file another created, none reads it empty."""
    ctx = multiprocessing.get_context("fork")
    for attempt in range(RACE_ROUNDS):
        data_dir = tmp_path / f"data{attempt}"
        start, out = ctx.Barrier(RACERS), ctx.Queue()
        procs = [
            ctx.Process(target=_read_secret, args=(str(data_dir), start, out))
            for _ in range(RACERS)
        ]
        for proc in procs:
            proc.start()
        results = [out.get(timeout=30) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
        assert len(set(results)) == 1, results
        assert isinstance(results[0], bytes) and len(results[0]) >= 48, results
        assert [p.name for p in data_dir.iterdir()] == [SECRET_FILE]  # no temporary file left


# --- derived switches -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "demo", "mfa_enforced", "cookie_secure"),
    [
        ("development", False, True, False),
        ("development", True, False, False),
        ("test", False, True, False),
        ("test", True, False, False),
        ("production", False, True, True),
    ],
)
def test_mfa_and_cookie_switches(
    tmp_path: Path, env: str, demo: bool, mfa_enforced: bool, cookie_secure: bool
) -> None:
    settings = Settings(
        env=env,  # type: ignore[arg-type]
        demo=demo,
        data_dir=tmp_path,
        secret_key=STRONG_SECRET,
        database_url=PG_URL,
    )
    assert settings.mfa_enforced is mfa_enforced
    assert settings.cookie_secure is cookie_secure
