-- OpenID Connect: signing keys (one active: retired_at NULL), authorization codes and
-- access tokens (only SHA-256 hashes of both are kept).
CREATE TABLE oidc_keys (
    kid         TEXT    PRIMARY KEY,
    pkcs8       BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL,
    retired_at  BIGINT
);
-- At most one active key: when two instances start at once, the first insert wins.
CREATE UNIQUE INDEX oidc_keys_one_active ON oidc_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

CREATE TABLE oidc_codes (
    code_hash       BYTEA   PRIMARY KEY,
    client_id       TEXT    NOT NULL,
    redirect_uri    TEXT    NOT NULL,
    user_id         BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope           TEXT    NOT NULL,
    nonce           TEXT,
    code_challenge  TEXT,
    auth_time       BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    used_at         BIGINT
);

CREATE TABLE oidc_tokens (
    token_hash  BYTEA   PRIMARY KEY,
    code_hash   BYTEA   NOT NULL,
    client_id   TEXT    NOT NULL,
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope       TEXT    NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX oidc_tokens_code ON oidc_tokens (code_hash);
