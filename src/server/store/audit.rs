//! The audit trail's table: appended to, read by the console, purged past its retention.

use super::Store;
use crate::server::error::AppError;

/// One entry, as written and as read.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    /// Seconds since the epoch.
    pub at: i64,
    pub event: String,
    pub result: String,
    /// Who did it, when not the person it concerns (an administrator).
    pub actor_id: Option<i64>,
    /// Whom it concerns.
    pub user_id: Option<i64>,
    /// A refused WeChat identity, masked, when there is no user.
    pub subject: String,
    /// The OpenID client.
    pub client_id: String,
    pub ip: String,
    pub user_agent: String,
    pub request_id: String,
    pub detail: String,
}

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Entries about this user, or by them as an administrator.
    pub user_id: Option<i64>,
    pub event: Option<String>,
    /// From this time on (seconds since the epoch).
    pub since: Option<i64>,
}

impl Store {
    /// Appends `rows` in one transaction.
    pub async fn append_audit(&self, rows: &[AuditRow]) -> Result<(), AppError> {
        let mut tx = self.pool.begin().await?;
        for row in rows {
            sqlx::query(
                "INSERT INTO audit_events (at, event, result, actor_id, user_id, subject,
                     client_id, ip, user_agent, request_id, detail)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(row.at)
            .bind(&row.event)
            .bind(&row.result)
            .bind(row.actor_id)
            .bind(row.user_id)
            .bind(&row.subject)
            .bind(&row.client_id)
            .bind(&row.ip)
            .bind(&row.user_agent)
            .bind(&row.request_id)
            .bind(&row.detail)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Up to `limit` entries matching `filter`, newest first, skipping `offset`.
    pub async fn audit(
        &self,
        filter: &AuditFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AuditRow>, AppError> {
        // Each filter is a condition that is true when the filter is unset, so one
        // statement serves every combination.
        Ok(sqlx::query_as(
            "SELECT id, at, event, result, actor_id, user_id, subject, client_id, ip, user_agent,
                    request_id, detail
             FROM audit_events
             WHERE ($1 = 0 OR user_id = $2 OR actor_id = $2)
               AND ($3 = '' OR event = $3)
               AND at >= $4
             ORDER BY id DESC LIMIT $5 OFFSET $6",
        )
        .bind(i64::from(filter.user_id.is_some()))
        .bind(filter.user_id.unwrap_or(0))
        .bind(filter.event.as_deref().unwrap_or(""))
        .bind(filter.since.unwrap_or(0))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deletes entries older than `before`: how many.
    pub async fn purge_audit(&self, before: i64) -> Result<u64, AppError> {
        let done = sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_are_filtered_and_purged_by_age() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        for (at, event, user_id) in [(100, "a", Some(1)), (200, "b", Some(2)), (300, "a", None)] {
            let entry = AuditRow {
                at,
                event: event.into(),
                result: "ok".into(),
                user_id,
                ..AuditRow::default()
            };
            store.append_audit(&[entry]).await.unwrap();
        }
        let all = store.audit(&AuditFilter::default(), 10, 0).await.unwrap();
        assert_eq!(
            all.iter().map(|r| r.at).collect::<Vec<_>>(),
            [300, 200, 100]
        );
        let of_one = AuditFilter {
            user_id: Some(1),
            ..AuditFilter::default()
        };
        assert_eq!(store.audit(&of_one, 10, 0).await.unwrap().len(), 1);
        let a_since = AuditFilter {
            event: Some("a".into()),
            since: Some(150),
            ..AuditFilter::default()
        };
        assert_eq!(store.audit(&a_since, 10, 0).await.unwrap()[0].at, 300);
        assert_eq!(store.purge_audit(250).await.unwrap(), 2);
    }
}
