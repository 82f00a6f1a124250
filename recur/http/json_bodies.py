"""Request bodies as JSON: a body nested too deep to parse is malformed input, not a server error.

The json module parses nested arrays and objects recursively, so `[[[[...]]]]` a hundred thousand
levels deep raises RecursionError, which is not a ValueError: Flask would let it through as a 500.
Turned into a ValueError here, Flask answers it like any other malformed body (400, problem+json).
"""

from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider


class BoundedJSONProvider(DefaultJSONProvider):
    sort_keys = False  # responses keep the order views.py writes their fields in

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON body is nested too deeply") from None
