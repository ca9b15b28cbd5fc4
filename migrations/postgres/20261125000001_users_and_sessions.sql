-- People who logged in, one row per (mini program, WeChat user).
CREATE TABLE users (
    id          BIGSERIAL PRIMARY KEY,
    appid       TEXT    NOT NULL,
    openid      TEXT    NOT NULL,
    unionid     TEXT,
    nickname    TEXT    NOT NULL DEFAULT '',
    avatar_url  TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    UNIQUE (appid, openid)
);

-- Browser sessions. Only a SHA-256 hash of the cookie's token is kept.
CREATE TABLE sessions (
    token_hash    BYTEA   PRIMARY KEY,
    user_id       BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL,
    last_seen_at  BIGINT  NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);
