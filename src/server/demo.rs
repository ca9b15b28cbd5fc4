//! What the `/phone` demo page needs from the server: a `wx.login` code for a demo person,
//! minted by whichever simulator the instance uses: its own (demo mode), or a standalone
//! one (`scanlogin simulator`, which real-WeChat mode with the simulator's demo appid
//! points to, as several local instances do); and, with its own simulator, the person
//! allowing a login notice and the notices that arrived. Like the simulator's control
//! surface, it answers this machine only, unless `SCANLOGIN_DEMO=1`; with real credentials
//! it does not exist.

use super::{
    client::is_loopback,
    config::Mode,
    context::AppState,
    context::Client,
    error::AppError,
    wechat::simulator::{self, DEMO_APPID},
};
use crate::protocol::{LoginCode, PhoneMessage};

/// The demo phone may be served to `client`, for `openid`.
fn check(state: &AppState, client: Client, openid: &str) -> Result<(), AppError> {
    if openid.is_empty() || openid.len() > 64 {
        return Err(AppError::Malformed("openid: 1 to 64 characters".into()));
    }
    let anyone = matches!(state.config.mode, Mode::Demo { forced: true });
    if !anyone && !is_loopback(client.ip) {
        return Err(AppError::Forbidden(
            "the demo phone answers this machine only (SCANLOGIN_DEMO=1 opens it)",
        ));
    }
    Ok(())
}

pub async fn mint_login_code(
    state: &AppState,
    client: Client,
    openid: &str,
) -> Result<LoginCode, AppError> {
    check(state, client, openid)?;
    let code = match &state.simulator {
        Some(own) => own.mint_login_code(openid, None, std::time::Duration::ZERO),
        None if state.wechat.appid() == DEMO_APPID => {
            simulator::mint_remote_login_code(&state.config.wechat.api_base, openid)
                .await
                .map_err(AppError::WeChat)?
        }
        None => return Err(AppError::NoSimulator),
    };
    code.parse()
        .map_err(|_| AppError::Internal("the simulator minted a malformed code".into()))
}

/// The person `openid` allows one message of the login notice's template. Only with the
/// instance's own simulator (demo mode); a standalone one has `/__sim/subscribe`.
pub fn accept_message(state: &AppState, client: Client, openid: &str) -> Result<(), AppError> {
    check(state, client, openid)?;
    let (Some(simulator), Some(template)) = (&state.simulator, state.login_notices.template_id())
    else {
        return Err(AppError::NoSimulator);
    };
    simulator.accept_message(openid, template);
    Ok(())
}

/// The messages that reached `openid`'s phone, newest first (the instance's own simulator).
pub fn arrived_messages(
    state: &AppState,
    client: Client,
    openid: &str,
) -> Result<Vec<PhoneMessage>, AppError> {
    check(state, client, openid)?;
    let simulator = state.simulator.as_ref().ok_or(AppError::NoSimulator)?;
    Ok(simulator
        .arrived_messages(openid)
        .into_iter()
        .map(|m| PhoneMessage {
            fields: m.data.into_iter().collect(),
            page: m.page,
        })
        .collect())
}
