//! `#[channel("name")]`: parse the arguments, check them and the item, expand.

mod check;
mod expand;
mod parse;

use proc_macro2::TokenStream;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let result = parse::parse(args, item.clone())
        .and_then(|input| check::check(&input).map(|()| input))
        .map(|input| expand::expand(&input));
    crate::errors::or_item(item, result)
}
