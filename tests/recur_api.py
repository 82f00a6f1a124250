"""A small client for tests that speaks API.md, over Flask's test client or real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

Call = Callable[[str, str, Any, dict[str, str]], tuple[int, Any]]


def flask_call(client: Any) -> Call:
    def call(method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        response = client.open(path, method=method, json=body, headers=headers)
        return response.status_code, response.get_json(silent=True)

    return call


def http_call(base_url: str) -> Call:
    import requests

    session = requests.Session()

    def call(method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        response = session.request(method, base_url + path, json=body, headers=headers, timeout=120)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    return call


def next_month_start(now: datetime) -> datetime:
    """00:00 UTC of the first day of the month after `now`: a clean start for month-based figures."""
    return (now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=32)).replace(day=1)


class ApiError(AssertionError):
    pass


@dataclass
class Api:
    call: Call
    token: str = ""

    def as_(self, token: str) -> Api:
        return Api(self.call, token)

    def request(self, method: str, path: str, body: Any = None, expect: int | None = None, **headers: str) -> Any:
        hdrs = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        hdrs.update({k.replace("_", "-"): v for k, v in headers.items()})
        status, data = self.call(method, path, body, hdrs)
        if expect is not None and status != expect:
            raise ApiError(f"{method} {path} -> {status}, expected {expect}: {data}")
        return data

    def post(self, path: str, body: Any = None, expect: int | None = 200, **h: str) -> Any:
        return self.request("POST", path, body, expect, **h)

    def get(self, path: str, expect: int | None = 200) -> Any:
        return self.request("GET", path, None, expect)

    def put(self, path: str, body: Any = None, expect: int | None = 200) -> Any:
        return self.request("PUT", path, body, expect)

    def patch(self, path: str, body: Any = None, expect: int | None = 200) -> Any:
        return self.request("PATCH", path, body, expect)

    # ------------------------------------------------------------ domain-speaking helpers
    def new_producer(self, admin_token: str, name: str = "Ana Courses") -> Api:
        producer = self.as_(admin_token).post("/v1/producers", {"name": name, "email": "ana@example.com"}, expect=201)
        return self.as_(producer["api_key"])

    def new_plan(self, product_name: str = "Guitar course", **plan: Any) -> dict[str, Any]:
        product = self.post("/v1/products", {"name": product_name}, expect=201)
        body = {"name": "Monthly", "periodicity": "monthly", "price": {"amount": 4990, "currency": "BRL"}, **plan}
        result: dict[str, Any] = self.post(f"/v1/products/{product['id']}/plans", body, expect=201)
        return result

    def card(self, number: str = "4242424242424242") -> str:
        token: str = self.post("/v1/sandbox/card-tokens", {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}, expect=201)[
            "token"
        ]
        return token

    def subscribe(
        self, plan_id: str, card_token: str | None = None, boleto: bool = False, expect: int = 201, **extra: Any
    ) -> dict[str, Any]:
        method = {"type": "boleto"} if boleto else {"type": "card", "card_token": card_token or self.card()}
        body = {"plan_id": plan_id, "subscriber": {"name": "Bia Souza", "email": "bia@example.com"}, "payment_method": method, **extra}
        result: dict[str, Any] = self.post("/v1/subscriptions", body, expect=expect)
        return result
