"""Producers, products, plans and offers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from marshmallow import Schema, fields, validate

from recur.commands import catalog as commands
from recur.commands.catalog import owned
from recur.domain.catalog import Offer, Plan, Product
from recur.http.auth import require
from recur.http.conditional import created, expected_version, tags_version, versioned
from recur.http.context import services
from recur.http.errors import ApiError
from recur.http.fields import EmailAddress, Text
from recur.http.limits import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH
from recur.http.pagination import decode_cursor, encode_cursor, page_limit
from recur.http.query import as_uuid
from recur.http.schemas import PERIODICITIES, MoneySchema, RetryPolicySchema, load
from recur.http.views import iso, offer_view, plan_view, producer_view, product_view
from recur.projections.queries.catalog import list_products as products_page

bp = Blueprint("catalog", __name__)


class ProducerSchema(Schema):
    name = Text(required=True, max_length=MAX_NAME_LENGTH, required_non_blank=True)
    email = EmailAddress(required=True, max_length=MAX_EMAIL_LENGTH)


class ProductSchema(Schema):
    name = Text(required=True, max_length=MAX_NAME_LENGTH, required_non_blank=True)
    producer_id = fields.UUID(load_default=None)


class PlanSchema(Schema):
    name = Text(required=True, max_length=MAX_NAME_LENGTH, required_non_blank=True)
    periodicity = fields.String(required=True, validate=validate.OneOf(PERIODICITIES))
    price = fields.Nested(MoneySchema, required=True)
    trial_days = fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0, max=365))
    max_installments = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1, max=12))
    retry_policy = fields.Nested(RetryPolicySchema, load_default=dict)
    renewal_reminder_days = fields.Integer(strict=True, allow_none=True, load_default=None, validate=validate.Range(1, 60))


class PlanPatchSchema(Schema):
    name = Text(max_length=MAX_NAME_LENGTH, required_non_blank=True)
    price = fields.Nested(MoneySchema)
    retry_policy = fields.Nested(RetryPolicySchema)
    renewal_reminder_days = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, 60))


class OfferSchema(Schema):
    name = Text(required=True, max_length=MAX_NAME_LENGTH, required_non_blank=True)
    price = fields.Nested(MoneySchema, required=True)


class OfferPatchSchema(Schema):
    name = Text(max_length=MAX_NAME_LENGTH, required_non_blank=True)
    price = fields.Nested(MoneySchema)


@bp.post("/v1/producers")
@created("/v1/producers/{id}")
def register_producer() -> tuple[dict[str, Any], int]:
    caller = require("admin")
    data = load(ProducerSchema(), request.get_json())
    producer, api_key = commands.register_producer(services(), str(data["name"]), str(data["email"]), caller.actor())
    return {**producer_view(producer), "api_key": api_key}, 201


@bp.get("/v1/producers/<producer_id>")
def get_producer(producer_id: str) -> Response:
    """Read a producer (the admin, or the producer itself)"""
    caller = require("admin", "producer")
    producer = commands.visible_producer(services(), producer_id, caller.scope)
    return versioned(producer_view(producer), producer.version)


@bp.post("/v1/products")
@created("/v1/products/{id}")
@tags_version
def create_product() -> Response:
    caller = require("producer", "admin")
    data = load(ProductSchema(), request.get_json())
    producer_id = caller.producer_id or (str(data["producer_id"]) if data.get("producer_id") else None)
    if producer_id is None:
        raise ApiError(
            422,
            "validation-error",
            "Invalid request",
            "admin must say for which producer: producer_id",
            {"producer_id": ["required for admin credentials"]},
        )
    product = commands.create_product(services(), producer_id, str(data["name"]), caller.actor())
    return versioned(product_view(product), product.version, 201)


@bp.get("/v1/products")
def list_products() -> dict[str, Any]:
    caller = require("producer", "admin")
    limit = page_limit()
    after = decode_cursor(request.args.get("cursor"))
    producer_id = caller.producer_id or (as_uuid("producer_id", request.args["producer_id"]) if request.args.get("producer_id") else None)
    page = products_page(services().db, producer_id, after, limit)
    items = [{"id": str(r["id"]), "producer_id": str(r["producer_id"]), "name": r["name"], "created_at": iso(r["created_at"])}
             for r in page.rows]
    return {"items": items, "next_cursor": encode_cursor(*page.next_after) if page.next_after else None}


@bp.get("/v1/products/<product_id>")
def get_product(product_id: str) -> Response:
    caller = require("producer", "admin")
    product = owned(services(), product_id, Product, caller.scope)
    return versioned(product_view(product), product.version)


@bp.post("/v1/products/<product_id>/plans")
@created("/v1/plans/{id}")
@tags_version
def define_plan(product_id: str) -> Response:
    caller = require("producer", "admin")
    data = load(PlanSchema(), request.get_json())
    plan = commands.define_plan(services(), product_id, caller.scope, data, caller.actor())
    return versioned(plan_view(plan), plan.version, 201)


@bp.get("/v1/plans/<plan_id>")
def get_plan(plan_id: str) -> Response:
    caller = require("producer", "admin", "subscriber")
    plan = owned(services(), plan_id, Plan, caller.scope)
    return versioned(plan_view(plan), plan.version)


@bp.patch("/v1/plans/<plan_id>")
def revise_plan(plan_id: str) -> Response:
    caller = require("producer", "admin")
    data = load(PlanPatchSchema(), request.get_json())
    plan = commands.revise_plan(services(), plan_id, caller.scope, data, caller.actor(), expected_version())
    return versioned(plan_view(plan), plan.version)


@bp.post("/v1/plans/<plan_id>/offers")
@created("/v1/offers/{id}")
@tags_version
def create_offer(plan_id: str) -> Response:
    caller = require("producer", "admin")
    data = load(OfferSchema(), request.get_json())
    offer = commands.create_offer(services(), plan_id, caller.scope, str(data["name"]), data["price"], caller.actor())  # type: ignore[arg-type]
    return versioned(offer_view(offer), offer.version, 201)


@bp.get("/v1/offers/<offer_id>")
def get_offer(offer_id: str) -> Response:
    caller = require("producer", "admin")
    offer = owned(services(), offer_id, Offer, caller.scope)
    return versioned(offer_view(offer), offer.version)


@bp.patch("/v1/offers/<offer_id>")
def revise_offer(offer_id: str) -> Response:
    caller = require("producer", "admin")
    data = load(OfferPatchSchema(), request.get_json())
    offer = commands.revise_offer(services(), offer_id, caller.scope, data, caller.actor(), expected_version())
    return versioned(offer_view(offer), offer.version)
