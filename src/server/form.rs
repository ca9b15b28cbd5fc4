//! The plain HTML forms of the admin console and the account page. They post
//! `application/x-www-form-urlencoded` to a plain axum handler (not a server function:
//! the answer is a redirect, not JSON), which redirects back to the form's page (post,
//! then redirect): `?error=<code>` when the action was refused, which the page words.
//! They need no WebAssembly. Their pages' downloads are plain handlers too.

use axum::{
    http::{header, HeaderValue},
    response::{IntoResponse, Redirect, Response},
};

use super::error::AppError;

/// A posted form's fields, in order.
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first field `name`, trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
    }

    /// Every field `name` (a form's checkboxes).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The answer to a form posted from the page `back` whose action ended with `done`:
/// back to it; without a session, to the scan login and then back; refused, back with
/// `?error=`.
pub fn answer(done: Result<(), AppError>, back: &str) -> Response {
    match done {
        Ok(()) => Redirect::to(back).into_response(),
        Err(AppError::NotLoggedIn) => {
            let next: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
            Redirect::to(&format!("/login?next={next}")).into_response()
        }
        Err(AppError::NotAdmin) => AppError::NotAdmin.into_response(),
        Err(err) => {
            let code = error_code(&err);
            err.record();
            Redirect::to(&format!("{back}?error={code}")).into_response()
        }
    }
}

/// A refused action's code, as the pages word it.
fn error_code(err: &AppError) -> &'static str {
    match err {
        AppError::StepUpNeeded => "step_up",
        AppError::NotFound => "not_found",
        AppError::Conflict(_) => "conflict",
        AppError::Malformed(_) => "malformed",
        AppError::RateLimited { .. } => "rate_limited",
        _ => "failed",
    }
}

/// A file to download: `body` as `content_type`, saved as `filename`; or the error.
pub fn download(
    file: Result<Vec<u8>, AppError>,
    content_type: &'static str,
    filename: &'static str,
) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    match (file, HeaderValue::from_str(&disposition)) {
        (Ok(body), Ok(disposition)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            body,
        )
            .into_response(),
        (Err(err), _) => err.into_response(),
        (Ok(_), Err(err)) => AppError::Internal(err.to_string()).into_response(),
    }
}
