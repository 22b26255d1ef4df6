//! `#[realtime_page]`: parse the arguments and the handler, check them into a [`Page`],
//! expand it.

mod check;
mod expand;
mod parse;

use proc_macro2::TokenStream;
use syn::{Expr, ItemFn, Type};

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let page = parse::parse(args, item.clone()).and_then(check::check);
    crate::errors::or_item(item, page.map(expand::expand))
}

/// A checked `#[realtime_page]` handler: everything the expansion needs, decided.
pub(crate) struct Page {
    /// The path of the runtime crate, as tokens to put in front of `::Item`.
    pub(crate) krate: TokenStream,
    /// `filter = expr`, or the default filter when `None`.
    pub(crate) filter: Option<Expr>,
    /// The user's handler, `async`.
    pub(crate) handler: ItemFn,
    /// The handler's return type: the template, or a `Result` of it.
    pub(crate) output: Type,
}
