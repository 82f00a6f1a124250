"""Optimistic concurrency over HTTP (RFC 9110 section 13): an `ETag` on every representation of a subscription, product,
plan or offer, and `If-Match` honoured by the requests that change one.

The entity tag is the aggregate's `version`, quoted: `"7"`. It is a strong tag because If-Match compares strongly
(RFC 9110 13.1.1): a weak tag could never satisfy it. A version names exactly one state of the aggregate, and one
state has one representation. A request with `If-Match` whose tags do not name the current version is refused
with 412 before any change; without the header nothing is checked (`*` asks only that the resource exists).
"""

from __future__ import annotations

from flask import request

from recur.commands.versions import ANY_VERSION, Expected


def expected_version() -> Expected:
    """The versions the client's If-Match accepts: ANY_VERSION without the header (or with `*`), else those its
    strong tags name (none when every tag is weak or not a version: then only a 412 can follow)."""
    if "If-Match" not in request.headers:
        return ANY_VERSION
    tags = request.if_match
    if tags.star_tag:
        return ANY_VERSION
    return frozenset(int(tag) for tag in tags.as_set(include_weak=False) if tag.isdigit() and len(tag) <= 18)
