//! `#[realtime_page]`: parse the arguments, check them and the handler, expand.

mod check;
mod expand;
mod parse;

use proc_macro2::TokenStream;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let result = parse::parse(args, item.clone())
        .and_then(|input| check::check(&input).map(|()| input))
        .map(|input| expand::expand(&input));
    match result {
        Ok(tokens) => tokens,
        // Still emit the user's handler, so one mistake gives one error.
        Err(err) => {
            let mut tokens = item;
            tokens.extend(err.into_compile_error());
            tokens
        }
    }
}
