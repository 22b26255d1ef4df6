//! What `#[realtime_page]` can decide without types: the handler's shape. The return type and
//! the filter are checked by rustc, through the generated code.

use syn::{Error, ReturnType};

use super::Page;
use super::parse::PageInput;
use crate::crate_path::crate_path;

pub(crate) fn check(input: PageInput) -> syn::Result<Page> {
    let PageInput { args, handler } = input;
    let sig = &handler.sig;
    let asynchronous = if sig.asyncness.is_some() {
        Ok(())
    } else {
        Err(Error::new(
            sig.fn_token.span,
            format!(
                "`#[realtime_page]` handlers must be `async`; write `async fn {}`",
                sig.ident
            ),
        ))
    };
    let output = match &sig.output {
        ReturnType::Type(_, output) => Ok((**output).clone()),
        ReturnType::Default => Err(Error::new(
            sig.ident.span(),
            "a `#[realtime_page]` handler returns the template it broadcasts; add `-> YourTemplate`",
        )),
    };
    let ((), output) = crate::errors::both(asynchronous, output)?;
    Ok(Page {
        krate: crate_path(args.krate.as_ref()),
        filter: args.filter,
        handler,
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mistake_is_reported() {
        let input = super::super::parse::parse(
            quote::quote!(filter = f),
            quote::quote!(
                fn post_chat() {}
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
        assert!(messages[0].contains("`async`") && messages[1].contains("returns the template"));
    }
}
