"""Producers, products, plans and offers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from marshmallow import Schema, fields, validate

from recur.commands import catalog as commands
from recur.commands.catalog import owned
from recur.commands.history import HistoryEntry, aggregate_history
from recur.commands.versions import Expected
from recur.domain.catalog import Offer, Plan, Producer, Product
from recur.http.context import services
from recur.http.errors import ApiError
from recur.http.fields import EmailAddress, Text
from recur.http.limits import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH
from recur.http.pagination import encode_cursor
from recur.http.query import ProductsQuery
from recur.http.representations.catalog import OfferView, PlanView, ProducerView, ProductPageView, ProductView, RegisteredProducerView
from recur.http.representations.subscriptions import EventListView
from recur.http.routes import ADMIN, ANY_CALLER, PRODUCER, Caller, Extended, route
from recur.http.schemas import PERIODICITIES, MoneySchema, RetryPolicySchema
from recur.projections.queries import catalog as read_models

bp = Blueprint("catalog", __name__)
TAG = "Catalog"


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


@route(bp.post, "/v1/producers", TAG, "Register a producer", roles=ADMIN, body=ProducerSchema, response=RegisteredProducerView,
       status=201, location="/v1/producers/{id}", description="The response carries the producer's `api_key`, shown only this once.")
def register_producer(caller: Caller, body: dict[str, Any]) -> Extended:
    producer, api_key = commands.register_producer(services(), str(body["name"]), str(body["email"]), caller.actor())
    return Extended(producer, api_key=api_key)


@route(bp.get, "/v1/producers/<producer_id>", TAG, "Read a producer", roles=PRODUCER, response=ProducerView, etag=True,
       description="The admin reads any producer; a producer only itself.")
def get_producer(producer_id: str, caller: Caller) -> Producer:
    return commands.visible_producer(services(), producer_id, caller.scope)


@route(bp.post, "/v1/products", TAG, "Create a product", roles=PRODUCER, body=ProductSchema, response=ProductView, status=201,
       location="/v1/products/{id}", etag=True, description="Admin credentials must name the producer with `producer_id`.")
def create_product(caller: Caller, body: dict[str, Any]) -> Product:
    producer_id = caller.producer_id or (str(body["producer_id"]) if body.get("producer_id") else None)
    if producer_id is None:
        raise ApiError(422, "validation-error", "Invalid request", "admin must say for which producer: producer_id",
                       {"producer_id": ["required for admin credentials"]})
    return commands.create_product(services(), producer_id, str(body["name"]), caller.actor())


@route(bp.get, "/v1/products", TAG, "List products", roles=PRODUCER, query=ProductsQuery, response=ProductPageView)
def list_products(caller: Caller, query: dict[str, Any]) -> dict[str, Any]:
    page = read_models.list_products(services().db, caller.producer_id or query.get("producer_id"), query.get("cursor"), query["limit"])
    return {"items": page.rows, "next_cursor": encode_cursor(*page.next_after) if page.next_after else None}


@route(bp.get, "/v1/products/<product_id>", TAG, "Read a product", roles=PRODUCER, response=ProductView, etag=True)
def get_product(product_id: str, caller: Caller) -> Product:
    found: Product = owned(services(), product_id, Product, caller.scope)
    return found


@route(bp.get, "/v1/products/<product_id>/events", TAG, "The product's audit trail: its events in order", roles=PRODUCER,
       response=EventListView, description="Who created and changed the product, and when. Another producer's product is a 404.")
def product_events(product_id: str, caller: Caller) -> dict[str, list[HistoryEntry]]:
    product: Product = owned(services(), product_id, Product, caller.scope)
    return {"items": aggregate_history(services(), product.id)}


@route(bp.post, "/v1/products/<product_id>/plans", TAG, "Define a plan of a product", roles=PRODUCER, body=PlanSchema,
       response=PlanView, status=201, location="/v1/plans/{id}", etag=True)
def define_plan(product_id: str, caller: Caller, body: dict[str, Any]) -> Plan:
    return commands.define_plan(services(), product_id, caller.scope, body, caller.actor())


@route(bp.get, "/v1/plans/<plan_id>", TAG, "Read a plan", roles=ANY_CALLER, response=PlanView, etag=True)
def get_plan(plan_id: str, caller: Caller) -> Plan:
    found: Plan = owned(services(), plan_id, Plan, caller.scope)
    return found


@route(bp.get, "/v1/plans/<plan_id>/events", TAG, "The plan's audit trail: its events in order", roles=PRODUCER,
       response=EventListView, description="Who defined and revised the plan (prices, retry policy, reminders), and when. "
       "Another producer's plan is a 404.")
def plan_events(plan_id: str, caller: Caller) -> dict[str, list[HistoryEntry]]:
    plan: Plan = owned(services(), plan_id, Plan, caller.scope)
    return {"items": aggregate_history(services(), plan.id)}


@route(bp.patch, "/v1/plans/<plan_id>", TAG, "Revise a plan", roles=PRODUCER, body=PlanPatchSchema, response=PlanView, etag=True,
       if_match=True, description="A new price applies to subscriptions started afterwards only.")
def revise_plan(plan_id: str, caller: Caller, body: dict[str, Any], expected: Expected) -> Plan:
    return commands.revise_plan(services(), plan_id, caller.scope, body, caller.actor(), expected)


@route(bp.post, "/v1/plans/<plan_id>/offers", TAG, "Create an offer (another price) of a plan", roles=PRODUCER, body=OfferSchema,
       response=OfferView, status=201, location="/v1/offers/{id}", etag=True)
def create_offer(plan_id: str, caller: Caller, body: dict[str, Any]) -> Offer:
    return commands.create_offer(services(), plan_id, caller.scope, str(body["name"]), body["price"], caller.actor())


@route(bp.get, "/v1/offers/<offer_id>", TAG, "Read an offer", roles=PRODUCER, response=OfferView, etag=True)
def get_offer(offer_id: str, caller: Caller) -> Offer:
    found: Offer = owned(services(), offer_id, Offer, caller.scope)
    return found


@route(bp.patch, "/v1/offers/<offer_id>", TAG, "Revise an offer", roles=PRODUCER, body=OfferPatchSchema, response=OfferView, etag=True,
       if_match=True, description="Applies to new subscribers only.")
def revise_offer(offer_id: str, caller: Caller, body: dict[str, Any], expected: Expected) -> Offer:
    return commands.revise_offer(services(), offer_id, caller.scope, body, caller.actor(), expected)
