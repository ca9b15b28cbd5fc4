-- Who may log in, and what happened: the admin role and disabling on users, the browser
-- of each session (for the console), groups, invitations and the audit trail.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';

CREATE TABLE access_groups (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_id  BIGINT NOT NULL REFERENCES access_groups (id) ON DELETE CASCADE,
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- An invitation: a link whose token is kept only as a hash; `max_uses` logins may use it
-- before `expires_at`. The groups it grants are in invitation_groups.
CREATE TABLE invitations (
    id            BIGSERIAL PRIMARY KEY,
    token_hash    BYTEA   NOT NULL UNIQUE,
    note          TEXT    NOT NULL DEFAULT '',
    max_uses      BIGINT NOT NULL,
    uses          BIGINT NOT NULL DEFAULT 0,
    grants_admin  BIGINT NOT NULL DEFAULT 0,
    expires_at    BIGINT NOT NULL,
    created_by    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);

CREATE TABLE invitation_groups (
    invitation_id  BIGINT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    group_id       BIGINT NOT NULL REFERENCES access_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (invitation_id, group_id)
);

-- Append-only. `user_id` has no foreign key: the trail outlives the users it names.
CREATE TABLE audit_events (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    event       TEXT    NOT NULL,
    result      TEXT    NOT NULL,
    actor_id    BIGINT,
    user_id     BIGINT,
    subject     TEXT    NOT NULL DEFAULT '',
    client_id   TEXT    NOT NULL DEFAULT '',
    ip          TEXT    NOT NULL DEFAULT '',
    user_agent  TEXT    NOT NULL DEFAULT '',
    request_id  TEXT    NOT NULL DEFAULT '',
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_user ON audit_events (user_id, at);
