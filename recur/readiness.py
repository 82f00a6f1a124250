"""Workers say they are ready by leaving a file in <data dir>/ready; `recur up` writes runtime.json
only when every worker has (the consumer, for instance, once its group assigned it partitions)."""

from __future__ import annotations

import os
from pathlib import Path

from recur.settings import Settings


def ready_dir(settings: Settings) -> Path:
    return settings.data_dir / "ready"


def mark_ready(settings: Settings, name: str) -> None:
    directory = ready_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(str(os.getpid()))


def reset(settings: Settings) -> None:
    directory = ready_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    for marker in directory.iterdir():
        marker.unlink()


def missing(settings: Settings, names: list[str]) -> list[str]:
    return [n for n in names if not (ready_dir(settings) / n).exists()]
