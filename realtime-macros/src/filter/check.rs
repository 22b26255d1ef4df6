//! What `#[filter]` can decide without types: the function's shape, and what each argument
//! travels as. The client type, the return type and whether an argument can travel are checked
//! by rustc, through the generated code, at the user's tokens. Every error is collected, so
//! one build shows every mistake.

use quote::{ToTokens, format_ident};
use syn::spanned::Spanned;
use syn::{Error, FnArg, Item, ItemFn, Pat, PatType, ReturnType, Safety, Signature, Type};

use super::parse::FilterInput;
use super::{Arg, FilterFn, Pass};
use crate::crate_path::crate_path;
use crate::errors::item_keyword;

pub(crate) fn check(input: FilterInput) -> syn::Result<FilterFn> {
    let FilterInput {
        args: attribute,
        item,
    } = input;
    let Item::Fn(function) = item else {
        return Err(Error::new_spanned(
            item_keyword(&item),
            "`#[filter]` goes on a function `fn name(client: &Client, ...) -> bool`",
        ));
    };
    let mut errors = shape(&function.sig);
    let client = client_type(&function.sig);
    let output = match &function.sig.output {
        ReturnType::Type(_, output) => Some((**output).clone()),
        ReturnType::Default => {
            errors.push(Error::new(
                function.sig.paren_token.span.join(),
                "a `#[filter]` function says whether a client receives the message: add `-> bool`",
            ));
            None
        }
    };
    let args: Vec<Arg> = function
        .sig
        .inputs
        .iter()
        .skip(1)
        .enumerate()
        .filter_map(|(index, input)| match arg(index, input) {
            Ok(arg) => Some(arg),
            Err(err) => {
                errors.push(err);
                None
            }
        })
        .collect();
    let args = drop_underscores(args);
    let client = match client {
        Ok(client) => Some(client),
        Err(err) => {
            errors.push(err);
            None
        }
    };
    crate::errors::combine(errors)?;
    let (Some(client), Some(output)) = (client, output) else {
        unreachable!("a missing client or return type is an error above");
    };
    let ItemFn {
        attrs,
        vis,
        modifiers,
        mut sig,
        block,
    } = function;
    let ident = sig.ident.clone();
    sig.ident = format_ident!("__realtime_check", span = ident.span());
    Ok(FilterFn {
        krate: crate_path(attribute.krate.as_ref()),
        attrs,
        vis,
        ident,
        check: ItemFn {
            attrs: Vec::new(),
            vis: syn::Visibility::Inherited,
            modifiers,
            sig,
            block,
        },
        client,
        output,
        args,
    })
}

/// What a function that runs on every node, once per client, cannot be.
fn shape(sig: &Signature) -> Vec<Error> {
    let mut errors = Vec::new();
    let mut refuse = |tokens: &dyn ToTokens, message: &str| {
        errors.push(Error::new_spanned(tokens, message));
    };
    if let Some(token) = &sig.constness {
        refuse(
            token,
            "a `#[filter]` function cannot be `const`: remove `const`",
        );
    }
    if let Some(token) = &sig.asyncness {
        refuse(
            token,
            "a `#[filter]` function cannot be `async`: it runs for each client during a send, \
             which does not wait",
        );
    }
    if let Safety::Unsafe(token) = &sig.safety {
        refuse(token, "a `#[filter]` function cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        refuse(abi, "a `#[filter]` function cannot have an `extern` ABI");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        refuse(
            &sig.generics,
            "a `#[filter]` function cannot be generic: every node looks it up by its name, so \
             it has one signature (elided lifetimes, as in `&str`, are fine)",
        );
    }
    if let Some(variadic) = &sig.variadic {
        refuse(variadic, "a `#[filter]` function cannot be variadic");
    }
    errors
}

/// The first parameter's type: the client the filter checks.
fn client_type(sig: &Signature) -> syn::Result<Type> {
    match sig.inputs.first() {
        Some(FnArg::Typed(PatType { ty, .. })) => Ok((**ty).clone()),
        Some(FnArg::Receiver(receiver)) => Err(Error::new_spanned(
            receiver,
            "a `#[filter]` function is a free function: it cannot take `self`; its first \
             parameter is the client, `client: &Client`",
        )),
        None => Err(Error::new(
            sig.paren_token.span.join(),
            format!(
                "a `#[filter]` function takes the client first: `fn {}(client: &Client, ...) -> bool`",
                sig.ident
            ),
        )),
    }
}

/// A parameter after the client: an argument the filter carries to every node.
fn arg(index: usize, input: &FnArg) -> syn::Result<Arg> {
    let PatType { attrs, pat, ty, .. } = match input {
        FnArg::Typed(typed) => typed,
        FnArg::Receiver(receiver) => {
            return Err(Error::new_spanned(
                receiver,
                "a `#[filter]` function cannot take `self`",
            ));
        }
    };
    if let Some(attr) = attrs.first() {
        return Err(Error::new_spanned(
            attr,
            "a `#[filter]` function's arguments cannot have attributes",
        ));
    }
    // A destructuring pattern stays in the check; the constructor names the argument.
    let name = match &**pat {
        Pat::Ident(binding) => binding.ident.clone(),
        _ => format_ident!("__arg{index}", span = pat.span()),
    };
    let (owned, pass) = travels_as(ty)?;
    Ok(Arg {
        name,
        ty: (**ty).clone(),
        owned,
        pass,
    })
}

/// The constructor uses every argument, so it names `_unused` `unused` (unless another
/// argument has that name): a use of an underscored name is a lint in the user's crate.
fn drop_underscores(mut args: Vec<Arg>) -> Vec<Arg> {
    let taken: Vec<String> = args.iter().map(|arg| arg.name.to_string()).collect();
    for arg in &mut args {
        let name = arg.name.to_string();
        if let Some(used) = name.strip_prefix('_')
            && !used.is_empty()
            && !used.starts_with('_')
            && !taken.iter().any(|other| other == used)
        {
            arg.name = format_ident!("{used}", span = arg.name.span());
        }
    }
    args
}

/// The owned type an argument is sent and decoded as, and how the check receives it.
fn travels_as(ty: &Type) -> syn::Result<(Type, Pass)> {
    let span = ty.span();
    match unwrap(ty) {
        Type::Reference(reference) => {
            if let Some(mutability) = &reference.mutability {
                return Err(Error::new_spanned(
                    mutability,
                    "a `#[filter]` argument is shared by the checks of every client: take `&T` \
                     or `T`, not `&mut T`",
                ));
            }
            if let Some(lifetime) = reference.lifetime.as_ref().filter(|l| l.ident != "_") {
                return Err(Error::new_spanned(
                    lifetime,
                    "a `#[filter]` argument is decoded on each node and lent to the check: \
                     leave the lifetime out (`&str`, `&T`)",
                ));
            }
            let owned = match unwrap(&reference.elem) {
                Type::Path(path) if path.qself.is_none() && path.path.is_ident("str") => {
                    syn::parse_quote_spanned!(span=> ::std::string::String)
                }
                Type::Slice(slice) => {
                    let elem = &slice.elem;
                    syn::parse_quote_spanned!(span=> ::std::vec::Vec<#elem>)
                }
                Type::ImplTrait(_) => return Err(impl_trait(ty)),
                elem => elem.clone(),
            };
            Ok((owned, Pass::Borrowed))
        }
        Type::ImplTrait(_) => Err(impl_trait(ty)),
        owned => Ok((owned.clone(), Pass::Cloned)),
    }
}

fn impl_trait(ty: &Type) -> Error {
    Error::new_spanned(
        ty,
        "a `#[filter]` argument has one concrete type (it is decoded by it on every node): \
         name the type instead of `impl Trait`",
    )
}

/// The type inside invisible groups (from `macro_rules!`) and parentheses.
fn unwrap(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => unwrap(&group.elem),
        Type::Paren(paren) => unwrap(&paren.elem),
        ty => ty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn messages(item: proc_macro2::TokenStream) -> Vec<String> {
        let input = super::super::parse::parse(proc_macro2::TokenStream::new(), item).unwrap();
        match check(input) {
            Ok(_) => Vec::new(),
            Err(err) => err.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn every_mistake_is_reported() {
        let messages = messages(quote!(
            async unsafe fn f<T>(self, room: &mut String, tags: impl Iterator) {}
        ));
        assert_eq!(messages.len(), 7, "{messages:?}");
        for (message, about) in messages.iter().zip([
            "`async`",
            "`unsafe`",
            "generic",
            "add `-> bool`",
            "not `&mut T`",
            "`impl Trait`",
            "cannot take `self`",
        ]) {
            assert!(
                message.contains(about),
                "{message:?} should be about {about}"
            );
        }
    }

    #[test]
    fn arguments_travel_as_owned_types() {
        let travels = |ty: Type| {
            let (owned, pass) = travels_as(&ty).unwrap();
            (
                owned.to_token_stream().to_string().replace(' ', ""),
                pass == Pass::Borrowed,
            )
        };
        assert_eq!(
            travels(syn::parse_quote!(&str)),
            ("::std::string::String".into(), true)
        );
        assert_eq!(
            travels(syn::parse_quote!(&[u32])),
            ("::std::vec::Vec<u32>".into(), true)
        );
        assert_eq!(travels(syn::parse_quote!(&'_ Room)), ("Room".into(), true));
        assert_eq!(travels(syn::parse_quote!(u64)), ("u64".into(), false));
        assert!(travels_as(&syn::parse_quote!(&'static str)).is_err());
    }

    #[test]
    fn the_client_comes_first_and_patterns_are_named() {
        assert!(
            messages(quote!(
                fn f() -> bool {
                    true
                }
            ))[0]
                .contains("takes the client first")
        );
        assert!(
            messages(quote!(
                struct F;
            ))[0]
                .contains("goes on a function")
        );
        let input = super::super::parse::parse(
            proc_macro2::TokenStream::new(),
            quote!(
                fn f(_: &Client, (a, b): (u8, u8), mut n: u8) -> bool {
                    true
                }
            ),
        )
        .unwrap();
        let filter = check(input).ok().unwrap();
        let names: Vec<String> = filter.args.iter().map(|a| a.name.to_string()).collect();
        assert_eq!(names, ["__arg0", "n"]);

        let input = super::super::parse::parse(
            proc_macro2::TokenStream::new(),
            quote!(
                fn f(_c: &Client, _room: &str, _level: u8, level: u8, _: u8, __x: u8) -> bool {
                    true
                }
            ),
        )
        .unwrap();
        let filter = check(input).ok().unwrap();
        let names: Vec<String> = filter.args.iter().map(|a| a.name.to_string()).collect();
        assert_eq!(names, ["room", "_level", "level", "__arg3", "__x"]);
    }
}
