//! The handler `#[realtime_page]` generates: it extracts the broker and the requester's auth,
//! runs the user's body, then captures the returned template. Infallible: `check` ran first.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ReturnType;
use syn::spanned::Spanned;

use super::parse::{Arg, PageInput};
use crate::crate_path::crate_path;

pub(crate) fn expand(input: &PageInput) -> TokenStream {
    let custom_crate = input.args.iter().find_map(|arg| match arg {
        Arg::Crate(_, path) => Some(path),
        Arg::Filter(..) => None,
    });
    let krate = crate_path(custom_crate);
    let filter = input.args.iter().find_map(|arg| match arg {
        Arg::Filter(_, filter) => Some(filter),
        Arg::Crate(..) => None,
    });

    let handler = &input.handler;
    let attrs = &handler.attrs;
    let vis = &handler.vis;
    let sig = &handler.sig;
    let ident = &sig.ident;
    let (impl_generics, _, where_clause) = sig.generics.split_for_impl();
    let inputs = &sig.inputs;
    let body = &handler.block;
    let ReturnType::Type(_, output) = &sig.output else {
        unreachable!("check ensures a return type");
    };

    // Spanned at the user's tokens, so rustc underlines their return type and their filter.
    let respond = quote_spanned! {output.span()=>
        <#output as #krate::__private::PageOutput>::respond
    };
    let filter = if let Some(filter) = filter {
        quote_spanned! {filter.span()=>
            let __realtime_filter: #krate::__private::PageFilter<'_> = &#filter;
        }
    } else {
        quote! {
            let __realtime_filter: #krate::__private::PageFilter<'_> =
                &#krate::filter::same_user_or_all(__realtime_page.auth());
        }
    };

    quote! {
        #(#attrs)*
        #vis async fn #ident #impl_generics (
            __realtime_page: #krate::__private::PageContext,
            #inputs
        ) -> #krate::__private::axum::response::Response #where_clause {
            let __realtime_output: #output = async move #body.await;
            #filter
            #respond(__realtime_output, &__realtime_page, __realtime_filter)
        }
    }
}
