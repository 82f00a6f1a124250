"""recur: event-sourced subscription billing."""

__version__ = "0.1.0"
