-- OpenID Connect: refresh tokens, and what logout needs.

-- Refresh tokens (only SHA-256 hashes kept). Every refresh token descends from one
-- authorization code, its family (the code's hash, as oidc_tokens.code_hash): a reuse
-- ends the family, and the access tokens it issued.
CREATE TABLE oidc_refresh_tokens (
    token_hash         BLOB    PRIMARY KEY,
    family             BLOB    NOT NULL,
    client_id          TEXT    NOT NULL,
    user_id            INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope              TEXT    NOT NULL,
    auth_time          INTEGER NOT NULL,
    sid                TEXT,
    -- The family's absolute end, and this token's idle end (never later).
    family_expires_at  INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    used_at            INTEGER
);
CREATE INDEX oidc_refresh_tokens_family ON oidc_refresh_tokens (family);

-- The login session an authorization code was issued in (its sid, in the ID token).
ALTER TABLE oidc_codes ADD COLUMN sid TEXT;

-- Which clients a login session logged in to: told by back-channel logout when it ends.
CREATE TABLE oidc_session_clients (
    sid         TEXT    NOT NULL,
    client_id   TEXT    NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (sid, client_id)
);

-- Back-channel logout tokens still to deliver: any instance sends them, with retries,
-- each attempt signed anew (a logout token lives two minutes) with the same jti.
CREATE TABLE oidc_logout_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id        TEXT    NOT NULL,
    user_id          INTEGER NOT NULL,
    sid              TEXT    NOT NULL,
    jti              TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    created_at       INTEGER NOT NULL
);
CREATE INDEX oidc_logout_deliveries_due ON oidc_logout_deliveries (next_attempt_at);
