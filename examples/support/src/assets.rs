//! htmx and the PocketBase JS SDK, installed from npm at build time (see `build.rs`) and
//! embedded, so a running example needs no network.

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::routing::get;

/// htmx 2, minified (npm `htmx.org`).
pub const HTMX_JS: &str = include_str!(concat!(
    env!("OUT_DIR"),
    "/npm/node_modules/htmx.org/dist/htmx.min.js"
));

/// The PocketBase JS SDK as a browser script defining `PocketBase` (npm `pocketbase`).
pub const POCKETBASE_JS: &str = include_str!(concat!(
    env!("OUT_DIR"),
    "/npm/node_modules/pocketbase/dist/pocketbase.umd.js"
));

/// Where [`routes`] serves htmx.
pub const HTMX_PATH: &str = "/assets/htmx.min.js";

/// Where [`routes`] serves the PocketBase SDK.
pub const POCKETBASE_PATH: &str = "/assets/pocketbase.umd.js";

/// Serves both libraries.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let script = |body: &'static str| {
        get(move || async move {
            (
                [
                    (CONTENT_TYPE, "text/javascript; charset=utf-8"),
                    (CACHE_CONTROL, "max-age=3600"),
                ],
                body,
            )
        })
    };
    Router::new()
        .route(HTMX_PATH, script(HTMX_JS))
        .route(POCKETBASE_PATH, script(POCKETBASE_JS))
}
