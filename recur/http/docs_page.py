"""`GET /docs`: the API for people, rendered on the server from the same OpenAPI document as /openapi.json.

No Swagger UI: that would mean JavaScript and fonts from a CDN, and the page is meant to work offline and
under a CSP that fetches nothing. Operations are grouped by tag, each with its method, path, summary,
credentials, parameters, request body fields (nested objects flattened to dotted names) and responses.
The HTML is rendered once per app and cached, like the document it comes from.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template_string

from recur.http.openapi import spec_for
from recur.http.routes import route

bp = Blueprint("docs_page", __name__)
HTML_KEY = "recur.docs_html"
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
METHOD_ORDER = ["get", "post", "put", "patch", "delete"]
MAX_DEPTH = 3  # nested request objects deeper than this are named, not expanded
CONSTRAINTS = [("minimum", "≥ {}"), ("maximum", "≤ {}"), ("minLength", "length ≥ {}"), ("maxLength", "length ≤ {}"),
               ("minItems", "items ≥ {}"), ("maxItems", "items ≤ {}"), ("pattern", "matches {}")]


def deref(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow local `#/components/...` references until a concrete object."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def ref_name(node: dict[str, Any]) -> str | None:
    return node["$ref"].rsplit("/", 1)[1] if "$ref" in node else None


def type_label(spec: dict[str, Any], schema: dict[str, Any]) -> str:
    """A short human type: `string (uuid)`, `Money | null`, `array of Event`, `integer`."""
    if "$ref" in schema:
        return ref_name(schema) or "object"
    if "anyOf" in schema:
        return " | ".join(type_label(spec, s) for s in schema["anyOf"])
    kinds = schema.get("type", "any")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    labels = []
    for kind in kinds:
        if kind == "array":
            labels.append("array of " + type_label(spec, schema.get("items", {})))
        elif kind != "null" and schema.get("format"):
            labels.append(f"{kind} ({schema['format']})")
        else:
            labels.append(kind)
    return " | ".join(labels)


def constraints(schema: dict[str, Any]) -> str:
    notes = []
    if "enum" in schema:
        notes.append("one of " + ", ".join(str(v) for v in schema["enum"] if v is not None))
    if schema.get("type") == "array" and "enum" in schema.get("items", {}):
        notes.append("each one of " + ", ".join(str(v) for v in schema["items"]["enum"]))
    notes.extend(template.format(schema[key]) for key, template in CONSTRAINTS if key in schema)
    if "default" in schema:
        notes.append(f"default {schema['default']!r}".replace("None", "null").replace("False", "false").replace("True", "true"))
    return "; ".join(notes)


def object_of(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any] | None:
    """The object schema behind a property, if it is one (through a $ref, or a nullable `anyOf [$ref, null]`)."""
    for candidate in [schema, *schema.get("anyOf", [])]:
        resolved = deref(spec, candidate)
        if "properties" in resolved:
            return resolved
    return None


def body_fields(spec: dict[str, Any], schema: dict[str, Any], prefix: str = "", depth: int = 0) -> list[dict[str, str]]:
    """One row per field of a request body, nested objects flattened to `retry_policy.max_retries`."""
    resolved = deref(spec, schema)
    required = set(resolved.get("required", []))
    rows = []
    for name, prop in resolved.get("properties", {}).items():
        rows.append({
            "name": prefix + name,
            "type": type_label(spec, prop),
            "required": "required" if name in required else "optional",
            "constraints": constraints(deref(spec, prop)),
            "description": deref(spec, prop).get("description", prop.get("description", "")),
        })
        inner = object_of(spec, prop)
        if inner is not None and depth < MAX_DEPTH:
            rows.extend(body_fields(spec, inner, f"{prefix}{name}.", depth + 1))
    return rows


def describe_operation(spec: dict[str, Any], path: str, method: str, op: dict[str, Any]) -> dict[str, Any]:
    parameters = []
    for raw in op.get("parameters", []):
        p = deref(spec, raw)
        schema = p.get("schema", {})
        parameters.append({"name": p["name"], "in": p["in"], "required": p.get("required", False), "type": type_label(spec, schema),
                           "constraints": constraints(schema), "description": p.get("description", "")})
    body = None
    if "requestBody" in op:
        media, content = next(iter(op["requestBody"]["content"].items()))
        body = {"media": media, "required": op["requestBody"].get("required", False),
                "schema": type_label(spec, content.get("schema", {})), "fields": body_fields(spec, content.get("schema", {}))}
    responses = []
    for status, raw in op.get("responses", {}).items():
        response = deref(spec, raw)
        content = response.get("content", {})
        media = [f"{m}: {type_label(spec, c.get('schema', {}))}" if m.endswith("json") else m for m, c in content.items()]
        responses.append({"status": status, "description": response.get("description", ""), "media": media})
    return {"id": op.get("operationId", f"{method} {path}"), "method": method.upper(), "path": path, "summary": op.get("summary", ""),
            "description": op.get("description", ""), "security": [name for entry in op.get("security", []) for name in entry],
            "parameters": parameters, "body": body, "responses": responses}


def grouped_operations(spec: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Operations by tag, in the document's tag order; an untagged operation goes under Other."""
    tags = [*spec.get("tags", [])]
    groups: dict[str, list[dict[str, Any]]] = {t["name"]: [] for t in tags}
    for path, item in spec.get("paths", {}).items():
        for method in sorted(item, key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER)):
            op = item[method]
            tag = (op.get("tags") or ["Other"])[0]
            if tag not in groups:
                groups[tag] = []
                tags.append({"name": tag, "description": ""})
            groups[tag].append(describe_operation(spec, path, method, op))
    return [(t, groups[t["name"]]) for t in tags if groups[t["name"]]]


def render_docs(app: Flask) -> str:
    spec = spec_for(app)
    schemes = spec.get("components", {}).get("securitySchemes", {})
    return render_template_string(PAGE, info=spec["info"], openapi=spec["openapi"], groups=grouped_operations(spec), schemes=schemes)


@route(bp.get, "/docs", "Operations", "This API as an HTML page", media=("text/html",))
def docs() -> Response:
    # No lock: rendering is deterministic, so two threads racing on the first request store the same page.
    html: str | None = current_app.extensions.get(HTML_KEY)
    if html is None:
        html = render_docs(current_app)
        current_app.extensions[HTML_KEY] = html
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ info.title }} API {{ info.version }}</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 72rem; padding: 1rem 2rem; color: #1d2330; }
h1 { margin-bottom: 0; } h2 { border-bottom: 2px solid #d5dae3; margin-top: 2.5rem; }
section.op { border: 1px solid #d5dae3; border-radius: 6px; margin: 1rem 0; padding: .25rem 1rem .75rem; }
h3 { font-size: 1.05rem; margin: .6rem 0; } code { font: 14px ui-monospace, monospace; }
.method { display: inline-block; min-width: 4.2rem; padding: 0 .4rem; border-radius: 4px; color: #fff; text-align: center;
          font: bold 13px ui-monospace, monospace; }
.get { background: #2a6fdb; } .post { background: #1f8a4c; } .put { background: #b26b00; } .patch { background: #7a4fc9; }
.delete { background: #c0392b; }
table { border-collapse: collapse; width: 100%; margin: .3rem 0 .6rem; font-size: 14px; }
th, td { border-bottom: 1px solid #e6e9ef; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f6f9; } .muted { color: #5b6577; } nav ul { columns: 2; } pre { white-space: pre-wrap; }
</style>
</head>
<body>
<h1>{{ info.title }} API <small class="muted">{{ info.version }}</small></h1>
<p class="muted">OpenAPI {{ openapi }}; the machine-readable document is at <a href="/openapi.json">/openapi.json</a>.</p>
<pre>{{ info.description }}</pre>
<h2>Credentials</h2>
<table><tr><th>Name</th><th>Kind</th><th>Description</th></tr>
{% for name, scheme in schemes.items() %}<tr><td><code>{{ name }}</code></td>
<td>{{ scheme.type }}{% if scheme.scheme %} {{ scheme.scheme }}{% endif %}
{%- if scheme.in %} ({{ scheme.in }} {{ scheme.name }}){% endif %}</td>
<td>{{ scheme.description }}</td></tr>
{% endfor %}</table>
<nav><h2>Operations</h2><ul>
{% for tag, ops in groups %}<li><a href="#tag-{{ loop.index }}">{{ tag.name }}</a> ({{ ops | length }})</li>{% endfor %}
</ul></nav>
{% for tag, ops in groups %}
<h2 id="tag-{{ loop.index }}">{{ tag.name }}</h2>
{% if tag.description %}<p>{{ tag.description }}</p>{% endif %}
{% for op in ops %}
<section class="op" id="{{ op.id }}">
<h3><span class="method {{ op.method|lower }}">{{ op.method }}</span> <code>{{ op.path }}</code> {{ op.summary }}</h3>
{% if op.description %}<p>{{ op.description }}</p>{% endif %}
<p class="muted">Credentials: {{ op.security | join(" or ") if op.security else "none" }}</p>
{% if op.parameters %}<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Required</th><th>Constraints</th><th>Description</th></tr>
{% for p in op.parameters %}<tr><td><code>{{ p.name }}</code></td><td>{{ p.in }}</td><td>{{ p.type }}</td>
<td>{{ "required" if p.required else "optional" }}</td><td>{{ p.constraints }}</td><td>{{ p.description }}</td></tr>
{% endfor %}</table>{% endif %}
{% if op.body %}<p>Request body ({{ op.body.media }}, {{ "required" if op.body.required else "optional" }}):
<code>{{ op.body.schema }}</code></p>
{% if op.body.fields %}<table><tr><th>Field</th><th>Type</th><th>Required</th><th>Constraints</th><th>Description</th></tr>
{% for f in op.body.fields %}<tr><td><code>{{ f.name }}</code></td><td>{{ f.type }}</td><td>{{ f.required }}</td>
<td>{{ f.constraints }}</td><td>{{ f.description }}</td></tr>
{% endfor %}</table>{% endif %}{% endif %}
<table><tr><th>Response</th><th>Description</th><th>Content</th></tr>
{% for r in op.responses %}<tr><td>{{ r.status }}</td><td>{{ r.description }}</td><td>{{ r.media | join(", ") }}</td></tr>
{% endfor %}</table>
</section>
{% endfor %}
{% endfor %}
</body>
</html>
"""
