//! Uploaded avatars: our own JPEG re-encoding, under its content's hash.

use std::time::Duration;

use super::{unix_now, Store};
use crate::server::error::AppError;

impl Store {
    /// Keeps an avatar under `id` (its content's hash: the same image twice is one row).
    pub async fn save_avatar(&self, id: &str, jpeg: &[u8]) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO avatars (id, jpeg, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(jpeg)
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The avatar stored under `id`.
    pub async fn avatar(&self, id: &str) -> Result<Option<Vec<u8>>, AppError> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT jpeg FROM avatars WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(jpeg,)| jpeg))
    }

    /// Removes avatars older than `older_than` that no user shows: uploads of scans that
    /// were cancelled or expired, and avatars replaced since. (A fresh upload is kept a
    /// while: its confirm may still be on its way.)
    pub async fn purge_unused_avatars(&self, older_than: Duration) -> Result<u64, AppError> {
        let done = sqlx::query(
            "DELETE FROM avatars WHERE created_at <= $1 \
             AND NOT EXISTS (SELECT 1 FROM users WHERE users.avatar_url = '/avatars/' || avatars.id)",
        )
        .bind(unix_now() - older_than.as_secs() as i64)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Profile;

    #[tokio::test]
    async fn avatars_nobody_shows_are_purged_once_old() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.save_avatar("kept", b"jpeg-1").await.unwrap();
        store.save_avatar("unused", b"jpeg-2").await.unwrap();
        let profile = Profile {
            nickname: "A".into(),
            avatar_url: "/avatars/kept".into(),
        };
        store
            .upsert_user("wx1", "o1", None, Some(&profile))
            .await
            .unwrap();
        assert_eq!(
            store
                .purge_unused_avatars(Duration::from_secs(3600))
                .await
                .unwrap(),
            0,
            "too young"
        );
        assert_eq!(store.purge_unused_avatars(Duration::ZERO).await.unwrap(), 1);
        assert!(store.avatar("kept").await.unwrap().is_some());
        assert!(store.avatar("unused").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_deleted_users_avatar_goes_with_them_unless_another_shows_it() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.save_avatar("own", b"jpeg-1").await.unwrap();
        store.save_avatar("shared", b"jpeg-2").await.unwrap();
        let shows = |avatar: &str| Profile {
            nickname: "A".into(),
            avatar_url: format!("/avatars/{avatar}"),
        };
        let leaving = store
            .upsert_user("wx1", "o1", None, Some(&shows("own")))
            .await
            .unwrap();
        let sharing = store
            .upsert_user("wx1", "o2", None, Some(&shows("shared")))
            .await
            .unwrap();
        store
            .upsert_user("wx1", "o3", None, Some(&shows("shared")))
            .await
            .unwrap();
        assert!(store.delete_user(leaving.id).await.unwrap());
        assert!(store.delete_user(sharing.id).await.unwrap());
        assert!(
            !store.delete_user(leaving.id).await.unwrap(),
            "gone already"
        );
        assert!(store.avatar("own").await.unwrap().is_none());
        assert!(store.avatar("shared").await.unwrap().is_some());
    }
}
