//! The syntax of `#[channel(...)]` and of the item it is put on.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Item, LitStr, Path, Token};

/// One argument of `#[channel(...)]`.
pub(crate) enum Arg {
    /// The channel name.
    Name(LitStr),
    /// `crate = path`.
    Crate(Token![crate], Path),
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(LitStr) {
            input.parse().map(Arg::Name)
        } else if lookahead.peek(Token![crate]) {
            let key = input.parse()?;
            input.parse::<Token![=]>()?;
            Ok(Arg::Crate(key, input.parse()?))
        } else if input.peek(syn::Ident) {
            let key: syn::Ident = input.parse()?;
            Err(syn::Error::new(
                key.span(),
                format!(
                    "unknown argument `{key}`; `#[channel]` takes the channel name \
                     (`#[channel(\"chat\")]`) and `crate = path`"
                ),
            ))
        } else {
            Err(lookahead.error())
        }
    }
}

pub(crate) struct ChannelInput {
    pub(crate) args: Vec<Arg>,
    /// Where to point errors about the arguments as a whole (a missing name).
    pub(crate) args_span: Span,
    pub(crate) item: Item,
}

pub(crate) fn parse(args: TokenStream, item: TokenStream) -> syn::Result<ChannelInput> {
    let args_span = args
        .clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |token| token.span());
    let args = syn::parse::Parser::parse2(Punctuated::<Arg, Token![,]>::parse_terminated, args)?;
    let item = syn::parse2(item)?;
    Ok(ChannelInput {
        args: args.into_iter().collect(),
        args_span,
        item,
    })
}
