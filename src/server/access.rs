//! Who may log in: the sign-up rule (`SCANLOGIN_SIGNUP`), disabled accounts, invitations,
//! and the groups an OpenID client admits (`allowed_groups`).
//!
//! Decided when the phone scans, before anything is made: the phone and the browser hear
//! a refusal at once, and a refused stranger leaves no user behind. A person disabled
//! between their scan and their confirm still gets no working session: a disabled user's
//! sessions are refused when read (`store/sessions.rs`). An invitation is spent at the
//! confirm, before the user is made (`spend_invitation`), so that two people racing for
//! its last use cannot both get in.

use std::{fmt, str::FromStr};

use super::{
    context::AppState, error::AppError, registry::Admission, store::access::InvitationGrant,
};
use crate::protocol::Refusal;

/// Who may become a user by scanning (`SCANLOGIN_SIGNUP`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Signup {
    /// Anyone with WeChat: a first scan makes a user.
    #[default]
    Open,
    /// Known users, and people with an invitation.
    Invite,
    /// Known users only (and an invitation that makes an administrator: how a closed
    /// deployment gets its first one).
    Closed,
}

impl FromStr for Signup {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(Signup::Open),
            "invite" => Ok(Signup::Invite),
            "closed" => Ok(Signup::Closed),
            _ => Err("use open, invite or closed"),
        }
    }
}

impl fmt::Display for Signup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signup::Open => "open",
            Signup::Invite => "invite",
            Signup::Closed => "closed",
        })
    }
}

/// A WeChat login as the rules see it.
pub struct Login<'a> {
    pub openid: &'a str,
    pub unionid: Option<&'a str>,
}

/// Whether `login` may log in through a scene with `admission`: `Ok` with the invitation
/// the login will spend (if it came with one), or the refusal.
pub async fn decide(
    state: &AppState,
    login: &Login<'_>,
    admission: &Admission,
) -> Result<Option<InvitationGrant>, AppError> {
    let store = &state.store;
    let standing = store
        .standing(state.wechat.appid(), login.openid, login.unionid)
        .await?;
    let invitation = match admission.invitation {
        Some(id) => Some(
            store
                .usable_invitation(id)
                .await?
                .ok_or(AppError::Refused(Refusal::InvitationInvalid))?,
        ),
        None => None,
    };
    match (&standing, state.config.signup) {
        (Some(known), _) if known.disabled => return Err(AppError::Refused(Refusal::Disabled)),
        (Some(_), _) | (None, Signup::Open) => {}
        (None, Signup::Invite) if invitation.is_some() => {}
        (None, Signup::Invite) => return Err(AppError::Refused(Refusal::NotInvited)),
        (None, Signup::Closed) if invitation.as_ref().is_some_and(|i| i.grants_admin) => {}
        (None, Signup::Closed) => return Err(AppError::Refused(Refusal::Closed)),
    }
    if let Some(allowed) = allowed_groups(state, admission.client_id.as_deref()) {
        let mut groups = match &standing {
            Some(known) => store.groups_of(known.user_id).await?,
            None => Vec::new(),
        };
        if let Some(invitation) = &invitation {
            groups.extend(invitation.groups.iter().cloned());
        }
        if !groups.iter().any(|g| allowed.contains(g)) {
            return Err(AppError::Refused(Refusal::NotAllowed));
        }
    }
    Ok(invitation)
}

/// The groups OpenID client `client_id` admits, if it names any.
fn allowed_groups<'a>(
    state: &'a AppState,
    client_id: Option<&str>,
) -> Option<&'a std::collections::BTreeSet<String>> {
    let client = state.config.oidc.as_ref()?.clients.get(client_id?)?;
    (!client.allowed_groups.is_empty()).then_some(&client.allowed_groups)
}

/// Whether `user_id` may use OpenID client `client_id` (its `allowed_groups`), for a
/// person already logged in.
pub async fn may_use_client(
    state: &AppState,
    user_id: i64,
    client_id: &str,
) -> Result<bool, AppError> {
    match allowed_groups(state, Some(client_id)) {
        None => Ok(true),
        Some(allowed) => Ok(state
            .store
            .groups_of(user_id)
            .await?
            .iter()
            .any(|g| allowed.contains(g))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signup_rule_reads_its_three_words_only() {
        for rule in [Signup::Open, Signup::Invite, Signup::Closed] {
            assert_eq!(rule.to_string().parse::<Signup>(), Ok(rule));
        }
        assert!("Open".parse::<Signup>().is_err());
        assert!("invited".parse::<Signup>().is_err());
    }
}
