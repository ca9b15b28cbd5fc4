//! The admin console's server functions: every one checks, on the server, that the
//! request's session is an administrator's (`server::admin::require`), and the
//! sensitive ones that its login is fresh.

use leptos::prelude::*;

use super::ApiError;
use crate::protocol::{
    AdminAction, AuditEntry, AuditQuery, GroupSummary, InvitationLink, InvitationRequest,
    InvitationSummary, UserDetail, UserList, UserQuery,
};

/// Runs an admin server function's body as the request's administrator.
#[cfg(feature = "ssr")]
async fn as_admin<T, F, Fut>(body: F) -> Result<T, ApiError>
where
    F: FnOnce(
        crate::server::AppState,
        crate::server::admin::Admin,
        crate::server::audit::Origin,
    ) -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::server::error::AppError>>,
{
    super::run(|state| async move {
        let (headers, client) = crate::server::context::request(&state).await?;
        let admin = crate::server::admin::require(&state, &headers).await?;
        let origin = crate::server::audit::Origin::of(&headers, client);
        body(state, admin, origin).await
    })
    .await
}

/// `POST /api/admin/users {"query":{"search","group","state","page"}}`.
#[server(prefix = "/api/admin", endpoint = "users", input = server_fn::codec::Json)]
pub async fn admin_users(query: UserQuery) -> Result<UserList, ApiError> {
    as_admin(|state, _, _| async move { crate::server::admin::users(&state, &query).await }).await
}

/// `POST /api/admin/user {"id"}`: a user's groups, sessions, grants and recent entries.
#[server(prefix = "/api/admin", endpoint = "user", input = server_fn::codec::Json)]
pub async fn admin_user(id: i64) -> Result<UserDetail, ApiError> {
    as_admin(|state, admin, _| async move { crate::server::admin::user(&state, &admin, id).await })
        .await
}

/// `POST /api/admin/groups {}`.
#[server(prefix = "/api/admin", endpoint = "groups", input = server_fn::codec::Json)]
pub async fn admin_groups() -> Result<Vec<GroupSummary>, ApiError> {
    as_admin(|state, _, _| async move { crate::server::admin::groups(&state).await }).await
}

/// `POST /api/admin/invitations {}`.
#[server(prefix = "/api/admin", endpoint = "invitations", input = server_fn::codec::Json)]
pub async fn admin_invitations() -> Result<Vec<InvitationSummary>, ApiError> {
    as_admin(|state, _, _| async move { crate::server::admin::invitations(&state).await }).await
}

/// `POST /api/admin/invite {"request":{...}}`: a new invitation's link, shown once.
#[server(prefix = "/api/admin", endpoint = "invite", input = server_fn::codec::Json)]
pub async fn admin_invite(request: InvitationRequest) -> Result<InvitationLink, ApiError> {
    as_admin(|state, admin, origin| async move {
        crate::server::admin::create_invitation(&state, &admin, &origin, &request).await
    })
    .await
}

/// `POST /api/admin/new_invitation {}`: the invitation the console's form just made, once
/// (its token comes in a cookie the form's answer set; this answer clears it).
#[server(prefix = "/api/admin", endpoint = "new_invitation", input = server_fn::codec::Json)]
pub async fn admin_new_invitation() -> Result<Option<InvitationLink>, ApiError> {
    as_admin(|state, _, _| async move {
        let (headers, _) = crate::server::context::request(&state).await?;
        let link = crate::server::admin::new_invitation(&state, &headers);
        if link.is_some() {
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                let cleared = format!(
                    "{}=; Path=/admin/invitations; Max-Age=0; HttpOnly; SameSite=Strict",
                    crate::server::admin::NEW_INVITATION_COOKIE
                );
                if let Ok(value) = axum::http::HeaderValue::from_str(&cleared) {
                    response.append_header(axum::http::header::SET_COOKIE, value);
                }
            }
        }
        Ok(link)
    })
    .await
}

/// `POST /api/admin/audit {"query":{"user","event","days","page"}}`.
#[server(prefix = "/api/admin", endpoint = "audit", input = server_fn::codec::Json)]
pub async fn admin_audit(query: AuditQuery) -> Result<Vec<AuditEntry>, ApiError> {
    as_admin(|state, _, _| async move {
        crate::server::admin::audit_entries(&state, &query, crate::protocol::AUDIT_PAGE).await
    })
    .await
}

/// `POST /api/admin/act {"action":{"action":"disable_user","user_id":7}}`: every change
/// the console makes.
#[server(prefix = "/api/admin", endpoint = "act", input = server_fn::codec::Json)]
pub async fn admin_act(action: AdminAction) -> Result<(), ApiError> {
    as_admin(|state, admin, origin| async move {
        crate::server::admin::act(&state, &admin, &origin, &action).await
    })
    .await
}
