//! What `#[channel]` can decide without types: the arguments, the name, the item's shape, and
//! what the payload is sent as. Every error is collected, so one build shows every mistake.

use syn::punctuated::Punctuated;
use syn::{Attribute, Error, Item, LitInt, LitStr, Path, Token};

use super::parse::ChannelInput;
use super::{Channel, Kind, Payload};
use crate::crate_path::crate_path;
use crate::errors::item_keyword;

/// The longest key PocketBase clients accept.
const MAX_NAME: usize = 2500;

const ALLOWED: &str = "use letters, digits, `-`, `_`, `/` or `:`";

pub(crate) fn check(input: ChannelInput) -> syn::Result<Channel> {
    let ChannelInput { args, item } = input;
    let name = match args.name {
        Some(name) => check_name(&name).map(|()| name),
        None => Err(Error::new(
            args.span,
            "missing channel name; write `#[channel(\"chat\")]`",
        )),
    };
    let history = history(args.history.as_ref(), args.ttl_secs.as_ref());
    let (name, payload) = crate::errors::both(name, payload(item))?;
    let history = history?;
    Ok(Channel {
        name,
        krate: crate_path(args.krate.as_ref()),
        kind: kind(payload.attrs()),
        payload,
        history,
    })
}

/// Seconds a channel with `history = N` and no `ttl_secs` keeps its sends.
const DEFAULT_TTL_SECS: u64 = 300;

/// `history = N` (at least 1) and `ttl_secs = N` (at least 1, only with `history`).
fn history(count: Option<&LitInt>, ttl: Option<&LitInt>) -> syn::Result<(usize, u64)> {
    let positive = |lit: &LitInt, what: &str| -> syn::Result<u64> {
        match lit.base10_parse::<u64>() {
            Ok(0) | Err(_) => Err(Error::new(
                lit.span(),
                format!("`{what}` is a whole number of at least 1"),
            )),
            Ok(n) => Ok(n),
        }
    };
    match (count, ttl) {
        (None, None) => Ok((0, 0)),
        (None, Some(ttl)) => Err(Error::new(
            ttl.span(),
            "`ttl_secs` says how long the history keeps each send: add `history = N`, how many",
        )),
        (Some(count), ttl) => {
            let count = usize::try_from(positive(count, "history")?)
                .map_err(|_| Error::new(count.span(), "`history` is too large"))?;
            let ttl = ttl.map_or(Ok(DEFAULT_TTL_SECS), |ttl| positive(ttl, "ttl_secs"))?;
            Ok((count, ttl))
        }
    }
}

/// A struct or an enum, without type parameters.
fn payload(item: Item) -> syn::Result<Payload> {
    let payload = match item {
        Item::Struct(item) => Payload::Struct(item),
        Item::Enum(item) => Payload::Enum(item),
        other => {
            return Err(Error::new_spanned(
                item_keyword(&other),
                "`#[channel]` goes on the struct or enum that is the channel's payload",
            ));
        }
    };
    // Lifetimes are fine (a payload may borrow); type and const parameters would make one
    // name stand for many types.
    let generics = payload.generics();
    if generics
        .params
        .iter()
        .any(|param| !matches!(param, syn::GenericParam::Lifetime(_)))
    {
        return Err(Error::new_spanned(
            generics,
            "a channel payload cannot be generic: each channel name belongs to one concrete type",
        ));
    }
    Ok(payload)
}

/// A type with `#[template(...)]` is an HTML channel; any other a JSON channel. The derive is
/// added unless the item has it already.
fn kind(attrs: &[Attribute]) -> Kind {
    if attrs.iter().any(|attr| attr.path().is_ident("template")) {
        Kind::Html {
            derive_template: !derives(attrs, "Template"),
        }
    } else {
        Kind::Json {
            derive_serialize: !derives(attrs, "Serialize"),
        }
    }
}

/// Whether a `#[derive(...)]` names `trait_name` (by its last segment, so `serde::Serialize`
/// counts).
fn derives(attrs: &[Attribute], trait_name: &str) -> bool {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("derive"))
        .filter_map(|attr| {
            attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
                .ok()
        })
        .flatten()
        .any(|path| path.segments.last().is_some_and(|s| s.ident == trait_name))
}

/// A channel name must be usable as a topic and an SSE event name by every client.
fn check_name(name: &LitStr) -> syn::Result<()> {
    let value = name.value();
    let problem = if value.is_empty() {
        Some("channel name is empty; name the topic clients subscribe to, e.g. `#[channel(\"chat\")]`".to_owned())
    } else if value.len() > MAX_NAME {
        Some(format!(
            "channel name is {} bytes long; PocketBase clients accept at most {MAX_NAME}",
            value.len()
        ))
    } else {
        value.chars().find_map(|c| {
            let what = match c {
                ' ' => "a space",
                '\t' => "a tab",
                '\n' => "a line break (LF)",
                '\r' => "a carriage return (CR)",
                '\0' => "a NUL character",
                '?' => {
                    return Some(format!(
                        "channel name contains `?`, which starts a subscription's options; {ALLOWED}"
                    ));
                }
                c if c.is_whitespace() => "whitespace",
                c if c.is_control() => "a control character",
                _ => return None,
            };
            Some(format!("channel name contains {what}; {ALLOWED}"))
        })
    };
    problem.map_or(Ok(()), |message| Err(Error::new(name.span(), message)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    fn message(name: &str) -> Option<String> {
        check_name(&LitStr::new(name, Span::call_site()))
            .err()
            .map(|e| e.to_string())
    }

    #[test]
    fn every_mistake_is_reported() {
        let input = super::super::parse::parse(
            quote::quote!("chat room"),
            quote::quote!(
                struct ChatMsg<T>(T);
            ),
        )
        .unwrap();
        let messages: Vec<String> = check(input)
            .err()
            .unwrap()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("a space") && messages[1].contains("generic"));
    }

    fn history_of(args: proc_macro2::TokenStream) -> Result<(usize, u64), String> {
        let input = super::super::parse::parse(
            args,
            quote::quote!(
                struct Msg;
            ),
        )
        .unwrap();
        check(input)
            .map(|channel| channel.history)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn history_takes_a_count_and_a_ttl() {
        assert_eq!(history_of(quote::quote!("chat")), Ok((0, 0)));
        assert_eq!(
            history_of(quote::quote!("chat", history = 100)),
            Ok((100, 300))
        );
        assert_eq!(
            history_of(quote::quote!("chat", history = 5, ttl_secs = 60)),
            Ok((5, 60))
        );
        assert!(
            history_of(quote::quote!("chat", ttl_secs = 60))
                .unwrap_err()
                .contains("add `history = N`")
        );
        assert!(
            history_of(quote::quote!("chat", history = 0))
                .unwrap_err()
                .contains("at least 1")
        );
        assert!(
            history_of(quote::quote!("chat", history = 3, ttl_secs = 0))
                .unwrap_err()
                .contains("at least 1")
        );
        let twice = super::super::parse::parse(
            quote::quote!("chat", history = 1, history = 2),
            quote::quote!(
                struct Msg;
            ),
        );
        assert!(
            twice
                .err()
                .unwrap()
                .to_string()
                .contains("duplicate `history`")
        );
    }

    #[test]
    fn names() {
        assert_eq!(message("chat"), None);
        assert_eq!(message("rooms/42:updates-v_2"), None);
        assert_eq!(message(&"x".repeat(2500)), None);
        assert!(message("").unwrap().starts_with("channel name is empty"));
        assert_eq!(
            message("a b").unwrap(),
            "channel name contains a space; use letters, digits, `-`, `_`, `/` or `:`"
        );
        assert!(message("a\nb").unwrap().contains("line break"));
        assert!(message("a\rb").unwrap().contains("carriage return"));
        assert!(message("a\0b").unwrap().contains("NUL"));
        assert!(message("a?b").unwrap().contains("`?`"));
        assert_eq!(
            message(&"x".repeat(2501)).unwrap(),
            "channel name is 2501 bytes long; PocketBase clients accept at most 2500"
        );
    }
}
