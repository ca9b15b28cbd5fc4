//! Who may log in, as the database keeps it: a user's standing (disabled, admin), groups
//! and their members, and invitations (their tokens kept only as hashes).

use super::{unix_now, Store};
use crate::server::{error::AppError, secret};

/// A known person as the access rules see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub user_id: i64,
    pub disabled: bool,
}

/// What an invitation gives the person who uses it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvitationGrant {
    pub id: i64,
    pub grants_admin: bool,
    /// The names of the groups it adds the person to.
    pub groups: Vec<String>,
}

/// An invitation to make.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub created_by: Option<i64>,
    pub max_uses: i64,
    pub expires_at: i64,
    pub grants_admin: bool,
    pub group_ids: Vec<i64>,
    pub note: String,
}

/// An invitation as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRow {
    pub id: i64,
    pub note: String,
    pub max_uses: i64,
    pub uses: i64,
    pub grants_admin: bool,
    pub expires_at: i64,
    pub created_at: i64,
    pub revoked: bool,
    pub groups: Vec<String>,
}

/// A group with its member count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub id: i64,
    pub name: String,
    pub members: i64,
}

/// The role column's values.
pub const ADMIN: &str = "admin";
pub const USER: &str = "user";

/// The condition under which an invitation can be used at `$2` (its id or hash is `$1`).
const USABLE: &str = "uses < max_uses AND expires_at > $2 AND revoked_at IS NULL";

impl Store {
    /// The known person behind a WeChat login (by `(appid, openid)`, else by `unionid`),
    /// as [`Self::upsert_user`] would find them; `None`: a stranger.
    pub async fn standing(
        &self,
        appid: &str,
        openid: &str,
        unionid: Option<&str>,
    ) -> Result<Option<Standing>, AppError> {
        let by_identity: Option<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT users.id, users.disabled_at FROM wechat_identities
             JOIN users ON users.id = wechat_identities.user_id
             WHERE wechat_identities.appid = $1 AND wechat_identities.openid = $2",
        )
        .bind(appid)
        .bind(openid)
        .fetch_optional(&self.pool)
        .await?;
        let found = match (by_identity, unionid) {
            (Some(found), _) => Some(found),
            (None, Some(unionid)) => {
                sqlx::query_as("SELECT id, disabled_at FROM users WHERE unionid = $1")
                    .bind(unionid)
                    .fetch_optional(&self.pool)
                    .await?
            }
            (None, None) => None,
        };
        Ok(found.map(|(user_id, disabled_at)| Standing {
            user_id,
            disabled: disabled_at.is_some(),
        }))
    }

    /// The names of the groups `user_id` belongs to, by name.
    pub async fn groups_of(&self, user_id: i64) -> Result<Vec<String>, AppError> {
        Ok(sqlx::query_scalar(
            "SELECT access_groups.name FROM group_members
             JOIN access_groups ON access_groups.id = group_members.group_id
             WHERE group_members.user_id = $1 ORDER BY access_groups.name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether `user_id` is an enabled administrator.
    pub async fn is_admin(&self, user_id: i64) -> Result<bool, AppError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM users WHERE id = $1 AND role = $2 AND disabled_at IS NULL",
        )
        .bind(user_id)
        .bind(ADMIN)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Enabled administrators other than `user_id`.
    pub async fn other_admins(&self, user_id: i64) -> Result<i64, AppError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = $1 AND disabled_at IS NULL AND id <> $2",
        )
        .bind(ADMIN)
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Makes `user_id` an administrator or not.
    pub async fn set_role(&self, user_id: i64, admin: bool) -> Result<bool, AppError> {
        let done = sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
            .bind(user_id)
            .bind(if admin { ADMIN } else { USER })
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Disables `user_id` (ending every session, access and refresh token of theirs in
    /// the same transaction, so no instance sees one alive after) or enables them. Returns
    /// the hashes of the sessions ended, for back-channel logout; `None`: no such user.
    pub async fn set_disabled(
        &self,
        user_id: i64,
        disabled: bool,
    ) -> Result<Option<Vec<Vec<u8>>>, AppError> {
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1")
            .bind(user_id)
            .bind(disabled.then(unix_now))
            .execute(&mut *tx)
            .await?;
        if changed.rows_affected() == 0 {
            return Ok(None);
        }
        let ended = if disabled {
            let ended = end_user_sessions(&mut tx, user_id, Sessions::All).await?;
            for table in ["oidc_tokens", "oidc_refresh_tokens", "oidc_codes"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
            }
            ended
        } else {
            Vec::new()
        };
        tx.commit().await?;
        Ok(Some(ended))
    }

    /// Ends `which` of `user_id`'s sessions, in one statement. Returns the hashes of the
    /// sessions ended.
    pub async fn end_sessions_of(
        &self,
        user_id: i64,
        which: Sessions<'_>,
    ) -> Result<Vec<Vec<u8>>, AppError> {
        let mut tx = self.pool.begin().await?;
        let ended = end_user_sessions(&mut tx, user_id, which).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Every group, by name, with its member count.
    pub async fn groups(&self) -> Result<Vec<GroupRow>, AppError> {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT access_groups.id, access_groups.name, COUNT(group_members.user_id)
             FROM access_groups
             LEFT JOIN group_members ON group_members.group_id = access_groups.id
             GROUP BY access_groups.id, access_groups.name ORDER BY access_groups.name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, members)| GroupRow { id, name, members })
            .collect())
    }

    /// Makes a group: its id, or `None` if the name is taken.
    pub async fn create_group(&self, name: &str) -> Result<Option<i64>, AppError> {
        let made = sqlx::query_scalar(
            "INSERT INTO access_groups (name, created_at) VALUES ($1, $2)
             ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(name)
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?;
        Ok(made)
    }

    /// Renames a group: whether it did (`false`: no such group, or the name is taken).
    pub async fn rename_group(&self, id: i64, name: &str) -> Result<bool, AppError> {
        match sqlx::query("UPDATE access_groups SET name = $2 WHERE id = $1")
            .bind(id)
            .bind(name)
            .execute(&self.pool)
            .await
        {
            Ok(done) => Ok(done.rows_affected() > 0),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a group (its members stay users).
    pub async fn delete_group(&self, id: i64) -> Result<bool, AppError> {
        let done = sqlx::query("DELETE FROM access_groups WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Adds `user_id` to group `group_id`, or takes them out.
    pub async fn set_member(
        &self,
        group_id: i64,
        user_id: i64,
        member: bool,
    ) -> Result<(), AppError> {
        let sql = if member {
            "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)
             ON CONFLICT (group_id, user_id) DO NOTHING"
        } else {
            "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2"
        };
        sqlx::query(sql)
            .bind(group_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Makes an invitation: its id and the token for its link (kept only as a hash).
    pub async fn create_invitation(&self, new: &NewInvitation) -> Result<(i64, String), AppError> {
        let token = secret::token();
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO invitations (token_hash, note, max_uses, grants_admin, expires_at,
                 created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(secret::hash(&token).to_vec())
        .bind(&new.note)
        .bind(new.max_uses)
        .bind(i64::from(new.grants_admin))
        .bind(new.expires_at)
        .bind(new.created_by)
        .bind(unix_now())
        .fetch_one(&mut *tx)
        .await?;
        for group_id in &new.group_ids {
            sqlx::query("INSERT INTO invitation_groups (invitation_id, group_id) VALUES ($1, $2)")
                .bind(id)
                .bind(group_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok((id, token))
    }

    /// The id of the invitation whose token is `token`, if it can still be used.
    pub async fn usable_invitation_id(&self, token: &str) -> Result<Option<i64>, AppError> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT id FROM invitations WHERE token_hash = $1 AND {USABLE}"
        ))
        .bind(secret::hash(token).to_vec())
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// What invitation `id` gives, if it can still be used.
    pub async fn usable_invitation(&self, id: i64) -> Result<Option<InvitationGrant>, AppError> {
        let found: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT grants_admin FROM invitations WHERE id = $1 AND {USABLE}"
        ))
        .bind(id)
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?;
        match found {
            Some(admin) => Ok(Some(self.invitation_grant(id, admin != 0).await?)),
            None => Ok(None),
        }
    }

    /// Uses invitation `id` once, if it can still be used: what it gives.
    pub async fn spend_invitation(&self, id: i64) -> Result<Option<InvitationGrant>, AppError> {
        let spent: Option<i64> = sqlx::query_scalar(&format!(
            "UPDATE invitations SET uses = uses + 1 WHERE id = $1 AND {USABLE}
             RETURNING grants_admin"
        ))
        .bind(id)
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?;
        match spent {
            Some(admin) => Ok(Some(self.invitation_grant(id, admin != 0).await?)),
            None => Ok(None),
        }
    }

    async fn invitation_grant(
        &self,
        id: i64,
        grants_admin: bool,
    ) -> Result<InvitationGrant, AppError> {
        let groups = sqlx::query_scalar(
            "SELECT access_groups.name FROM invitation_groups
             JOIN access_groups ON access_groups.id = invitation_groups.group_id
             WHERE invitation_groups.invitation_id = $1 ORDER BY access_groups.name",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(InvitationGrant {
            id,
            grants_admin,
            groups,
        })
    }

    /// Gives `user_id` what invitation `grant` gives: its groups, and the admin role.
    pub async fn apply_invitation(
        &self,
        user_id: i64,
        grant: &InvitationGrant,
    ) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id)
             SELECT group_id, $2 FROM invitation_groups WHERE invitation_id = $1
             ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(grant.id)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        if grant.grants_admin {
            self.set_role(user_id, true).await?;
        }
        Ok(())
    }

    /// Every invitation, newest first.
    pub async fn invitations(&self) -> Result<Vec<InvitationRow>, AppError> {
        #[allow(clippy::type_complexity)]
        let rows: Vec<(i64, String, i64, i64, i64, i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, note, max_uses, uses, grants_admin, expires_at, created_at, revoked_at
             FROM invitations ORDER BY id DESC LIMIT 200",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, note, max_uses, uses, admin, expires_at, created_at, revoked_at) in rows {
            out.push(InvitationRow {
                id,
                note,
                max_uses,
                uses,
                grants_admin: admin != 0,
                expires_at,
                created_at,
                revoked: revoked_at.is_some(),
                groups: self.invitation_grant(id, false).await?.groups,
            });
        }
        Ok(out)
    }

    /// Revokes invitation `id`: whether there was one to revoke.
    pub async fn revoke_invitation(&self, id: i64) -> Result<bool, AppError> {
        let done = sqlx::query(
            "UPDATE invitations SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Which of a user's sessions to end, by the hash of their tokens.
#[derive(Debug, Clone, Copy)]
pub enum Sessions<'a> {
    All,
    One(&'a [u8]),
    AllBut(&'a [u8]),
}

async fn end_user_sessions(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
    which: Sessions<'_>,
) -> Result<Vec<Vec<u8>>, AppError> {
    let (only, but): (&[u8], &[u8]) = match which {
        Sessions::All => (&[], &[]),
        Sessions::One(hash) => (hash, &[]),
        Sessions::AllBut(hash) => (&[], hash),
    };
    // An empty hash is no condition: one statement for the three.
    Ok(sqlx::query_scalar(
        "DELETE FROM sessions WHERE user_id = $1 AND ($2 = 0 OR token_hash = $3)
             AND ($4 = 0 OR token_hash <> $5)
         RETURNING token_hash",
    )
    .bind(user_id)
    .bind(i64::from(!only.is_empty()))
    .bind(only.to_vec())
    .bind(i64::from(!but.is_empty()))
    .bind(but.to_vec())
    .fetch_all(&mut **tx)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_invitation_is_spent_up_to_its_uses_and_never_after_revocation() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let group = store.create_group("staff").await.unwrap().unwrap();
        assert_eq!(store.create_group("staff").await.unwrap(), None);
        let new = NewInvitation {
            created_by: None,
            max_uses: 2,
            expires_at: unix_now() + 60,
            grants_admin: false,
            group_ids: vec![group],
            note: String::new(),
        };
        let (id, token) = store.create_invitation(&new).await.unwrap();
        assert_eq!(store.usable_invitation_id(&token).await.unwrap(), Some(id));
        let grant = store.spend_invitation(id).await.unwrap().unwrap();
        assert_eq!(grant.groups, ["staff"]);
        assert!(store.spend_invitation(id).await.unwrap().is_some());
        assert_eq!(store.spend_invitation(id).await.unwrap(), None, "used up");
        let (other, token) = store.create_invitation(&new).await.unwrap();
        assert!(store.revoke_invitation(other).await.unwrap());
        assert_eq!(store.usable_invitation_id(&token).await.unwrap(), None);
        assert_eq!(store.spend_invitation(other).await.unwrap(), None);
    }

    #[tokio::test]
    async fn one_session_all_but_one_or_all_end() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let policy = super::super::SessionPolicy {
            ttl: std::time::Duration::from_secs(3600),
            idle: std::time::Duration::from_secs(600),
        };
        let user = store.upsert_user("wx1", "o1", None, None).await.unwrap();
        let browser = Default::default();
        let mut tokens = Vec::new();
        let mut hashes = Vec::new();
        for _ in 0..4 {
            let token = store.create_session(user.id, policy, None, &browser);
            let token = token.await.unwrap();
            hashes.push(crate::server::secret::hash(&token).to_vec());
            tokens.push(token);
        }
        let one = store.end_sessions_of(user.id, Sessions::One(&hashes[0]));
        assert_eq!(one.await.unwrap(), [hashes[0].clone()]);
        let but = store.end_sessions_of(user.id, Sessions::AllBut(&hashes[1]));
        assert_eq!(but.await.unwrap().len(), 2);
        assert!(store
            .session_user(&tokens[1], policy)
            .await
            .unwrap()
            .is_some());
        assert!(store
            .session_user(&tokens[2], policy)
            .await
            .unwrap()
            .is_none());
        let all = store.end_sessions_of(user.id, Sessions::All);
        assert_eq!(all.await.unwrap(), [hashes[1].clone()]);
    }

    #[tokio::test]
    async fn disabling_ends_every_session_and_token_of_the_user() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let policy = super::super::SessionPolicy {
            ttl: std::time::Duration::from_secs(3600),
            idle: std::time::Duration::from_secs(600),
        };
        let user = store.upsert_user("wx1", "o1", None, None).await.unwrap();
        let other = store.upsert_user("wx1", "o2", None, None).await.unwrap();
        let a = store
            .create_session(user.id, policy, None, &Default::default())
            .await
            .unwrap();
        let b = store
            .create_session(user.id, policy, None, &Default::default())
            .await
            .unwrap();
        let kept = store
            .create_session(other.id, policy, None, &Default::default())
            .await
            .unwrap();
        let ended = store.set_disabled(user.id, true).await.unwrap().unwrap();
        assert_eq!(ended.len(), 2);
        for token in [&a, &b] {
            assert_eq!(store.session_user(token, policy).await.unwrap(), None);
        }
        assert!(store.session_user(&kept, policy).await.unwrap().is_some());
        let standing = store.standing("wx1", "o1", None).await.unwrap().unwrap();
        assert!(standing.disabled);
        assert_eq!(store.set_disabled(9999, true).await.unwrap(), None);
    }
}
