from enum import StrEnum


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class Channel(StrEnum):
    WEB = "web"
    API = "api"
    CLI = "cli"
    SYSTEM = "system"
