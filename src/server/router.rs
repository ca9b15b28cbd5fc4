//! The router: every route of the server (pages, server functions, the login socket,
//! health, the OpenID provider, avatars, demo mode's simulator) and the layers around
//! them, in the order a request meets them.

use axum::{
    extract::DefaultBodyLimit,
    middleware,
    routing::{get, post},
    Router,
};
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::{
    limit::RequestBodyLimitLayer, set_header::SetResponseHeaderLayer, trace::TraceLayer,
};

use super::{context::AppState, error, guard, session, socket, wechat::simulator::Simulator};
use crate::{
    app::{shell, App},
    protocol::{ACCOUNT_DATA_PATH, ACCOUNT_FORM_PATH},
};

/// Every route of the server, with its layers, over `state`.
pub fn router(state: AppState, simulator: Option<Simulator>) -> Router {
    register_server_functions();
    let routes = generate_route_list(App);
    let context = {
        let state = state.clone();
        move || state.provide()
    };
    let mut router = Router::<AppState>::new();
    if let Some(simulator) = simulator {
        // Demo mode only: with real credentials neither the simulator nor its
        // control surface exists.
        router = router.nest("/__wechat", simulator.router());
    }
    // Also mounts every registered server function at its own path and method.
    let mut router = router
        .route(socket::PATH, get(socket::handler))
        .route("/healthz", get(super::health::healthz))
        .route("/readyz", get(super::health::readyz))
        .route(
            super::admin::CSV_PATH,
            get(super::admin::audit_csv_download),
        )
        .route(super::admin::FORM_PATH, post(super::admin::form_post))
        .route(ACCOUNT_FORM_PATH, post(super::account::form_post))
        .route(ACCOUNT_DATA_PATH, get(super::account::data_download))
        .route(
            super::forward_auth::VERIFY_PATH,
            axum::routing::any(super::forward_auth::verify),
        )
        .route(
            super::forward_auth::CONTINUE_PATH,
            get(super::forward_auth::continue_to),
        )
        .route(
            super::forward_auth::LOGOUT_PATH,
            get(super::forward_auth::logout_page).post(super::forward_auth::logout),
        )
        .route(
            super::message_push::PATH,
            get(super::message_push::verify_url).post(super::message_push::receive),
        )
        .merge(match &state.config.oidc {
            Some(provider) => super::oidc::router(provider),
            None => Router::new(),
        })
        .leptos_routes_with_context(&state, routes, context, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        // Innermost first: each layer wraps the ones above it.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::login_redirect,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::send_to_login,
        ))
        .layer(RequestBodyLimitLayer::new(
            state.config.limits.max_body_bytes,
        ))
        // Avatars: an upload has a body limit of its own (see `avatar.rs`), so it joins
        // after the API's limit, and the images are served from here.
        .merge(
            Router::new()
                .route(super::avatar::UPLOAD_PATH, post(super::avatar::upload))
                .layer(DefaultBodyLimit::max(super::avatar::MAX_UPLOAD_BYTES))
                .layer(RequestBodyLimitLayer::new(super::avatar::MAX_UPLOAD_BYTES))
                .route("/avatars/{id}", get(super::avatar::serve)),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::check_origin,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::keep_automatic_demo_local,
        ))
        .layer(middleware::from_fn(error::envelopes))
        .layer(middleware::from_fn(super::metrics::request_latency))
        .layer(middleware::from_fn(guard::no_store));
    for (name, value) in guard::security_headers() {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, value));
    }
    router
        .layer(
            // Paths only: query strings can hold tokens and secrets (the simulator's
            // `access_token=`), and they must not reach the logs.
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<axum::body::Body>| {
                let request_id = req
                    .headers()
                    .get(super::request_id::HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("http", method = %req.method(), path = ?req.uri().path(), request_id)
            })
            .on_failure(error::log_failure),
        )
        // Outermost: every request has its id before anything logs, and so does its answer.
        .layer(tower_http::request_id::PropagateRequestIdLayer::new(
            super::request_id::HEADER,
        ))
        .layer(tower_http::request_id::SetRequestIdLayer::new(
            super::request_id::HEADER,
            super::request_id::MakeId,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::request_id::drop_untrusted,
        ))
        .with_state(state)
}

/// Server functions register themselves through `inventory`, but a linker may drop
/// those registrations when nothing else refers to them (an API only the phone calls,
/// say), so every one is registered by name as well. A unit test checks that this list
/// names every `#[server]` function.
macro_rules! server_functions {
    ($($function:ty),* $(,)?) => {
        fn register_server_functions() {
            $(leptos::server_fn::axum::register_explicit::<$function>();)*
        }

        #[cfg(test)]
        const SERVER_FUNCTION_PATHS: &[&str] =
            &[$(<$function as leptos::server_fn::ServerFn>::PATH),*];
    };
}

server_functions!(
    crate::api::qr_image::GetWxacode,
    crate::api::mp::MpScan,
    crate::api::mp::MpConfirm,
    crate::api::mp::MpCancel,
    crate::api::mp::MpAccount,
    crate::api::mp::MpLogoutEverywhere,
    crate::api::mp::MpEndSession,
    crate::api::mp::MpDeleteAccount,
    crate::api::session::CreateSession,
    crate::api::session::GetMe,
    crate::api::session::Logout,
    crate::api::demo::DemoLoginCode,
    crate::api::demo::DemoAcceptMessage,
    crate::api::demo::DemoMessages,
    crate::api::scene::SceneStatus,
    crate::api::scene::OpenLink,
    crate::api::admin::AdminUsers,
    crate::api::admin::AdminUser,
    crate::api::admin::AdminGroups,
    crate::api::admin::AdminInvitations,
    crate::api::admin::AdminInvite,
    crate::api::admin::AdminAudit,
    crate::api::admin::AdminAct,
    crate::api::admin::AdminNewInvitation,
    crate::api::account::GetAccount,
);

#[cfg(test)]
mod tests {
    #[test]
    fn every_server_function_is_registered_by_name() {
        let mut found: Vec<&str> = leptos::server_fn::axum::server_fn_paths()
            .map(|(path, _)| path)
            .collect();
        found.sort_unstable();
        let mut listed = super::SERVER_FUNCTION_PATHS.to_vec();
        listed.sort_unstable();
        assert!(!found.is_empty());
        assert_eq!(
            listed, found,
            "the list in router.rs and the #[server] functions"
        );
    }
}
