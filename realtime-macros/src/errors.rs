//! How the macros report mistakes: every error at once, and the user's item still emitted.

use proc_macro2::TokenStream;

/// All `errors` as one (rustc shows each at its own span), or `Ok` when there are none.
pub(crate) fn combine(errors: Vec<syn::Error>) -> syn::Result<()> {
    errors
        .into_iter()
        .reduce(|mut all, err| {
            all.combine(err);
            all
        })
        .map_or(Ok(()), Err)
}

/// The expansion, or on error the user's `item` followed by the errors: one mistake then gives
/// one error, not a cascade about a missing item, and rust-analyzer keeps working.
pub(crate) fn or_item(item: TokenStream, expansion: syn::Result<TokenStream>) -> TokenStream {
    expansion.unwrap_or_else(|err| {
        let mut tokens = item;
        tokens.extend(err.into_compile_error());
        tokens
    })
}
