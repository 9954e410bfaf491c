"""Server logs on stderr: Vault's levels and its two formats (``standard``, ``json``).

The JSON lines use hclog's keys (``@timestamp``, ``@level``, ``@module``,
``@message``), as ``vault server -log-format=json`` writes them, plus the fields
a record carries in ``extra={"fields": {...}}`` (the per-request line's request
id, method, path, status, duration and client address). Callers never put a
token, a request body or a credential in a log record.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

# Vault's level names → Python's (hclog has trace below debug; Python does not).
LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
_HCLOG_LEVELS = {"DEBUG": "debug", "INFO": "info", "WARNING": "warn", "ERROR": "error", "CRITICAL": "error"}


def _timestamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "@timestamp": _timestamp(record),
            "@level": _HCLOG_LEVELS.get(record.levelname, record.levelname.lower()),
            "@module": record.name,
            "@message": record.getMessage(),
        }
        line.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            line["@exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class StandardFormatter(logging.Formatter):
    """``2026-12-01T20:31:00.123Z [INFO]  vaultlet.http: request: method=GET ...``"""

    def format(self, record: logging.LogRecord) -> str:
        level = _HCLOG_LEVELS.get(record.levelname, record.levelname.lower()).upper()
        text = f"{_timestamp(record)} [{level}] {' ' * (5 - len(level))}{record.name}: {record.getMessage()}"
        fields = getattr(record, "fields", None)
        if fields:
            text += ": " + " ".join(f"{key}={value}" for key, value in fields.items())
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else StandardFormatter()


def configure(level: str, log_format: str) -> None:
    """Every logger of the process to stderr, in the chosen format."""
    _skip_unused_record_fields()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(LEVELS.get(level, logging.INFO))


def _skip_unused_record_fields() -> None:
    """Neither format shows the caller's file and line, the thread or the process, so
    records need not collect them (the logging HOWTO's "Optimization" switches): the
    caller lookup walks the stack on every record, one per request at least."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def server_logconfig(level: str, log_format: str) -> dict[str, Any]:
    """The HTTP server's own loggers (granian's or gunicorn's: worker boots, signals,
    shutdown) in the same format; no access log (vaultlet writes its own request line)."""
    python_level = logging.getLevelName(LEVELS.get(level, logging.INFO))
    own = {"level": python_level, "handlers": [], "propagate": True}
    silent = {"level": "CRITICAL", "handlers": [], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": python_level, "handlers": ["stderr"]},
        "loggers": {
            "_granian": own,
            "gunicorn.error": own,
            "granian.access": silent,
            "gunicorn.access": silent,
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "vaultlet",
                "stream": "ext://sys.stderr",
            }
        },
        "formatters": {"vaultlet": {"()": "vaultlet.logs.formatter", "log_format": log_format}},
    }
