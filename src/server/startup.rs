//! Builds the axum router and binds the listener. `main` and the integration tests
//! both start the server through [`Application`], so tests exercise the real app.

use std::{net::SocketAddr, sync::Arc};

use axum::{extract::FromRef, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::net::TcpListener;

use super::Config;
use crate::app::{shell, App};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    /// Makes the server state available to server functions and components.
    fn provide(&self) {
        provide_context(self.config.clone());
    }
}

pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Binds `config.leptos.site_addr` (port 0 picks a free port) and builds the router.
    pub async fn build(config: Config) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.leptos.site_addr).await?;
        let state = AppState {
            leptos_options: config.leptos.clone(),
            config: Arc::new(config),
        };
        Ok(Self {
            listener,
            router: router(state),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has an address")
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

fn router(state: AppState) -> Router {
    register_server_functions();
    let routes = generate_route_list(App);
    let context = {
        let state = state.clone();
        move || state.provide()
    };
    // Also mounts every registered server function at its own path and method.
    Router::new()
        .leptos_routes_with_context(&state, routes, context, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Server functions register themselves through `inventory`, but a linker may drop
/// those registrations when nothing else refers to them (an API only the phone calls,
/// say), so every one is registered by name as well.
fn register_server_functions() {
    use leptos::server_fn::axum::register_explicit;
    register_explicit::<crate::api::CheckServer>();
}
