//! What `#[realtime_page]` can decide without types: the arguments and the handler's shape.
//! The return type and the filter are checked by rustc, through the generated code.

use syn::{Error, ReturnType};

use super::parse::{Arg, PageInput};

pub(crate) fn check(input: &PageInput) -> syn::Result<()> {
    let mut errors: Vec<Error> = Vec::new();
    let (mut filter_seen, mut crate_seen) = (false, false);
    for arg in &input.args {
        match arg {
            Arg::Filter(key, _) if filter_seen => {
                errors.push(Error::new(key.span, "duplicate `filter` argument"));
            }
            Arg::Filter(..) => filter_seen = true,
            Arg::Crate(key, _) if crate_seen => {
                errors.push(Error::new(key.span, "duplicate `crate` argument"));
            }
            Arg::Crate(..) => crate_seen = true,
        }
    }
    let sig = &input.handler.sig;
    if sig.asyncness.is_none() {
        errors.push(Error::new(
            sig.fn_token.span,
            format!(
                "`#[realtime_page]` handlers must be `async`; write `async fn {}`",
                sig.ident
            ),
        ));
    }
    if matches!(sig.output, ReturnType::Default) {
        errors.push(Error::new(
            sig.ident.span(),
            "a `#[realtime_page]` handler returns the template it broadcasts; add `-> YourTemplate`",
        ));
    }
    crate::errors::combine(errors)
}
