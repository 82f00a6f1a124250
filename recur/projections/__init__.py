"""Read models: PostgreSQL tables through psycopg2, each fed by small idempotent handlers."""
