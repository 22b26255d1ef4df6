//! The handler `#[realtime_page]` generates: it extracts the broker and the requester's auth,
//! runs the user's body, then captures the returned template. Infallible: `check` decided.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemFn;
use syn::spanned::Spanned;

use super::Page;
use crate::crate_path::respan;

pub(crate) fn expand(page: Page) -> TokenStream {
    let Page {
        krate,
        filter,
        handler,
        output,
    } = page;
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = handler;
    let ident = &sig.ident;
    let (impl_generics, _, where_clause) = sig.generics.split_for_impl();
    let inputs = &sig.inputs;

    // Spanned at the user's tokens, so rustc underlines their return type and their filter.
    // The page is answered through its channel's kind, so a JSON channel is told apart.
    let page_channel = quote!(#krate::__private::PageChannel);
    let respond = quote_spanned! {output.span()=>
        <<#output as #page_channel>::Kind as #krate::__private::Respond<
            #output,
            <#output as #page_channel>::Channel,
        >>::respond
    };
    let filter = if let Some(filter) = filter {
        let krate = respan(&krate, filter.span());
        quote_spanned! {filter.span()=>
            let __realtime_filter = #krate::__private::page_filter(#filter);
        }
    } else {
        quote! {
            let __realtime_filter = #krate::filter::same_user_or_all(__realtime_page.auth());
        }
    };

    quote! {
        #(#attrs)*
        #vis async fn #ident #impl_generics (
            __realtime_page: #krate::__private::PageContext,
            #inputs
        ) -> #krate::__private::axum::response::Response #where_clause {
            let __realtime_output: #output = async move #block.await;
            #filter
            #respond(__realtime_output, &__realtime_page, __realtime_filter)
        }
    }
}
