-- Dashboard page sessions that were signed out. The session lives in a signed cookie, which stays
-- valid until it expires (12 hours); a copy kept from before the sign-out must not open the page again.
-- Rows older than the cookie's lifetime are deleted at each sign-out: such cookies have expired anyway.
CREATE TABLE dashboard_sign_outs (
    session_id text PRIMARY KEY,
    signed_out_at timestamptz NOT NULL DEFAULT now()
);
