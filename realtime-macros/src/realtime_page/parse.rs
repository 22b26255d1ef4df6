//! The syntax of `#[realtime_page(...)]` and of the handler it is put on.

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, ItemFn, Path, Token};

syn::custom_keyword!(filter);

/// One argument of `#[realtime_page(...)]`.
pub(crate) enum Arg {
    /// `filter = expr`: who receives the broadcast.
    Filter(filter, Box<Expr>),
    /// `crate = path`.
    Crate(Token![crate], Path),
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(filter) {
            let key = input.parse()?;
            input.parse::<Token![=]>()?;
            Ok(Arg::Filter(key, Box::new(input.parse()?)))
        } else if lookahead.peek(Token![crate]) {
            let key = input.parse()?;
            input.parse::<Token![=]>()?;
            Ok(Arg::Crate(key, input.parse()?))
        } else if input.peek(Ident) {
            let key: Ident = input.parse()?;
            Err(syn::Error::new(
                key.span(),
                format!(
                    "unknown argument `{key}`; `#[realtime_page]` takes `filter = ...` and `crate = path`"
                ),
            ))
        } else {
            Err(lookahead.error())
        }
    }
}

pub(crate) struct PageInput {
    pub(crate) args: Vec<Arg>,
    pub(crate) handler: ItemFn,
}

pub(crate) fn parse(args: TokenStream, item: TokenStream) -> syn::Result<PageInput> {
    let args = syn::parse::Parser::parse2(Punctuated::<Arg, Token![,]>::parse_terminated, args)?;
    let handler = syn::parse2(item)?;
    Ok(PageInput {
        args: args.into_iter().collect(),
        handler,
    })
}
