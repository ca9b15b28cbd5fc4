//! The audit trail: what happened to whom, by whom, from where. An append-only table
//! (`store/audit.rs`), read and exported (CSV) in the admin console, purged by the
//! housekeeping after `SCANLOGIN_AUDIT_RETENTION_DAYS`, and with `SCANLOGIN_AUDIT_LOG=1`
//! also written to the log as a JSON line for a SIEM (target `scanlogin::audit`).
//!
//! Recording never fails the action it records: a person is not refused a login because
//! the trail could not be written, which is logged as an error instead. Nor does it slow
//! it: entries go to a writer task ([`AuditWriter`]) that appends whatever has come in
//! meanwhile in one transaction. Written inline, each entry was a commit of its own on
//! the login path (two per login), and on PostgreSQL, with each commit a disk sync, two
//! instances at 200 logins a second fell from a p50 of a few ms to 400 ms, with failed
//! logins. The console flushes the writer before it reads, so it shows everything this
//! instance recorded before the request; what is in the writer's queue when the process
//! is killed (not stopped: a stop flushes it) is lost, a few milliseconds' worth.

use axum::http::{header, HeaderMap};

use tokio::sync::{mpsc, oneshot};

use super::{
    context::{AppState, Client},
    place::Places,
    store::{audit::AuditRow, unix_now, Store},
};
use crate::protocol::AuditEntry;

/// What happened. Its name is the `event` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The phone confirmed a login.
    LoginConfirmed,
    /// The access rules refused a scan (`detail`: why).
    LoginRefused,
    /// The phone cancelled a login.
    LoginCancelled,
    /// A browser got a session from its ticket.
    SessionCreated,
    /// A session was ended: by its owner logging out, or by an administrator.
    SessionRevoked,
    /// The OpenID provider issued an authorization code.
    CodeIssued,
    /// The OpenID provider refused a client to a logged-in person (its group rule).
    AccessDenied,
    TokenIssued,
    TokenRefreshed,
    TokenRevoked,
    UserDisabled,
    UserEnabled,
    AdminGranted,
    AdminRevoked,
    GroupCreated,
    GroupRenamed,
    GroupDeleted,
    GroupMemberAdded,
    GroupMemberRemoved,
    InvitationCreated,
    InvitationRevoked,
    /// A login used an invitation (`detail`: its id).
    InvitationUsed,
    /// An administrator exported the audit trail.
    AuditExported,
    /// A person ended their logins at an application (`client_id`).
    ApplicationRevoked,
    /// A person downloaded a copy of their data.
    DataExported,
    /// A person deleted their account; the entries about them keep only their number.
    AccountDeleted,
    /// WeChat said the person withdrew their nickname and avatar: both were cleared.
    ProfileCleared,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::LoginConfirmed => "login_confirmed",
            Event::LoginRefused => "login_refused",
            Event::LoginCancelled => "login_cancelled",
            Event::SessionCreated => "session_created",
            Event::SessionRevoked => "session_revoked",
            Event::CodeIssued => "code_issued",
            Event::AccessDenied => "access_denied",
            Event::TokenIssued => "token_issued",
            Event::TokenRefreshed => "token_refreshed",
            Event::TokenRevoked => "token_revoked",
            Event::UserDisabled => "user_disabled",
            Event::UserEnabled => "user_enabled",
            Event::AdminGranted => "admin_granted",
            Event::AdminRevoked => "admin_revoked",
            Event::GroupCreated => "group_created",
            Event::GroupRenamed => "group_renamed",
            Event::GroupDeleted => "group_deleted",
            Event::GroupMemberAdded => "group_member_added",
            Event::GroupMemberRemoved => "group_member_removed",
            Event::InvitationCreated => "invitation_created",
            Event::InvitationRevoked => "invitation_revoked",
            Event::InvitationUsed => "invitation_used",
            Event::AuditExported => "audit_exported",
            Event::ApplicationRevoked => "application_revoked",
            Event::DataExported => "data_exported",
            Event::AccountDeleted => "account_deleted",
            Event::ProfileCleared => "profile_cleared",
        }
    }

    /// Every event.
    #[cfg(test)]
    const ALL: [Event; 27] = [
        Event::LoginConfirmed,
        Event::LoginRefused,
        Event::LoginCancelled,
        Event::SessionCreated,
        Event::SessionRevoked,
        Event::CodeIssued,
        Event::AccessDenied,
        Event::TokenIssued,
        Event::TokenRefreshed,
        Event::TokenRevoked,
        Event::UserDisabled,
        Event::UserEnabled,
        Event::AdminGranted,
        Event::AdminRevoked,
        Event::GroupCreated,
        Event::GroupRenamed,
        Event::GroupDeleted,
        Event::GroupMemberAdded,
        Event::GroupMemberRemoved,
        Event::InvitationCreated,
        Event::InvitationRevoked,
        Event::InvitationUsed,
        Event::AuditExported,
        Event::ApplicationRevoked,
        Event::DataExported,
        Event::AccountDeleted,
        Event::ProfileCleared,
    ];
}

/// Where a request came from, for its entries.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: String,
    pub user_agent: String,
    pub request_id: String,
}

impl Origin {
    pub fn of(headers: &HeaderMap, client: Client) -> Self {
        let text = |name: &header::HeaderName, max: usize| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(max).collect())
                .unwrap_or_default()
        };
        Self {
            ip: client.ip.to_string(),
            user_agent: text(&header::USER_AGENT, 300),
            request_id: text(&super::request_id::HEADER, 64),
        }
    }

    /// The origin of a plain axum handler's request.
    pub fn of_parts(state: &AppState, parts: &axum::http::request::Parts) -> Self {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |c| c.0.ip());
        Self::of(&parts.headers, Client::resolve(state, &parts.headers, peer))
    }
}

/// An entry to record: [`Entry::new`], then what applies.
#[derive(Debug, Clone)]
pub struct Entry {
    row: AuditRow,
}

impl Entry {
    pub fn new(event: Event, origin: &Origin) -> Self {
        Self {
            row: AuditRow {
                at: unix_now(),
                event: event.as_str().to_owned(),
                result: "ok".to_owned(),
                ip: origin.ip.clone(),
                user_agent: origin.user_agent.clone(),
                request_id: origin.request_id.clone(),
                ..AuditRow::default()
            },
        }
    }

    /// The person it concerns.
    pub fn user(mut self, user_id: i64) -> Self {
        self.row.user_id = Some(user_id);
        self
    }

    /// The administrator who did it.
    pub fn actor(mut self, actor_id: i64) -> Self {
        self.row.actor_id = Some(actor_id);
        self
    }

    /// A WeChat identity with no user (a refused stranger), masked.
    pub fn wechat_identity(mut self, openid: &str) -> Self {
        self.row.subject = mask_openid(openid);
        self
    }

    pub fn client(mut self, client_id: &str) -> Self {
        self.row.client_id = client_id.to_owned();
        self
    }

    /// Refused, not done.
    pub fn refused(mut self, why: &str) -> Self {
        self.row.result = "refused".to_owned();
        self.row.detail = why.to_owned();
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.row.detail = detail.into();
        self
    }
}

/// An entry as the console and the person's account show it, placed by `places`.
pub fn shown(row: AuditRow, places: &Places) -> AuditEntry {
    AuditEntry {
        id: row.id,
        at: super::qr_image::rfc3339(row.at),
        event: row.event,
        result: row.result,
        actor_id: row.actor_id,
        user_id: row.user_id,
        subject: row.subject,
        client_id: row.client_id,
        place: places.of(&row.ip),
        ip: row.ip,
        user_agent: row.user_agent,
        request_id: row.request_id,
        detail: row.detail,
    }
}

/// An openid as the console shows it: enough to tell two apart, not to use one.
pub fn mask_openid(openid: &str) -> String {
    let chars: Vec<char> = openid.chars().collect();
    if chars.len() <= 8 {
        return "…".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}…{tail}")
}

/// Appends `entry` to the trail (and to the log, when asked).
pub async fn record(state: &AppState, entry: Entry) {
    let row = entry.row;
    if state.config.audit.log {
        log_line(&row);
    }
    state.audit.append(row).await;
}

/// What the writer task hears.
enum Message {
    Row(Box<AuditRow>),
    /// Answered once every row sent before it is written.
    Flush(oneshot::Sender<()>),
}

/// The most entries one transaction appends.
const BATCH: usize = 500;

/// Appends the trail's entries to the database off the request path, in batches.
pub struct AuditWriter {
    tx: mpsc::Sender<Message>,
}

impl AuditWriter {
    /// Starts the writer task, which ends when the writer is dropped.
    pub fn start(store: Store) -> Self {
        // Bounded: past 10,000 entries waiting, recording waits for the database.
        let (tx, rx) = mpsc::channel(10_000);
        tokio::spawn(write(store, rx));
        Self { tx }
    }

    async fn append(&self, row: AuditRow) {
        if self.tx.send(Message::Row(Box::new(row))).await.is_err() {
            tracing::error!("the audit trail's writer has stopped: an entry is lost");
        }
    }

    /// Waits until every entry recorded before is in the database.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

async fn write(store: Store, mut rx: mpsc::Receiver<Message>) {
    while let Some(first) = rx.recv().await {
        let (mut rows, mut flushes) = (Vec::new(), Vec::new());
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Row(row) => rows.push(*row),
                Message::Flush(done) => flushes.push(done),
            }
            next = if rows.len() < BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !rows.is_empty() {
            if let Err(err) = store.append_audit(&rows).await {
                tracing::error!(%err, entries = rows.len(), "the audit trail could not be written");
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// An entry as a log line, each column a field (JSON with `SCANLOGIN_LOG_FORMAT=json`).
fn log_line(row: &AuditRow) {
    tracing::info!(
        target: "scanlogin::audit",
        event = %row.event,
        result = %row.result,
        actor_id = row.actor_id,
        user_id = row.user_id,
        subject = %row.subject,
        client_id = %row.client_id,
        ip = %row.ip,
        user_agent = %row.user_agent,
        request_id = %row.request_id,
        detail = %row.detail,
        "audit"
    );
}

/// Deletes entries past the retention.
pub async fn purge(state: &AppState) {
    let before = unix_now() - i64::from(state.config.audit.retention_days) * 86_400;
    if let Err(err) = state.store.purge_audit(before).await {
        tracing::warn!(%err, "purging the audit trail failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_openid_is_masked_to_its_ends() {
        assert_eq!(mask_openid("oABCdefghijkXYZ"), "oABC…XYZ");
        assert_eq!(mask_openid("short"), "…");
    }

    #[test]
    fn an_entry_is_a_json_line_with_every_column_for_a_siem() {
        let origin = Origin {
            ip: "203.0.113.7".into(),
            user_agent: "Chrome".into(),
            request_id: "r-1".into(),
        };
        let entry = Entry::new(Event::UserDisabled, &origin).actor(1).user(2);
        let logged = crate::server::telemetry::logged_while(tracing::Level::INFO, true, || {
            log_line(&entry.row)
        });
        let line: serde_json::Value = serde_json::from_str(logged.trim()).unwrap();
        assert_eq!(line["target"], "scanlogin::audit");
        let fields = &line["fields"];
        assert_eq!(fields["event"], "user_disabled");
        assert_eq!(fields["actor_id"], 1);
        assert_eq!(fields["user_id"], 2);
        assert_eq!(fields["ip"], "203.0.113.7");
        assert_eq!(fields["request_id"], "r-1");
    }

    #[test]
    fn the_console_offers_every_event_by_its_name() {
        let names: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
        assert_eq!(names, crate::protocol::AUDIT_EVENTS);
    }
}
