"""Test harness: throwaway PostgreSQL servers, a live ASGI server and headless Chromium."""

from .browser import CHROMIUM_ARGS, CHROMIUM_PATH, launch_chromium
from .liveserver import LiveServer
from .postgres import PostgresServer, PostgresServerError

__all__ = [
    "CHROMIUM_ARGS",
    "CHROMIUM_PATH",
    "LiveServer",
    "PostgresServer",
    "PostgresServerError",
    "launch_chromium",
]
