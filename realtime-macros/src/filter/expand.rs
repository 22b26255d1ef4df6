//! The code `#[filter]` generates: in place of the user's function, a constructor of the same
//! name taking the arguments after the client and returning a `Filter` that names the function
//! and carries the arguments. Inside it, the user's function (the check), the `prepare` that
//! decodes the arguments once per send and returns the per-client predicate, and the registry
//! entry every node looks the name up in. Infallible: `check` decided.
//!
//! Each argument is encoded and decoded by a call spanned at its type, and the check's answer
//! and client at the user's return and client types: rustc's errors underline the user's code.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Type;
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use super::{Arg, FilterFn, Pass};
use crate::crate_path::respan;

pub(crate) fn expand(filter: FilterFn) -> TokenStream {
    let FilterFn {
        krate,
        attrs,
        vis,
        ident,
        check,
        client,
        output,
        args,
    } = filter;
    let private = quote!(#krate::__private);
    let name = ident.unraw().to_string();
    let must_use =
        (!attrs.iter().any(|attr| attr.path().is_ident("must_use"))).then(|| quote!(#[must_use]));

    let params = args.iter().map(|Arg { name, ty, .. }| quote!(#name: #ty));
    let encoded = args.iter().map(|Arg { name, ty, .. }| {
        let span = type_span(ty);
        let (private, mut name) = (respan(&private, span), name.clone());
        name.set_span(span);
        quote_spanned!(span=> #private::encode(#name))
    });
    let count = Literal::usize_unsuffixed(args.len());
    let decoded: Vec<_> = args
        .iter()
        .enumerate()
        .map(|(index, arg)| format_ident!("__arg{index}", span = type_span(&arg.ty)))
        .collect();
    let decode = args
        .iter()
        .zip(&decoded)
        .map(|(Arg { ty, owned, .. }, decoded)| {
            let private = respan(&private, type_span(ty));
            quote_spanned! {type_span(ty)=>
                let #decoded = #private::decode::<#owned>(#decoded)?;
            }
        });
    let passed = args
        .iter()
        .zip(&decoded)
        .map(|(arg, decoded)| match arg.pass {
            Pass::Borrowed => quote_spanned!(type_span(&arg.ty)=> &#decoded),
            // The predicate runs for many clients: an owned parameter gets a clone each time.
            Pass::Cloned => {
                quote_spanned!(type_span(&arg.ty)=> ::core::clone::Clone::clone(&#decoded))
            }
        });
    let client_arg = quote_spanned!(type_span(&client)=> __client);
    let answer = {
        let private = respan(&private, type_span(&output));
        quote_spanned! {type_span(&output)=>
            #private::accepted(__realtime_check(#client_arg, #(#passed),*))
        }
    };

    quote! {
        #(#attrs)*
        #must_use
        #vis fn #ident(#(#params),*) -> #krate::Filter {
            #check

            fn __realtime_prepare(
                __args: &#private::serde_json::Value,
            ) -> ::core::result::Result<#private::Predicate, #private::serde_json::Error> {
                let [#(#decoded),*] = #private::arguments::<#count>(__args)?;
                #(#decode)*
                let __predicate: #private::Predicate = ::std::boxed::Box::new(
                    move |__client: &#krate::Client| -> ::core::primitive::bool { #answer },
                );
                ::core::result::Result::Ok(__predicate)
            }

            const __REALTIME_NAME: &::core::primitive::str =
                ::core::concat!(::core::module_path!(), "::", #name);

            #private::inventory::submit! {
                #private::NamedFilter::new(__REALTIME_NAME, __realtime_prepare)
            }

            #private::named_filter(__REALTIME_NAME, [#(#encoded),*])
        }
    }
}

/// Where rustc underlines a type: its name (`Client` in `&Client`, `Option` in
/// `Option<String>`), as a span cannot cover several tokens on stable.
fn type_span(ty: &Type) -> Span {
    match ty {
        Type::Reference(reference) => type_span(&reference.elem),
        Type::Group(group) => type_span(&group.elem),
        Type::Paren(paren) => type_span(&paren.elem),
        Type::Path(path) => path
            .path
            .segments
            .last()
            .map_or_else(|| ty.span(), |segment| segment.ident.span()),
        ty => ty.span(),
    }
}
