//! The syntax of `#[realtime_page(...)]` and of the handler it is put on.

use proc_macro2::TokenStream;
use syn::ItemFn;

use crate::args::{Args, Macro};

pub(crate) struct PageInput {
    pub(crate) args: Args,
    pub(crate) handler: ItemFn,
}

pub(crate) fn parse(args: TokenStream, item: TokenStream) -> syn::Result<PageInput> {
    Ok(PageInput {
        args: Args::parse(args, Macro::RealtimePage)?,
        handler: syn::parse2(item)?,
    })
}
