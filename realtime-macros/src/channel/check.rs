//! What `#[channel]` can decide without types: the arguments, the name, the item's shape.
//! Every error is collected, so one build shows every mistake.

use syn::{Error, Item, LitStr};

use super::parse::{Arg, ChannelInput};

/// The longest key PocketBase clients accept.
const MAX_NAME: usize = 2500;

const ALLOWED: &str = "use letters, digits, `-`, `_`, `/` or `:`";

pub(crate) fn check(input: &ChannelInput) -> syn::Result<()> {
    let mut errors: Vec<Error> = Vec::new();
    let mut name_seen = false;
    let mut crate_seen = false;
    for arg in &input.args {
        match arg {
            Arg::Name(name) if name_seen => errors.push(Error::new(
                name.span(),
                "the channel name is given twice; a channel has one name",
            )),
            Arg::Name(name) => {
                name_seen = true;
                if let Err(err) = check_name(name) {
                    errors.push(err);
                }
            }
            Arg::Crate(key, _) if crate_seen => {
                errors.push(Error::new(key.span, "duplicate `crate` argument"));
            }
            Arg::Crate(..) => crate_seen = true,
        }
    }
    if !name_seen {
        errors.push(Error::new(
            input.args_span,
            "missing channel name; write `#[channel(\"chat\")]`",
        ));
    }
    match &input.item {
        Item::Struct(item) if has_type_parameters(&item.generics) => {
            errors.push(generic(&item.generics));
        }
        Item::Enum(item) if has_type_parameters(&item.generics) => {
            errors.push(generic(&item.generics));
        }
        Item::Struct(_) | Item::Enum(_) => {}
        other => errors.push(Error::new_spanned(
            item_keyword(other),
            "`#[channel]` goes on the struct or enum that is the channel's payload",
        )),
    }
    crate::errors::combine(errors)
}

/// Lifetimes are fine (a payload may borrow); type and const parameters would make one name
/// stand for many types.
fn has_type_parameters(generics: &syn::Generics) -> bool {
    generics
        .params
        .iter()
        .any(|param| !matches!(param, syn::GenericParam::Lifetime(_)))
}

fn generic(generics: &syn::Generics) -> Error {
    Error::new_spanned(
        generics,
        "a channel payload cannot be generic: each channel name belongs to one concrete type",
    )
}

/// The item's leading tokens, to underline the item without its whole body.
fn item_keyword(item: &Item) -> proc_macro2::TokenStream {
    use quote::ToTokens;
    match item {
        Item::Fn(item) => item.sig.to_token_stream(),
        Item::Impl(item) => item.impl_token.to_token_stream(),
        Item::Trait(item) => item.ident.to_token_stream(),
        Item::Union(item) => item.union_token.to_token_stream(),
        other => other.to_token_stream(),
    }
}

/// A channel name must be usable as a topic and an SSE event name by every client.
pub(crate) fn check_name(name: &LitStr) -> syn::Result<()> {
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
