//! A scene's status over plain HTTP: what the socket would push, for a browser whose
//! socket cannot connect (a proxy that blocks WebSockets: it long-polls) or was asleep
//! (a phone's browser back from WeChat: it catches up at once).

use super::{context::AppState, error::AppError};
use crate::protocol::{BrowserKey, KnownState, PushEvent, SceneId, SceneStatusAnswer};

/// The scene's latest event; with `wait`, the first one newer than `known`, or after
/// `SCANLOGIN_POLL_WAIT_SECS` the latest as it is. A scene that ends while waited on is
/// `expired`. The wait holds one of the scene's socket places, as a socket does.
pub async fn scene_status(
    state: &AppState,
    scene: &SceneId,
    key: &BrowserKey,
    known: KnownState,
    wait: bool,
) -> Result<SceneStatusAnswer, AppError> {
    let mut subscription = state.registry.subscribe(scene, key).await?;
    let events = &mut subscription.events;
    if !wait {
        return Ok(SceneStatusAnswer {
            event: events.borrow().clone(),
        });
    }
    let newer = |event: &Option<PushEvent>| !known.is(event.as_ref());
    let waited = tokio::time::timeout(state.config.login_page.poll_wait, events.wait_for(newer))
        .await
        .map(|found| found.map(|event| event.clone()));
    let event = match waited {
        Ok(Ok(event)) => event,
        // The registry forgot the scene (it expired) while we waited.
        Ok(Err(_closed)) => Some(PushEvent::Expired),
        Err(_timeout) => events.borrow().clone(),
    };
    Ok(SceneStatusAnswer { event })
}
