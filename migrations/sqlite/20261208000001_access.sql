-- Who may log in, and what happened: the admin role and disabling on users, the browser
-- of each session (for the console), groups, invitations and the audit trail.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';

CREATE TABLE access_groups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id  INTEGER NOT NULL REFERENCES access_groups (id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- An invitation: a link whose token is kept only as a hash; `max_uses` logins may use it
-- before `expires_at`. The groups it grants are in invitation_groups.
CREATE TABLE invitations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash    BLOB    NOT NULL UNIQUE,
    note          TEXT    NOT NULL DEFAULT '',
    max_uses      INTEGER NOT NULL,
    uses          INTEGER NOT NULL DEFAULT 0,
    grants_admin  INTEGER NOT NULL DEFAULT 0,
    expires_at    INTEGER NOT NULL,
    created_by    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);

CREATE TABLE invitation_groups (
    invitation_id  INTEGER NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    group_id       INTEGER NOT NULL REFERENCES access_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (invitation_id, group_id)
);

-- Append-only. `user_id` has no foreign key: the trail outlives the users it names.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    event       TEXT    NOT NULL,
    result      TEXT    NOT NULL,
    actor_id    INTEGER,
    user_id     INTEGER,
    subject     TEXT    NOT NULL DEFAULT '',
    client_id   TEXT    NOT NULL DEFAULT '',
    ip          TEXT    NOT NULL DEFAULT '',
    user_agent  TEXT    NOT NULL DEFAULT '',
    request_id  TEXT    NOT NULL DEFAULT '',
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_user ON audit_events (user_id, at);
