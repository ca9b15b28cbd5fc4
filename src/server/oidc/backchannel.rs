//! Back-channel logout 1.0: when a login session ends (the person logs out here, or an
//! application sends them through RP-initiated logout), every client the session logged
//! in to that registered a `backchannel_logout_uri` is sent a signed logout token naming
//! the session (`sid`) and the person (`sub`), server to server, so that it ends its own
//! session for them, even for a browser that never goes back to it.
//!
//! Nothing waits for the clients: ending a session only writes its deliveries down (a row
//! per client, in the database, so that any instance sends them and a restart loses none)
//! and wakes this instance's [`LogoutSender`]. The sender posts each; a 4xx other than
//! 408 and 429 is the client's final answer (§2.8), and a delivery that fails otherwise
//! (no 2xx within 5 s, or it could not be signed) is tried again after the retry delay
//! (`SCANLOGIN_OIDC_LOGOUT_RETRY_SECS`, 10 s), doubling up to an hour, [`MAX_ATTEMPTS`]
//! times in all (about 15 hours with the default delay). A logout token lives two
//! minutes, so each attempt is signed anew, with the same `jti`.

use std::{sync::Arc, time::Duration};

use serde::Serialize;

use super::{keys, Provider};
use crate::server::{
    context::AppState,
    error::AppError,
    store::{
        oidc::{LoggedOut, LogoutDelivery},
        unix_now, Store,
    },
};

/// Attempts before a delivery is given up (and logged).
pub const MAX_ATTEMPTS: i64 = 24;
/// The longest wait between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(3600);
/// How long a client has to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a delivery being sent is left to the instance sending it (another takes it
/// over if that instance stops meanwhile).
const LEASE: Duration = Duration::from_secs(30);
/// Deliveries sent at once, at most.
const BATCH: i64 = 32;
/// What a logout token's `events` claim must hold (Back-Channel Logout 1.0 §2.4).
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Sends this instance's share of the deliveries (see the module's documentation).
#[derive(Debug)]
pub struct LogoutSender {
    wake: tokio::sync::Notify,
    http: reqwest::Client,
    retry: Duration,
}

impl LogoutSender {
    /// `https`: some relying party's back-channel logout address is https.
    pub fn new(
        retry: Duration,
        https: bool,
    ) -> Result<Self, crate::server::outbound::NoCertificates> {
        let builder = reqwest::Client::builder()
            .timeout(ANSWER_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        let http = crate::server::outbound::client(builder, https)?;
        Ok(Self {
            wake: tokio::sync::Notify::new(),
            http,
            retry,
        })
    }
}

/// The wait before attempt `attempts + 1`: `retry`, doubled for each attempt made after
/// the first, up to an hour.
fn delay_after(retry: Duration, attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
    retry
        .checked_mul(2u32.saturating_pow(doublings.min(16)))
        .map_or(MAX_DELAY, |d| d.min(MAX_DELAY))
}

/// The login session `sid` ended: its clients that take back-channel logout are to be
/// told, soon, by whichever instance gets to it first.
pub async fn session_ended(state: &AppState, sid: &str) -> Result<(), AppError> {
    logged_out(state, LoggedOut::Session(sid)).await
}

/// Writes down a logout token for each application `ended` logged in to that takes them,
/// and wakes the sender.
pub async fn logged_out(state: &AppState, ended: LoggedOut<'_>) -> Result<(), AppError> {
    let Some(p) = &state.config.oidc else {
        return Ok(());
    };
    let takes_them = |client_id: &str| {
        p.clients
            .get(client_id)
            .is_some_and(|c| c.backchannel_logout_uri.is_some())
            .then(crate::server::secret::token)
    };
    if state
        .store
        .record_logouts(ended, takes_them, unix_now())
        .await?
        > 0
    {
        state.logout_sender.wake.notify_one();
    }
    Ok(())
}

/// Sends due deliveries, when woken and every few seconds (for retries, and for what other
/// instances wrote down and could not send), until the server stops.
pub async fn run(state: AppState) {
    let Some(p) = state.config.oidc.clone() else {
        return;
    };
    let sender = state.logout_sender.clone();
    let poll = sender.retry.min(Duration::from_secs(5));
    loop {
        if let Err(err) = send_due(&state.store, &p, &sender).await {
            tracing::warn!(%err, "sending back-channel logouts failed; trying again soon");
        }
        tokio::select! {
            () = sender.wake.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}

async fn send_due(store: &Store, p: &Provider, sender: &Arc<LogoutSender>) -> Result<(), AppError> {
    loop {
        let now = unix_now();
        let due = store.due_logout_deliveries(now, BATCH).await?;
        if due.is_empty() {
            return Ok(());
        }
        let mut claimed = Vec::new();
        for delivery in due {
            if store
                .claim_logout_delivery(&delivery, now + LEASE.as_secs() as i64)
                .await?
            {
                claimed.push(delivery);
            }
        }
        let attempts = claimed.into_iter().map(|d| attempt(store, p, sender, d));
        for result in futures::future::join_all(attempts).await {
            result?;
        }
    }
}

/// How an attempt went.
enum Outcome {
    Delivered,
    /// A 4xx other than 408 and 429: the client will not take it.
    Refused(u16),
    /// To be tried again: why.
    Failed(String),
}

/// Posts `token` to a client's back-channel logout URI.
async fn post(sender: &LogoutSender, uri: &str, token: &str) -> Outcome {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", token)
        .finish();
    let answer = sender
        .http
        .post(uri)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await;
    match answer {
        Ok(answer) if answer.status().is_success() => Outcome::Delivered,
        Ok(answer) => {
            let status = answer.status().as_u16();
            if answer.status().is_client_error() && !matches!(status, 408 | 429) {
                Outcome::Refused(status)
            } else {
                Outcome::Failed(format!("answered {status}"))
            }
        }
        Err(err) if err.is_timeout() => Outcome::Failed("did not answer in time".to_owned()),
        Err(_) => Outcome::Failed("could not be reached".to_owned()),
    }
}

/// One attempt at one delivery, and what it leaves: nothing when done or given up, else
/// the next attempt's time.
async fn attempt(
    store: &Store,
    p: &Provider,
    sender: &LogoutSender,
    delivery: LogoutDelivery,
) -> Result<(), AppError> {
    let Some(uri) = p
        .clients
        .get(&delivery.client_id)
        .and_then(|c| c.backchannel_logout_uri.clone())
    else {
        // The client was removed, or stopped taking them, since.
        return store.delete_logout_delivery(delivery.id).await;
    };
    let outcome = match logout_token(store, p, &delivery).await {
        Ok(token) => post(sender, &uri, &token).await,
        Err(err) => Outcome::Failed(format!("could not be sent a signed token ({err})")),
    };
    let failure = match outcome {
        Outcome::Delivered => {
            tracing::info!(client_id = %delivery.client_id, "back-channel logout delivered");
            return store.delete_logout_delivery(delivery.id).await;
        }
        Outcome::Refused(status) => {
            // The client's final answer (Back-Channel Logout §2.8): not tried again.
            tracing::warn!(
                client_id = %delivery.client_id,
                status,
                "a back-channel logout was refused by the client"
            );
            return store.delete_logout_delivery(delivery.id).await;
        }
        Outcome::Failed(failure) => failure,
    };
    let attempts = delivery.attempts + 1;
    if attempts >= MAX_ATTEMPTS {
        tracing::warn!(
            client_id = %delivery.client_id,
            attempts,
            "a back-channel logout was given up: the client {failure}"
        );
        return store.delete_logout_delivery(delivery.id).await;
    }
    tracing::info!(
        client_id = %delivery.client_id,
        attempts,
        "a back-channel logout will be tried again: the client {failure}"
    );
    let next = unix_now() + delay_after(sender.retry, attempts).as_secs() as i64;
    store
        .retry_logout_delivery(delivery.id, attempts, next)
        .await
}

#[derive(Serialize)]
struct LogoutTokenClaims<'a> {
    iss: &'a str,
    sub: String,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
    sid: &'a str,
    events: serde_json::Value,
}

/// The signed logout token of a delivery (Back-Channel Logout 1.0 §2.4), good for two
/// minutes from now.
async fn logout_token(
    store: &Store,
    p: &Provider,
    delivery: &LogoutDelivery,
) -> Result<String, AppError> {
    let now = unix_now();
    let claims = LogoutTokenClaims {
        iss: &p.issuer,
        sub: delivery.user_id.to_string(),
        aud: &delivery.client_id,
        iat: now,
        exp: now + 120,
        jti: &delivery.jti,
        sid: &delivery.sid,
        events: serde_json::json!({ LOGOUT_EVENT: {} }),
    };
    let key = keys::active(store).await?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(key.kid);
    header.typ = Some("logout+jwt".to_owned());
    jsonwebtoken::encode(&header, &claims, &key.key)
        .map_err(|e| AppError::Internal(format!("signing a logout token: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_the_delay_up_to_an_hour() {
        let retry = Duration::from_secs(10);
        let delays: Vec<u64> = (1..=4).map(|a| delay_after(retry, a).as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 80]);
        assert_eq!(delay_after(retry, 12), MAX_DELAY);
        assert_eq!(delay_after(retry, MAX_ATTEMPTS), MAX_DELAY);
    }
}
