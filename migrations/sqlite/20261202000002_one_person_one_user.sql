-- One person, one user: a user is found by WeChat's unionid when WeChat gives one (the
-- same person through two mini programs of one company), else by (appid, openid). Each
-- (appid, openid) a user logged in with is an identity of that user.
CREATE TABLE wechat_identities (
    appid    TEXT    NOT NULL,
    openid   TEXT    NOT NULL,
    user_id  BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (appid, openid)
);
INSERT INTO wechat_identities (appid, openid, user_id) SELECT appid, openid, id FROM users;

-- A unionid belongs to one user. Users that already share one (never merged, a user's id
-- never changes) keep it on the oldest only.
UPDATE users SET unionid = NULL
WHERE unionid IS NOT NULL
  AND id NOT IN (SELECT MIN(id) FROM users WHERE unionid IS NOT NULL GROUP BY unionid);
CREATE UNIQUE INDEX users_unionid ON users (unionid);
