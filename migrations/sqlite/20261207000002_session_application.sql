-- The OpenID client a session's scan was confirmed for (the phone named it), until a login
-- to that client uses it: a client with require_consent_per_login takes only that.
ALTER TABLE sessions ADD COLUMN confirmed_for TEXT;
