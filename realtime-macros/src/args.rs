//! The arguments of the macros, parsed once into typed fields: `#[channel("name", crate =
//! path)]`, `#[realtime_page(filter = expr, crate = path)]` and `#[filter(crate = path)]`. A
//! key given twice is refused at its second occurrence and parsing goes on, so one build shows
//! every duplicate.

use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::{Error, Expr, Ident, LitInt, LitStr, Path, Token};

syn::custom_keyword!(filter);
syn::custom_keyword!(history);
syn::custom_keyword!(ttl_secs);

/// The macro whose arguments are parsed: what it takes, and how its errors name it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Macro {
    Channel,
    RealtimePage,
    Filter,
}

impl Macro {
    fn takes(self) -> &'static str {
        match self {
            Self::Channel => {
                "`#[channel]` takes the channel name (`#[channel(\"chat\")]`), `history = N`, \
                 `ttl_secs = N` and `crate = path`"
            }
            Self::RealtimePage => "`#[realtime_page]` takes `filter = ...` and `crate = path`",
            Self::Filter => "`#[filter]` takes only `crate = path`",
        }
    }
}

/// The arguments as given; each macro's `check` decides which are required.
pub(crate) struct Args {
    /// `"name"`, the channel name (`#[channel]` only).
    pub(crate) name: Option<LitStr>,
    /// `filter = expr`, who receives a page's broadcast (`#[realtime_page]` only).
    pub(crate) filter: Option<Expr>,
    /// `history = N`, how many recent sends the channel keeps (`#[channel]` only).
    pub(crate) history: Option<LitInt>,
    /// `ttl_secs = N`, how long it keeps each (`#[channel]` only).
    pub(crate) ttl_secs: Option<LitInt>,
    /// `crate = path`, where the runtime crate is when it is renamed.
    pub(crate) krate: Option<Path>,
    /// The first argument's span (the attribute's when there is none), for errors about the
    /// arguments as a whole.
    pub(crate) span: Span,
}

impl Args {
    pub(crate) fn parse(tokens: TokenStream, of: Macro) -> syn::Result<Self> {
        let span = tokens
            .clone()
            .into_iter()
            .next()
            .map_or_else(Span::call_site, |token| token.span());
        let parser = |input: ParseStream<'_>| {
            let mut args = Self {
                name: None,
                filter: None,
                history: None,
                ttl_secs: None,
                krate: None,
                span,
            };
            let mut duplicates = Vec::new();
            while !input.is_empty() {
                args.parse_one(input, of, &mut duplicates)?;
                if !input.is_empty() {
                    input.parse::<Token![,]>()?;
                }
            }
            crate::errors::combine(duplicates).map(|()| args)
        };
        parser.parse2(tokens)
    }

    /// One argument; `lookahead1` offers only the keys `of` takes, so a stray token's error
    /// says what was expected, at the token.
    fn parse_one(
        &mut self,
        input: ParseStream<'_>,
        of: Macro,
        duplicates: &mut Vec<Error>,
    ) -> syn::Result<()> {
        let lookahead = input.lookahead1();
        if of == Macro::Channel && lookahead.peek(LitStr) {
            let name: LitStr = input.parse()?;
            let span = name.span();
            keep_first(&mut self.name, name, duplicates, || {
                Error::new(
                    span,
                    "the channel name is given twice; a channel has one name",
                )
            });
        } else if of == Macro::Channel && lookahead.peek(history) {
            let key: history = input.parse()?;
            input.parse::<Token![=]>()?;
            keep_first(&mut self.history, input.parse()?, duplicates, || {
                Error::new(key.span, "duplicate `history` argument")
            });
        } else if of == Macro::Channel && lookahead.peek(ttl_secs) {
            let key: ttl_secs = input.parse()?;
            input.parse::<Token![=]>()?;
            keep_first(&mut self.ttl_secs, input.parse()?, duplicates, || {
                Error::new(key.span, "duplicate `ttl_secs` argument")
            });
        } else if of == Macro::RealtimePage && lookahead.peek(filter) {
            let key: filter = input.parse()?;
            input.parse::<Token![=]>()?;
            keep_first(&mut self.filter, input.parse()?, duplicates, || {
                Error::new(key.span, "duplicate `filter` argument")
            });
        } else if lookahead.peek(Token![crate]) {
            let key: Token![crate] = input.parse()?;
            input.parse::<Token![=]>()?;
            keep_first(&mut self.krate, input.parse()?, duplicates, || {
                Error::new(key.span, "duplicate `crate` argument")
            });
        } else if input.peek(Ident) {
            let key: Ident = input.parse()?;
            return Err(Error::new(
                key.span(),
                format!("unknown argument `{key}`; {}", of.takes()),
            ));
        } else {
            return Err(lookahead.error());
        }
        Ok(())
    }
}

/// Stores the first occurrence of a key; a later one is an error at that later one.
fn keep_first<T>(
    slot: &mut Option<T>,
    value: T,
    duplicates: &mut Vec<Error>,
    duplicate: impl FnOnce() -> Error,
) {
    if slot.is_some() {
        duplicates.push(duplicate());
    } else {
        *slot = Some(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn error(tokens: TokenStream, of: Macro) -> String {
        match Args::parse(tokens, of) {
            Ok(_) => panic!("parsed"),
            Err(err) => err
                .into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(" | "),
        }
    }

    #[test]
    fn each_macro_takes_its_own_keys() {
        let args = Args::parse(quote!("chat", crate = ::my_rt), Macro::Channel).unwrap();
        assert_eq!(args.name.unwrap().value(), "chat");
        assert!(args.krate.is_some() && args.filter.is_none());
        let args = Args::parse(
            quote!(filter = |_, _| true, crate = rt,),
            Macro::RealtimePage,
        )
        .unwrap();
        assert!(args.filter.is_some() && args.krate.is_some() && args.name.is_none());
        assert!(error(quote!(filter = f), Macro::Channel).starts_with("unknown argument `filter`"));
        assert_eq!(
            error(quote!("chat"), Macro::RealtimePage),
            "expected `filter` or `crate`"
        );
        let args = Args::parse(quote!(crate = rt), Macro::Filter).unwrap();
        assert!(args.krate.is_some() && args.filter.is_none() && args.name.is_none());
        assert_eq!(
            error(quote!(filter = f), Macro::Filter),
            "unknown argument `filter`; `#[filter]` takes only `crate = path`"
        );
        assert_eq!(error(quote!("in_room"), Macro::Filter), "expected `crate`");
    }

    #[test]
    fn every_duplicate_is_reported() {
        assert_eq!(
            error(quote!("a", "b", crate = x, crate = y, "c"), Macro::Channel),
            "the channel name is given twice; a channel has one name | duplicate `crate` argument \
             | the channel name is given twice; a channel has one name"
        );
        assert_eq!(
            error(quote!(filter = a, filter = b), Macro::RealtimePage),
            "duplicate `filter` argument"
        );
    }
}
