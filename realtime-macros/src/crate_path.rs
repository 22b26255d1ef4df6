//! The path generated code names the runtime crate by: `::axum_realtime` unless `crate = path`
//! says otherwise (for a renamed dependency).

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::Path;

/// Where the runtime crate is, as tokens to put in front of `::Item`.
pub(crate) fn crate_path(custom: Option<&Path>) -> TokenStream {
    custom.map_or_else(|| quote!(::axum_realtime), ToTokens::to_token_stream)
}
