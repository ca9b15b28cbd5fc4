//! HTTP clients for the server's calls out: WeChat's API, and the OpenID provider's
//! back-channel logouts to relying parties.
//!
//! A client whose calls all go to `http://` addresses (demo mode's simulator, relying
//! parties on a private network) carries no CA certificates. So the server starts on a
//! machine that has no CA bundle, such as a `FROM scratch` image. A client that calls
//! `https://` loads the machine's certificates, and says where it looked when there are
//! none.

use std::error::Error as _;

/// The machine's CA certificates could not be loaded for https calls.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot load this machine's CA certificates for https calls ({looked}): {cause}. \
     Install a CA bundle (Debian's ca-certificates), or set SSL_CERT_FILE to one"
)]
pub struct NoCertificates {
    looked: String,
    cause: String,
}

/// `builder` built; with CA certificates only if `https`.
pub fn client(
    builder: reqwest::ClientBuilder,
    https: bool,
) -> Result<reqwest::Client, NoCertificates> {
    // reqwest is built without a default TLS provider; ring is ours. Installing twice is
    // harmless (the first one stays).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = if https {
        builder
    } else {
        builder.tls_certs_only([])
    };
    builder.build().map_err(|err| {
        let err = err.without_url();
        let mut cause = err.to_string();
        let mut source = err.source();
        while let Some(inner) = source {
            cause.push_str(": ");
            cause.push_str(&inner.to_string());
            source = inner.source();
        }
        NoCertificates {
            looked: looked(),
            cause,
        }
    })
}

/// Where the certificates were looked for: `SSL_CERT_FILE` and `SSL_CERT_DIR` when set,
/// else the system's usual places.
fn looked() -> String {
    let set: Vec<String> = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .into_iter()
        .filter_map(|name| std::env::var(name).ok().map(|v| format!("{name}={v}")))
        .collect();
    if set.is_empty() {
        "the system's store: /etc/ssl/certs/ca-certificates.crt on Debian".to_owned()
    } else {
        set.join(", ")
    }
}
