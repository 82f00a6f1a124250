"""The HTTP API: Flask app factory, one blueprint per resource, marshmallow schemas, auth, errors."""
