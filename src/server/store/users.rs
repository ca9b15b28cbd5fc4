//! Users: who logs in, found or made from a WeChat login, in one statement that inserts a
//! user ([`insert_user!`]) used by both ways there (SQLite's brief path and the
//! transaction).

use sqlx::{any::AnyArguments, query::Query, Any, Row as _};

use super::{unix_now, Dialect, Store};
use crate::{
    protocol::{GrantSummary, Profile, User, UserQuery, UserSummary},
    server::{audit::mask_openid, error::AppError, qr_image::rfc3339},
};

/// The one statement that makes a user (with its login's profile, so that the row is
/// known without reading it back), answering its id. A macro, so that SQLite's batch can
/// include it in one text with `concat!`. Its arguments, in order: [`bind_new_user`].
macro_rules! insert_user {
    () => {
        "INSERT INTO users (appid, openid, unionid, nickname, avatar_url, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id"
    };
}

/// Binds [`insert_user!`]'s arguments.
fn bind_new_user<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    appid: &'q str,
    openid: &'q str,
    unionid: Option<&'q str>,
    profile: &'q Profile,
    now: i64,
) -> Query<'q, Any, AnyArguments<'q>> {
    query
        .bind(appid)
        .bind(openid)
        .bind(unionid)
        .bind(&profile.nickname)
        .bind(&profile.avatar_url)
        .bind(now)
}

/// The known user `id`, with `profile` (when given) shown from now on.
async fn shown_user(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    profile: Option<&Profile>,
    now: i64,
) -> Result<User, AppError> {
    let (id, nickname, avatar_url): (i64, String, String) = match profile {
        Some(profile) => {
            sqlx::query_as(
                "UPDATE users SET nickname = $2, avatar_url = $3, updated_at = $4 WHERE id = $1
                 RETURNING id, nickname, avatar_url",
            )
            .bind(id)
            .bind(&profile.nickname)
            .bind(&profile.avatar_url)
            .bind(now)
            .fetch_one(&mut *conn)
            .await?
        }
        None => {
            sqlx::query_as("SELECT id, nickname, avatar_url FROM users WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *conn)
                .await?
        }
    };
    Ok(User {
        id,
        nickname,
        avatar_url,
    })
}

impl Store {
    /// The user behind a WeChat login, made on their first one: found by `unionid` when
    /// WeChat gives one (the same person through another mini program of the company, or
    /// after `SCANLOGIN_WECHAT_APPID` changed), else by `(appid, openid)`. A unionid seen
    /// for the first time is attached to the user known by openid, never making a second
    /// user; one that another user holds already is not merged (a user's id, the OpenID
    /// `sub`, never changes) and is logged. `profile`, when given, replaces the shown one.
    pub async fn upsert_user(
        &self,
        appid: &str,
        openid: &str,
        unionid: Option<&str>,
        profile: Option<&Profile>,
    ) -> Result<User, AppError> {
        let _counted = self.start();
        // Two first logins of one person at once (two instances): one wins the insert,
        // the other finds its row on the second try.
        match self
            .find_or_make_user(appid, openid, unionid, profile)
            .await
        {
            Err(AppError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                self.find_or_make_user(appid, openid, unionid, profile)
                    .await
            }
            other => other,
        }
    }

    /// SQLite's usual cases without holding its write lock across round trips. SQLite has
    /// one writer at a time, and sqlx runs each statement as a round trip to the
    /// connection's own thread: the transaction below reads, then writes, holding the lock
    /// for all of them (five for a new user), and under load every login queued behind it
    /// while those threads waited for a core. Here the reads come first, without the lock,
    /// then a single write: a known user whose unionid is nothing new is one statement, and
    /// a new user without one is one batch (its own transaction) sent in one round trip.
    /// `None`: a case with a unionid to reconcile, for the transaction. A first login of
    /// the same person at the same moment fails the batch with a unique violation, which
    /// [`Self::upsert_user`] retries, finding the user.
    async fn find_or_make_user_briefly(
        &self,
        appid: &str,
        openid: &str,
        unionid: Option<&str>,
        profile: Option<&Profile>,
    ) -> Result<Option<User>, AppError> {
        let now = unix_now();
        // One connection for the read and the write: one hand-back to the pool.
        let mut conn = self.pool.acquire().await?;
        let known: Option<(i64, Option<String>)> = sqlx::query_as(
            "SELECT users.id, users.unionid FROM wechat_identities
             JOIN users ON users.id = wechat_identities.user_id
             WHERE wechat_identities.appid = $1 AND wechat_identities.openid = $2",
        )
        .bind(appid)
        .bind(openid)
        .fetch_optional(&mut *conn)
        .await?;
        match known {
            Some((id, held)) if unionid.is_none() || held.as_deref() == unionid => {
                Ok(Some(shown_user(&mut conn, id, profile, now).await?))
            }
            None if unionid.is_none() => {
                let empty = Profile::default();
                let given = profile.unwrap_or(&empty);
                // `fetch_all`: every statement of the batch runs (`fetch_one` would stop
                // after the first row).
                let made = bind_new_user(
                    sqlx::query(concat!(
                        "BEGIN IMMEDIATE; ",
                        insert_user!(),
                        "; INSERT INTO wechat_identities (appid, openid, user_id) \
                         VALUES ($1, $2, last_insert_rowid()); COMMIT",
                    )),
                    appid,
                    openid,
                    None,
                    given,
                    now,
                )
                .fetch_all(&mut *conn)
                .await;
                let rows = match made {
                    Ok(rows) => rows,
                    Err(err) => {
                        // The batch stops at its first error, inside its transaction if
                        // it began: end it, or drop the connection rather than give it
                        // back to the pool in the middle of one.
                        if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
                            conn.close_on_drop();
                        }
                        return Err(err.into());
                    }
                };
                let id: i64 = rows
                    .first()
                    .ok_or_else(|| AppError::Internal("a new user without an id".into()))?
                    .try_get(0)?;
                Ok(Some(User {
                    id,
                    nickname: given.nickname.clone(),
                    avatar_url: given.avatar_url.clone(),
                }))
            }
            _ => Ok(None),
        }
    }

    async fn find_or_make_user(
        &self,
        appid: &str,
        openid: &str,
        unionid: Option<&str>,
        profile: Option<&Profile>,
    ) -> Result<User, AppError> {
        if self.dialect == Dialect::Sqlite {
            if let Some(user) = self
                .find_or_make_user_briefly(appid, openid, unionid, profile)
                .await?
            {
                return Ok(user);
            }
        }
        let now = unix_now();
        // It reads, then writes: on SQLite the transaction takes the write lock at once,
        // or two logins at the same moment would both read and the second could not write
        // (SQLITE_BUSY_SNAPSHOT, which waiting does not cure). PostgreSQL's concurrent
        // inserts meet in a unique violation, which the caller retries.
        let mut tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        };
        let known: Option<i64> = sqlx::query_scalar(
            "SELECT user_id FROM wechat_identities WHERE appid = $1 AND openid = $2",
        )
        .bind(appid)
        .bind(openid)
        .fetch_optional(&mut *tx)
        .await?;
        let holder: Option<i64> = match unionid {
            Some(unionid) => {
                sqlx::query_scalar("SELECT id FROM users WHERE unionid = $1")
                    .bind(unionid)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let user_id: i64 = match (known, holder) {
            (Some(user), Some(holder)) if holder != user => {
                tracing::warn!(
                    user_id = user,
                    holder_id = holder,
                    "a unionid WeChat gave for this user already belongs to another user; not merged"
                );
                user
            }
            (Some(user), _) => {
                if holder.is_none() && unionid.is_some() {
                    sqlx::query("UPDATE users SET unionid = $2 WHERE id = $1 AND unionid IS NULL")
                        .bind(user)
                        .bind(unionid)
                        .execute(&mut *tx)
                        .await?;
                }
                user
            }
            // The same person through another mini program (or a new appid).
            (None, Some(holder)) => holder,
            (None, None) => {
                // A new user: made with the profile at once, so the row is known without
                // reading it back (each statement is a round trip, while SQLite's write
                // lock is held).
                let empty = Profile::default();
                let given = profile.unwrap_or(&empty);
                let id: i64 = bind_new_user(
                    sqlx::query(insert_user!()),
                    appid,
                    openid,
                    unionid,
                    given,
                    now,
                )
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
                self.record_identity(&mut tx, appid, openid, id).await?;
                tx.commit().await?;
                return Ok(User {
                    id,
                    nickname: given.nickname.clone(),
                    avatar_url: given.avatar_url.clone(),
                });
            }
        };
        if known.is_none() {
            self.record_identity(&mut tx, appid, openid, user_id)
                .await?;
        }
        let user = shown_user(&mut tx, user_id, profile, now).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Records that `(appid, openid)` is `user_id`.
    async fn record_identity(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        appid: &str,
        openid: &str,
        user_id: i64,
    ) -> Result<(), AppError> {
        sqlx::query("INSERT INTO wechat_identities (appid, openid, user_id) VALUES ($1, $2, $3)")
            .bind(appid)
            .bind(openid)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// A user by id.
    pub async fn user(&self, id: i64) -> Result<Option<User>, AppError> {
        let row: Option<(i64, String, String)> =
            sqlx::query_as("SELECT id, nickname, avatar_url FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(id, nickname, avatar_url)| User {
            id,
            nickname,
            avatar_url,
        }))
    }
}

/// A user row as the console lists it (groups and identities read after).
type SummaryRow = (i64, String, String, Option<i64>, i64, Option<i64>);

/// What the admin console reads of users.
impl Store {
    /// Users matching `query`, `per_page` a page, newest first, and how many match.
    pub async fn list_users(
        &self,
        query: &UserQuery,
        per_page: i64,
    ) -> Result<(Vec<UserSummary>, i64), AppError> {
        let search = query.search.trim();
        let id: i64 = search.parse().unwrap_or(-1);
        let pattern = format!(
            "%{}%",
            search
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        // Each filter is a condition true when it is unset: one statement for all.
        let filter = "FROM users WHERE ($1 = '' OR users.id = $2 OR LOWER(users.nickname) LIKE LOWER($3) ESCAPE '\\')
             AND ($4 = '' OR users.id IN (SELECT group_members.user_id FROM group_members
                 JOIN access_groups ON access_groups.id = group_members.group_id
                 WHERE access_groups.name = $4))
             AND ($5 = '' OR ($5 = 'disabled' AND users.disabled_at IS NOT NULL)
                 OR ($5 = 'enabled' AND users.disabled_at IS NULL)
                 OR ($5 = 'admin' AND users.role = 'admin'))";
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {filter}"))
            .bind(search)
            .bind(id)
            .bind(&pattern)
            .bind(query.group.trim())
            .bind(query.state.trim())
            .fetch_one(&self.pool)
            .await?;
        let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
            "SELECT users.id, users.nickname, users.role, users.disabled_at, users.created_at,
                 (SELECT MAX(at) FROM audit_events WHERE audit_events.user_id = users.id
                     AND audit_events.event = 'session_created')
             {filter} ORDER BY users.id DESC LIMIT $6 OFFSET $7"
        ))
        .bind(search)
        .bind(id)
        .bind(&pattern)
        .bind(query.group.trim())
        .bind(query.state.trim())
        .bind(per_page)
        .bind((query.page.max(1) - 1) * per_page)
        .fetch_all(&self.pool)
        .await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in rows {
            users.push(self.summary(row).await?);
        }
        Ok((users, total))
    }

    /// One user as the console shows them.
    pub async fn user_summary(&self, id: i64) -> Result<Option<UserSummary>, AppError> {
        let row: Option<SummaryRow> = sqlx::query_as(
            "SELECT users.id, users.nickname, users.role, users.disabled_at, users.created_at,
                 (SELECT MAX(at) FROM audit_events WHERE audit_events.user_id = users.id
                     AND audit_events.event = 'session_created')
             FROM users WHERE users.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(self.summary(row).await?)),
            None => Ok(None),
        }
    }

    async fn summary(
        &self,
        (id, nickname, role, disabled_at, created_at, last_login_at): SummaryRow,
    ) -> Result<UserSummary, AppError> {
        let identities = self.identities_of(id).await?;
        Ok(UserSummary {
            id,
            nickname,
            admin: role == super::access::ADMIN,
            disabled: disabled_at.is_some(),
            created_at: rfc3339(created_at),
            last_login_at: last_login_at.map(rfc3339),
            groups: self.groups_of(id).await?,
            identities: identities
                .into_iter()
                .map(|(appid, openid)| format!("{appid}: {}", mask_openid(&openid)))
                .collect(),
        })
    }

    /// The live sessions of `user_id`: (token hash, browser, ip, created, last seen).
    #[allow(clippy::type_complexity)]
    pub async fn sessions_of(
        &self,
        user_id: i64,
    ) -> Result<Vec<(Vec<u8>, String, String, i64, i64)>, AppError> {
        Ok(sqlx::query_as(
            "SELECT token_hash, user_agent, ip, created_at, last_seen_at FROM sessions
             WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC",
        )
        .bind(user_id)
        .bind(unix_now())
        .fetch_all(&self.pool)
        .await?)
    }

    /// The WeChat identities (appid, openid) of `user_id`.
    pub async fn identities_of(&self, user_id: i64) -> Result<Vec<(String, String)>, AppError> {
        Ok(sqlx::query_as(
            "SELECT appid, openid FROM wechat_identities WHERE user_id = $1 ORDER BY appid",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deletes `user_id` and all that is theirs, in one transaction: identities,
    /// sessions, group memberships, OpenID codes, tokens and logins (the tables' cascades);
    /// their avatar, unless another user shows the same image; and the address, browser
    /// and WeChat identity in the audit entries about them, which keep only the number of
    /// a user who no longer exists (numbers are never reused). `false`: no such user.
    pub async fn delete_user(&self, user_id: i64) -> Result<bool, AppError> {
        let mut tx = self.pool.begin().await?;
        let avatar_url: Option<String> =
            sqlx::query_scalar("DELETE FROM users WHERE id = $1 RETURNING avatar_url")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(avatar_url) = avatar_url else {
            return Ok(false);
        };
        forget_avatar(&mut tx, &avatar_url).await?;
        sqlx::query(
            "UPDATE audit_events SET ip = '', user_agent = '', subject = ''
             WHERE user_id = $1 OR actor_id = $1",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Clears `user_id`'s nickname and avatar (WeChat says the person withdrew them), and
    /// the avatar's image unless another user shows it. `false`: no such user.
    pub async fn clear_profile(&self, user_id: i64) -> Result<bool, AppError> {
        let mut tx = self.pool.begin().await?;
        let avatar_url: Option<String> =
            sqlx::query_scalar("SELECT avatar_url FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(avatar_url) = avatar_url else {
            return Ok(false);
        };
        sqlx::query(
            "UPDATE users SET nickname = '', avatar_url = '', updated_at = $2 WHERE id = $1",
        )
        .bind(user_id)
        .bind(unix_now())
        .execute(&mut *tx)
        .await?;
        forget_avatar(&mut tx, &avatar_url).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The OpenID clients `user_id` has live tokens for.
    pub async fn grants_of(&self, user_id: i64) -> Result<Vec<GrantSummary>, AppError> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT client_id, MAX(expires_at), MAX(refresh) FROM (
                 SELECT client_id, expires_at, CAST(0 AS BIGINT) AS refresh FROM oidc_tokens
                 WHERE user_id = $1 AND expires_at > $2
                 UNION ALL
                 SELECT client_id, expires_at, CAST(1 AS BIGINT) AS refresh FROM oidc_refresh_tokens
                 WHERE user_id = $1 AND expires_at > $2 AND used_at IS NULL
             ) AS live GROUP BY client_id ORDER BY client_id",
        )
        .bind(user_id)
        .bind(unix_now())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(client_id, until, refresh)| GrantSummary {
                name: client_id.clone(),
                client_id,
                until: rfc3339(until),
                refresh_tokens: refresh != 0,
            })
            .collect())
    }
}

/// Deletes the uploaded avatar `avatar_url` names, unless a user still shows it (avatars
/// are kept by their content's hash: two people may show one image).
async fn forget_avatar(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    avatar_url: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "DELETE FROM avatars WHERE '/avatars/' || id = $1
             AND NOT EXISTS (SELECT 1 FROM users WHERE avatar_url = $1)",
    )
    .bind(avatar_url)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn users_are_keyed_by_appid_and_openid() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let a = store
            .upsert_user("wx1", "o1", Some("u1"), None)
            .await
            .unwrap();
        let profile = Profile {
            nickname: "Alice".into(),
            avatar_url: "https://a/x.png".into(),
        };
        let again = store
            .upsert_user("wx1", "o1", None, Some(&profile))
            .await
            .unwrap();
        assert_eq!(a.id, again.id);
        assert_eq!(again.nickname, "Alice");
        let kept = store.upsert_user("wx1", "o1", None, None).await.unwrap();
        assert_eq!(
            kept.nickname, "Alice",
            "no profile given: the old one stays"
        );
        let other_app = store.upsert_user("wx2", "o1", None, None).await.unwrap();
        assert_ne!(other_app.id, a.id);
    }

    #[tokio::test]
    async fn one_person_is_one_user_by_unionid_across_mini_programs() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        // Known by openid first; the unionid, when it first appears, is attached.
        let first = store.upsert_user("wx1", "o1", None, None).await.unwrap();
        let attached = store
            .upsert_user("wx1", "o1", Some("u1"), None)
            .await
            .unwrap();
        assert_eq!(attached.id, first.id);
        // Another mini program of the company (or a changed appid): the same user.
        let other_app = store
            .upsert_user("wx2", "o2-in-wx2", Some("u1"), None)
            .await
            .unwrap();
        assert_eq!(other_app.id, first.id);
        // ...and that identity finds the user again without a unionid.
        assert_eq!(
            store
                .upsert_user("wx2", "o2-in-wx2", None, None)
                .await
                .unwrap()
                .id,
            first.id
        );
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(users, 1, "no duplicate user");
    }

    #[tokio::test]
    async fn two_first_logins_of_one_person_at_once_make_one_user() {
        let file = std::env::temp_dir().join(format!(
            "scanlogin-store-{}.db",
            crate::protocol::id_from_random_bytes(|| crate::server::random::bytes::<1>()[0])
        ));
        let store = Store::connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        let profile = Profile {
            nickname: "Alice".into(),
            avatar_url: String::new(),
        };
        // With a unionid (the whole transaction) and without (the one-round-trip batch).
        for (openid, unionid) in [("o1", Some("u1")), ("o2", None)] {
            let (a, b) = tokio::join!(
                store.upsert_user("wx1", openid, unionid, Some(&profile)),
                store.upsert_user("wx1", openid, unionid, Some(&profile))
            );
            assert_eq!(a.unwrap().id, b.unwrap().id);
        }
        // The batch that lost left no transaction open on its connection: with one, every
        // other connection's write would wait for SQLite's write lock and fail.
        for n in 0..16 {
            store
                .upsert_user("wx1", &format!("later-{n}"), None, None)
                .await
                .unwrap();
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }

    #[tokio::test]
    async fn a_unionid_held_by_another_user_is_never_merged() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let holder = store
            .upsert_user("wx1", "oa", Some("u1"), None)
            .await
            .unwrap();
        let other = store.upsert_user("wx1", "ob", None, None).await.unwrap();
        // WeChat now says `ob` has u1 too: nothing changes for either user.
        let again = store
            .upsert_user("wx1", "ob", Some("u1"), None)
            .await
            .unwrap();
        assert_eq!(again.id, other.id);
        assert_ne!(again.id, holder.id);
        assert_eq!(
            store
                .upsert_user("wx3", "oc", Some("u1"), None)
                .await
                .unwrap()
                .id,
            holder.id
        );
    }
}
