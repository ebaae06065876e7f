"""The command line: the public key, and bad input as one line with exit code 2."""

from __future__ import annotations

from typer.testing import CliRunner

from chainsleuth.cli import app as cli_app
from chainsleuth.core.config import Settings
from chainsleuth.packages import signing


def test_the_key_and_bad_input(cli_env: Settings) -> None:
    runner = CliRunner()
    result = runner.invoke(cli_app, ["packages", "key"])
    assert result.exit_code == 0, result.output
    public = signing.load_private_key(cli_env).public_key()
    assert signing.public_pem(public).decode() in result.output
    assert signing.fingerprint(public) in result.output
    for args, message in (
        (["packages", "show", "999"], "no gathering 999"),
        (["packages", "select", "1", "--include", "secrets"], "unknown category 'secrets'"),
        (["packages", "gather", "LER-1999-000001"], "no request 'LER-1999-000001'"),
        (["packages", "verify", "/nonexistent.zip"], "no file /nonexistent.zip"),
    ):
        result = runner.invoke(cli_app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
