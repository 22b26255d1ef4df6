//! The syntax of `#[filter(...)]` and of the item it is put on.

use proc_macro2::TokenStream;
use syn::Item;

use crate::args::{Args, Macro};

pub(crate) struct FilterInput {
    pub(crate) args: Args,
    pub(crate) item: Item,
}

pub(crate) fn parse(args: TokenStream, item: TokenStream) -> syn::Result<FilterInput> {
    Ok(FilterInput {
        args: Args::parse(args, Macro::Filter)?,
        item: syn::parse2(item)?,
    })
}
