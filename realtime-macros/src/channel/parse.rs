//! The syntax of `#[channel(...)]` and of the item it is put on.

use proc_macro2::TokenStream;
use syn::Item;

use crate::args::{Args, Macro};

pub(crate) struct ChannelInput {
    pub(crate) args: Args,
    pub(crate) item: Item,
}

pub(crate) fn parse(args: TokenStream, item: TokenStream) -> syn::Result<ChannelInput> {
    Ok(ChannelInput {
        args: Args::parse(args, Macro::Channel)?,
        item: syn::parse2(item)?,
    })
}
