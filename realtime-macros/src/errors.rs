//! How the macros report mistakes: every error at once, and the user's item still emitted.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::Item;

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

/// Both values, or the errors of whichever failed: two independent checks, both reported.
pub(crate) fn both<A, B>(a: syn::Result<A>, b: syn::Result<B>) -> syn::Result<(A, B)> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(mut a), Err(b)) => {
            a.combine(b);
            Err(a)
        }
        (Err(err), Ok(_)) | (Ok(_), Err(err)) => Err(err),
    }
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

/// The item's leading tokens, to underline an item of the wrong kind without its whole body.
pub(crate) fn item_keyword(item: &Item) -> TokenStream {
    match item {
        Item::Fn(item) => item.sig.to_token_stream(),
        Item::Impl(item) => item.impl_token.to_token_stream(),
        Item::Trait(item) => item.ident.to_token_stream(),
        Item::Union(item) => item.union_token.to_token_stream(),
        other => other.to_token_stream(),
    }
}
