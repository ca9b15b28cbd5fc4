//! The admin console's server side: who is an administrator (checked on the server for
//! every page and every action), the fresh login a sensitive action needs (step-up), and
//! the actions themselves, each recorded in the audit trail with its actor.
//!
//! Everything an action changes is in the database, which every instance reads on every
//! request: a session ended or a user disabled here is refused by every instance at once.

use axum::{
    extract::{ConnectInfo, Query, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Redirect, Response},
};

use super::{
    audit::{self, Entry, Event, Origin},
    context::AppState,
    error::AppError,
    form::{self, Fields},
    session::{self, Ending, LoggedIn},
    store::{
        access::NewInvitation,
        audit::{AuditFilter, AuditRow},
        unix_now,
    },
};
use crate::protocol::{
    AdminAction, AuditEntry, AuditQuery, GroupSummary, InvitationLink, InvitationRequest,
    InvitationSummary, UserDetail, UserList, UserQuery,
};

/// Users on a page of the list.
pub const PER_PAGE: i64 = 50;

/// The administrator making a request: a [`LoggedIn`] person whose role was checked.
pub struct Admin(LoggedIn);

impl std::ops::Deref for Admin {
    type Target = LoggedIn;

    fn deref(&self) -> &LoggedIn {
        &self.0
    }
}

/// The request's administrator: `NotLoggedIn` without a session, `NotAdmin` for anyone
/// else.
pub async fn require(state: &AppState, headers: &HeaderMap) -> Result<Admin, AppError> {
    let person = session::require(state, headers).await?;
    if !state.store.is_admin(person.user.id).await? {
        return Err(AppError::NotAdmin);
    }
    Ok(Admin(person))
}

pub use crate::protocol::AUDIT_CSV_PATH as CSV_PATH;

/// Where the console's forms post.
pub const FORM_PATH: &str = "/admin/act";

/// The cookie that carries a new invitation's token to the page that shows it, once.
pub const NEW_INVITATION_COOKIE: &str = "scanlogin_new_invitation";

/// `POST /admin/act`: the console's forms (see [`super::form`]). A new invitation's token
/// goes to the invitations page in a cookie that lives a minute, so that it is in no URL.
pub async fn form_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    // Back to the console page the form is on, and nowhere else.
    let back = fields
        .get("back")
        .and_then(|b| b.parse::<crate::protocol::LoginNext>().ok())
        .and_then(|b| b.console_page().map(str::to_owned))
        .unwrap_or_else(|| "/admin".to_owned());
    let done = async {
        let admin = require(&state, &headers).await?;
        let client = super::context::Client::resolve(&state, &headers, peer.ip());
        let origin = Origin::of(&headers, client);
        if fields.get("action") == Some("invite") {
            let number = |name| fields.get(name).and_then(|v| v.parse().ok()).unwrap_or(0);
            let request = InvitationRequest {
                max_uses: number("max_uses"),
                valid_days: number("valid_days"),
                admin: fields.get("admin") == Some("on"),
                group_ids: fields
                    .all("group_id")
                    .filter_map(|v| v.parse().ok())
                    .collect(),
                note: fields.get("note").unwrap_or("").to_owned(),
            };
            let link = create_invitation(&state, &admin, &origin, &request).await?;
            return Ok(Some(link.url));
        }
        let action = form_action(&fields)
            .ok_or_else(|| AppError::Malformed("not an action of the console".to_owned()))?;
        act(&state, &admin, &origin, &action).await?;
        Ok::<_, AppError>(None)
    };
    match done.await {
        Ok(Some(url)) => {
            let token = url.rsplit('/').next().unwrap_or_default();
            let cookie = cookie::Cookie::build((NEW_INVITATION_COOKIE, token.to_owned()))
                .path("/admin/invitations")
                .http_only(true)
                .same_site(cookie::SameSite::Strict)
                .secure(state.secure_cookies)
                .max_age(cookie::time::Duration::seconds(60))
                .build();
            let mut answer = Redirect::to("/admin/invitations").into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
                answer.headers_mut().insert(header::SET_COOKIE, value);
            }
            answer
        }
        done => form::answer(done.map(|_| ()), &back),
    }
}

/// The action a console form names (`action=` and its fields).
fn form_action(fields: &Fields) -> Option<AdminAction> {
    let field = |name: &str| fields.get(name);
    let number = |name: &str| field(name).and_then(|v| v.parse::<i64>().ok());
    let text = |name: &str| field(name).map(str::to_owned);
    let yes = |name: &str| field(name) == Some("true");
    Some(match field("action")? {
        "disable_user" => AdminAction::DisableUser {
            user_id: number("user_id")?,
        },
        "enable_user" => AdminAction::EnableUser {
            user_id: number("user_id")?,
        },
        "set_admin" => AdminAction::SetAdmin {
            user_id: number("user_id")?,
            admin: yes("admin"),
        },
        "revoke_session" => AdminAction::RevokeSession {
            user_id: number("user_id")?,
            session: text("session")?,
        },
        "revoke_all_sessions" => AdminAction::RevokeAllSessions {
            user_id: number("user_id")?,
        },
        "create_group" => AdminAction::CreateGroup {
            name: text("name")?,
        },
        "rename_group" => AdminAction::RenameGroup {
            group_id: number("group_id")?,
            name: text("name")?,
        },
        "delete_group" => AdminAction::DeleteGroup {
            group_id: number("group_id")?,
        },
        "set_member" => AdminAction::SetMember {
            group_id: number("group_id")?,
            user_id: number("user_id")?,
            member: yes("member"),
        },
        "revoke_invitation" => AdminAction::RevokeInvitation {
            invitation_id: number("invitation_id")?,
        },
        _ => return None,
    })
}

/// The invitation whose token the invitations page's cookie carries, once: its link.
pub fn new_invitation(state: &AppState, headers: &HeaderMap) -> Option<InvitationLink> {
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == NEW_INVITATION_COOKIE)?
        .value()
        .to_owned();
    let token: crate::protocol::InvitationToken = token.parse().ok()?;
    invitation_link(state, token.as_str()).ok()
}

/// `GET /admin/audit.csv?user=&event=&days=`: the audit trail as a file. A plain axum
/// handler, not a server function: its answer is a CSV download, not JSON.
pub async fn audit_csv_download(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<AuditQuery>,
) -> Response {
    let answer = async {
        let admin = require(&state, &headers).await?;
        let client = super::context::Client::resolve(&state, &headers, peer.ip());
        audit_csv(&state, &admin, &Origin::of(&headers, client), &query).await
    };
    form::download(
        answer.await.map(String::into_bytes),
        "text/csv; charset=utf-8",
        "scanlogin-audit.csv",
    )
}

/// A group's name: 1 to 40 characters, none of them control characters, not blank.
/// No comma: forward authentication passes a person's groups comma-separated
/// (`X-Scanlogin-Groups`).
pub fn is_group_name(name: &str) -> bool {
    !name.trim().is_empty()
        && name.chars().count() <= 40
        && !name.chars().any(|c| c.is_control() || c == ',')
}

pub async fn users(state: &AppState, query: &UserQuery) -> Result<UserList, AppError> {
    let (users, total) = state.store.list_users(query, PER_PAGE).await?;
    Ok(UserList {
        users,
        total,
        page: query.page.max(1),
        pages: (total + PER_PAGE - 1) / PER_PAGE,
    })
}

pub async fn user(state: &AppState, admin: &Admin, id: i64) -> Result<UserDetail, AppError> {
    state.audit.flush().await;
    let user = state
        .store
        .user_summary(id)
        .await?
        .ok_or(AppError::NotFound)?;
    let sessions = session::sessions_of(state, id, &admin.sid).await?;
    let filter = AuditFilter {
        user_id: Some(id),
        ..AuditFilter::default()
    };
    Ok(UserDetail {
        user,
        sessions,
        grants: state.store.grants_of(id).await?,
        audit: state
            .store
            .audit(&filter, 20, 0)
            .await?
            .into_iter()
            .map(|row| audit::shown(row, &state.config.places))
            .collect(),
        places_credit: state.config.places.credit().cloned(),
        all_groups: groups(state).await?,
    })
}

pub async fn groups(state: &AppState) -> Result<Vec<GroupSummary>, AppError> {
    Ok(state
        .store
        .groups()
        .await?
        .into_iter()
        .map(|g| GroupSummary {
            id: g.id,
            name: g.name,
            members: g.members,
        })
        .collect())
}

pub async fn invitations(state: &AppState) -> Result<Vec<InvitationSummary>, AppError> {
    Ok(state
        .store
        .invitations()
        .await?
        .into_iter()
        .map(|i| InvitationSummary {
            id: i.id,
            note: i.note,
            max_uses: i.max_uses,
            uses: i.uses,
            admin: i.grants_admin,
            expires_at: super::qr_image::rfc3339(i.expires_at),
            created_at: super::qr_image::rfc3339(i.created_at),
            revoked: i.revoked,
            groups: i.groups,
        })
        .collect())
}

/// The longest an invitation may be valid, and the most uses it may have.
const MAX_VALID_DAYS: i64 = 90;
const MAX_USES: i64 = 10_000;

/// Makes an invitation (one granting the admin role needs a fresh login): its link,
/// shown once.
pub async fn create_invitation(
    state: &AppState,
    admin: &Admin,
    origin: &Origin,
    request: &InvitationRequest,
) -> Result<InvitationLink, AppError> {
    if request.admin {
        admin.step_up()?;
    }
    if !(1..=MAX_USES).contains(&request.max_uses)
        || !(1..=MAX_VALID_DAYS).contains(&request.valid_days)
        || request.note.chars().count() > 200
    {
        return Err(AppError::Malformed(format!(
            "an invitation has 1 to {MAX_USES} uses, is valid 1 to {MAX_VALID_DAYS} days, and its note has at most 200 characters"
        )));
    }
    let new = NewInvitation {
        created_by: Some(admin.user.id),
        max_uses: request.max_uses,
        expires_at: unix_now() + request.valid_days * 86_400,
        grants_admin: request.admin,
        group_ids: request.group_ids.clone(),
        note: request.note.trim().to_owned(),
    };
    let (id, token) = state.store.create_invitation(&new).await?;
    let entry = Entry::new(Event::InvitationCreated, origin)
        .actor(admin.user.id)
        .detail(format!(
            "invitation {id}: {} uses, {} days{}",
            request.max_uses,
            request.valid_days,
            if request.admin { ", admin" } else { "" }
        ));
    audit::record(state, entry).await;
    invitation_link(state, &token)
}

/// The link and QR code of invitation `token`.
pub fn invitation_link(state: &AppState, token: &str) -> Result<InvitationLink, AppError> {
    let origin = state
        .allowed_origins
        .first()
        .ok_or_else(|| AppError::Internal("no public origin".into()))?;
    let url = invitation_url(origin, token);
    Ok(InvitationLink {
        qr_svg: qr_svg(&url)?,
        url,
    })
}

/// The link of invitation `token` on the site at `origin`.
pub fn invitation_url(origin: &str, token: &str) -> String {
    format!("{origin}/invite/{token}")
}

/// Makes an invitation from the command line (`scanlogin invite`): how a new deployment
/// gets its first administrator, with no default password anywhere. Returns its link.
pub async fn invite_from_command_line(
    config: &super::Config,
    store: &super::store::Store,
    admin: bool,
    max_uses: i64,
    valid_days: i64,
) -> Result<String, AppError> {
    if !(1..=MAX_USES).contains(&max_uses) || !(1..=MAX_VALID_DAYS).contains(&valid_days) {
        return Err(AppError::Malformed(format!(
            "--uses is 1 to {MAX_USES}, --days 1 to {MAX_VALID_DAYS}"
        )));
    }
    let new = NewInvitation {
        created_by: None,
        max_uses,
        expires_at: unix_now() + valid_days * 86_400,
        grants_admin: admin,
        group_ids: Vec::new(),
        note: "scanlogin invite".to_owned(),
    };
    let (id, token) = store.create_invitation(&new).await?;
    let row = AuditRow {
        at: unix_now(),
        event: Event::InvitationCreated.as_str().to_owned(),
        result: "ok".to_owned(),
        detail: format!(
            "invitation {id} from the command line{}",
            if admin { ", admin" } else { "" }
        ),
        ..AuditRow::default()
    };
    store.append_audit(&[row]).await?;
    let origin = config
        .public_origin
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.leptos.site_addr));
    Ok(invitation_url(&origin, &token))
}

/// `text` as an SVG QR code, one path of dark modules.
fn qr_svg(text: &str) -> Result<String, AppError> {
    use qrcodegen::{QrCode, QrCodeEcc};
    let code = QrCode::encode_text(text, QrCodeEcc::Medium)
        .map_err(|_| AppError::Internal("invitation link too long for a QR code".into()))?;
    let size = code.size();
    let border = 4;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if code.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let full = size + 2 * border;
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {full} {full}\" role=\"img\" aria-label=\"QR\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

/// The audit trail as `query` filters it.
pub async fn audit_entries(
    state: &AppState,
    query: &AuditQuery,
    limit: i64,
) -> Result<Vec<AuditEntry>, AppError> {
    state.audit.flush().await;
    let filter = AuditFilter {
        user_id: query.user.trim().parse().ok(),
        event: Some(query.event.trim().to_owned()).filter(|e| !e.is_empty()),
        since: query
            .days
            .trim()
            .parse::<i64>()
            .ok()
            .map(|days| unix_now() - days * 86_400),
    };
    let offset = (query.page.max(1) - 1) * limit;
    Ok(state
        .store
        .audit(&filter, limit, offset)
        .await?
        .into_iter()
        .map(|row| audit::shown(row, &state.config.places))
        .collect())
}

/// The most entries one export holds.
const EXPORT_MAX: i64 = 100_000;

/// The audit trail as CSV (a sensitive action: a fresh login, and recorded).
pub async fn audit_csv(
    state: &AppState,
    admin: &Admin,
    origin: &Origin,
    query: &AuditQuery,
) -> Result<String, AppError> {
    admin.step_up()?;
    let entries = audit_entries(state, query, EXPORT_MAX).await?;
    audit::record(
        state,
        Entry::new(Event::AuditExported, origin)
            .actor(admin.user.id)
            .detail(format!("{} entries", entries.len())),
    )
    .await;
    let mut out = String::from(
        "id,time,event,result,actor_id,user_id,subject,client_id,ip,user_agent,request_id,detail\r\n",
    );
    for e in entries {
        let fields = [
            e.id.to_string(),
            e.at,
            e.event,
            e.result,
            e.actor_id.map(|id| id.to_string()).unwrap_or_default(),
            e.user_id.map(|id| id.to_string()).unwrap_or_default(),
            e.subject,
            e.client_id,
            e.ip,
            e.user_agent,
            e.request_id,
            e.detail,
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    Ok(out)
}

/// A CSV field (RFC 4180), made harmless for spreadsheets: text that a spreadsheet would
/// run as a formula (`=`, `+`, `-`, `@`, a tab or a carriage return first: OWASP's CSV
/// injection) gets a `'` in front.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// Does `action` as `admin`, and records it.
pub async fn act(
    state: &AppState,
    admin: &Admin,
    origin: &Origin,
    action: &AdminAction,
) -> Result<(), AppError> {
    let store = &state.store;
    let record = |event: Event, user_id: Option<i64>, detail: String| {
        let mut entry = Entry::new(event, origin)
            .actor(admin.user.id)
            .detail(detail);
        if let Some(user_id) = user_id {
            entry = entry.user(user_id);
        }
        audit::record(state, entry)
    };
    match action {
        AdminAction::DisableUser { user_id } => {
            admin.step_up()?;
            keep_an_admin(state, *user_id).await?;
            let ended = store
                .set_disabled(*user_id, true)
                .await?
                .ok_or(AppError::NotFound)?;
            state.session_cache.forget_user(*user_id).await;
            for hash in &ended {
                session::tell_applications(state, &session::sid_of_hash(hash)).await;
            }
            let detail = format!("{} sessions ended", ended.len());
            record(Event::UserDisabled, Some(*user_id), detail).await;
        }
        AdminAction::EnableUser { user_id } => {
            store
                .set_disabled(*user_id, false)
                .await?
                .ok_or(AppError::NotFound)?;
            record(Event::UserEnabled, Some(*user_id), String::new()).await;
        }
        AdminAction::SetAdmin {
            user_id,
            admin: true,
        } => {
            admin.step_up()?;
            if !store.set_role(*user_id, true).await? {
                return Err(AppError::NotFound);
            }
            record(Event::AdminGranted, Some(*user_id), String::new()).await;
        }
        AdminAction::SetAdmin {
            user_id,
            admin: false,
        } => {
            keep_an_admin(state, *user_id).await?;
            if !store.set_role(*user_id, false).await? {
                return Err(AppError::NotFound);
            }
            record(Event::AdminRevoked, Some(*user_id), String::new()).await;
        }
        AdminAction::RevokeSession {
            user_id,
            session: sid,
        } => {
            session::end_sessions(state, *user_id, Ending::One(sid)).await?;
            record(
                Event::SessionRevoked,
                Some(*user_id),
                format!("session {sid}"),
            )
            .await;
        }
        AdminAction::RevokeAllSessions { user_id } => {
            admin.step_up()?;
            let ended = session::end_sessions(state, *user_id, Ending::All).await?;
            record(
                Event::SessionRevoked,
                Some(*user_id),
                format!("all {ended} sessions"),
            )
            .await;
        }
        AdminAction::CreateGroup { name } => {
            let name = group_name(name)?;
            let id = store
                .create_group(name)
                .await?
                .ok_or(AppError::Conflict("a group of that name exists"))?;
            record(Event::GroupCreated, None, format!("group {id}: {name}")).await;
        }
        AdminAction::RenameGroup { group_id, name } => {
            let name = group_name(name)?;
            if !store.rename_group(*group_id, name).await? {
                return Err(AppError::Conflict(
                    "no such group, or a group of that name exists",
                ));
            }
            state.session_cache.forget_all().await;
            record(
                Event::GroupRenamed,
                None,
                format!("group {group_id}: {name}"),
            )
            .await;
        }
        AdminAction::DeleteGroup { group_id } => {
            if !store.delete_group(*group_id).await? {
                return Err(AppError::NotFound);
            }
            state.session_cache.forget_all().await;
            record(Event::GroupDeleted, None, format!("group {group_id}")).await;
        }
        AdminAction::SetMember {
            group_id,
            user_id,
            member,
        } => {
            store.set_member(*group_id, *user_id, *member).await?;
            state.session_cache.forget_user(*user_id).await;
            let event = if *member {
                Event::GroupMemberAdded
            } else {
                Event::GroupMemberRemoved
            };
            record(event, Some(*user_id), format!("group {group_id}")).await;
        }
        AdminAction::RevokeInvitation { invitation_id } => {
            if !store.revoke_invitation(*invitation_id).await? {
                return Err(AppError::NotFound);
            }
            let detail = format!("invitation {invitation_id}");
            record(Event::InvitationRevoked, None, detail).await;
        }
    }
    Ok(())
}

/// Refuses to take the last enabled administrator's role or access away.
async fn keep_an_admin(state: &AppState, user_id: i64) -> Result<(), AppError> {
    if state.store.is_admin(user_id).await? && state.store.other_admins(user_id).await? == 0 {
        return Err(AppError::Conflict(
            "this is the last administrator: make another one first",
        ));
    }
    Ok(())
}

fn group_name(name: &str) -> Result<&str, AppError> {
    if !is_group_name(name) {
        return Err(AppError::Malformed(
            "a group's name is 1 to 40 characters, none of them a comma or a control character"
                .into(),
        ));
    }
    Ok(name.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
    }

    #[test]
    fn group_names_are_short_visible_text() {
        assert!(is_group_name("运维 ops"));
        assert!(!is_group_name("  "));
        assert!(!is_group_name("a\nb"));
        assert!(!is_group_name("staff,admin"));
        assert!(!is_group_name(&"x".repeat(41)));
    }
}
