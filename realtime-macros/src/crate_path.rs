//! The path generated code names the runtime crate by: `::axum_realtime` unless `crate = path`
//! says otherwise (for a renamed dependency).

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::Path;

/// Where the runtime crate is, as tokens to put in front of `::Item`.
pub(crate) fn crate_path(custom: Option<&Path>) -> TokenStream {
    custom.map_or_else(|| quote!(::axum_realtime), ToTokens::to_token_stream)
}

/// `tokens` (a path into the runtime crate) with every token at `span`: a call through it is
/// then underlined at the user's code as a whole, not at the attribute.
pub(crate) fn respan(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner = Group::new(group.delimiter(), respan(&group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}
