//! `#[channel("name")]`: parse the arguments and the item, check them into a [`Channel`],
//! expand it.

mod check;
mod expand;
mod parse;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Attribute, Generics, Ident, ItemEnum, ItemStruct, LitStr, Visibility};

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let channel = parse::parse(args, item.clone()).and_then(check::check);
    crate::errors::or_item(item, channel.map(expand::expand))
}

/// A checked `#[channel]`: everything the expansion needs, decided.
pub(crate) struct Channel {
    /// The channel name, valid as a topic and an SSE event name.
    pub(crate) name: LitStr,
    /// The path of the runtime crate, as tokens to put in front of `::Item`.
    pub(crate) krate: TokenStream,
    pub(crate) payload: Payload,
    pub(crate) kind: Kind,
    /// How many recent sends the channel keeps, and for how many seconds; 0 keeps none.
    pub(crate) history: (usize, u64),
}

/// The item `#[channel]` is put on: the payload type, without type parameters.
pub(crate) enum Payload {
    Struct(ItemStruct),
    Enum(ItemEnum),
}

/// What the payload is sent as, and which derive the expansion adds.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// A serializable value sent as JSON; `derive_serialize` unless the item derives
    /// `Serialize` itself.
    Json { derive_serialize: bool },
    /// An askama template sent as its rendered HTML; `derive_template` unless the item
    /// derives `Template` itself.
    Html { derive_template: bool },
}

impl Payload {
    pub(crate) fn attrs(&self) -> &[Attribute] {
        match self {
            Self::Struct(item) => &item.attrs,
            Self::Enum(item) => &item.attrs,
        }
    }

    pub(crate) fn attrs_mut(&mut self) -> &mut Vec<Attribute> {
        match self {
            Self::Struct(item) => &mut item.attrs,
            Self::Enum(item) => &mut item.attrs,
        }
    }

    pub(crate) fn ident(&self) -> &Ident {
        match self {
            Self::Struct(item) => &item.ident,
            Self::Enum(item) => &item.ident,
        }
    }

    pub(crate) fn vis(&self) -> &Visibility {
        match self {
            Self::Struct(item) => &item.vis,
            Self::Enum(item) => &item.vis,
        }
    }

    pub(crate) fn generics(&self) -> &Generics {
        match self {
            Self::Struct(item) => &item.generics,
            Self::Enum(item) => &item.generics,
        }
    }
}

impl ToTokens for Payload {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Self::Struct(item) => item.to_tokens(tokens),
            Self::Enum(item) => item.to_tokens(tokens),
        }
    }
}
