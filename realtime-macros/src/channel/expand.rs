//! The code `#[channel]` generates: the payload's derive, the `Channel` impl, the typed send
//! (or capture) methods, and the registry entry. Infallible: `check` ran first.

use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{Attribute, Item, LitStr, Meta, Path, Token, Visibility, parse_quote};

use super::parse::{Arg, ChannelInput};
use crate::crate_path::crate_path;

pub(crate) fn expand(input: &ChannelInput) -> TokenStream {
    let name = input
        .args
        .iter()
        .find_map(|arg| match arg {
            Arg::Name(name) => Some(name.clone()),
            Arg::Crate(..) => None,
        })
        .expect("check ensures a name");
    let custom_crate = input.args.iter().find_map(|arg| match arg {
        Arg::Crate(_, path) => Some(path),
        Arg::Name(_) => None,
    });
    let krate = crate_path(custom_crate);
    let mut item = input.item.clone();
    let (attrs, ident, vis, generics) = match &item {
        Item::Struct(item) => (
            &item.attrs,
            item.ident.clone(),
            item.vis.clone(),
            item.generics.clone(),
        ),
        Item::Enum(item) => (
            &item.attrs,
            item.ident.clone(),
            item.vis.clone(),
            item.generics.clone(),
        ),
        _ => unreachable!("check ensures a struct or enum"),
    };
    let html = attrs.iter().any(|attr| attr.path().is_ident("template"));
    let methods = if html {
        prepare_template(&mut item, &krate);
        html_methods(&name, &krate, &vis)
    } else {
        prepare_serialize(&mut item, &krate);
        json_methods(&name, &krate, &vis)
    };
    let (impl_generics, type_generics, where_clause) = generics.split_for_impl();
    let marker = if html {
        quote!(impl #impl_generics #krate::HtmlChannel for #ident #type_generics #where_clause {})
    } else {
        TokenStream::new()
    };
    quote! {
        #item

        impl #impl_generics #krate::Channel for #ident #type_generics #where_clause {
            const NAME: &'static str = #name;
        }

        #marker

        #[allow(dead_code)]
        impl #impl_generics #ident #type_generics #where_clause {
            #methods
        }

        #krate::__private::inventory::submit! {
            #krate::__private::channel_info(
                #name,
                ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)),
                #html,
            )
        }
    }
}

fn derives(attrs: &[Attribute], trait_name: &str) -> bool {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("derive"))
        .filter_map(|attr| {
            attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
                .ok()
        })
        .flatten()
        .any(|path| path.segments.last().is_some_and(|s| s.ident == trait_name))
}

/// A JSON payload derives `Serialize` through `realtime`, unless it already derives it.
fn prepare_serialize(item: &mut Item, krate: &TokenStream) {
    let attrs = match item {
        Item::Struct(item) => &mut item.attrs,
        Item::Enum(item) => &mut item.attrs,
        _ => return,
    };
    if derives(attrs, "Serialize") {
        return;
    }
    let serde_path = format!("{krate}::__private::serde").replace(' ', "");
    attrs.insert(0, parse_quote!(#[serde(crate = #serde_path)]));
    attrs.insert(
        0,
        parse_quote!(#[derive(#krate::__private::serde::Serialize)]),
    );
}

/// A template derives `Template` through `realtime` unless it already does, and askama's
/// generated code is pointed at `realtime`'s re-export.
fn prepare_template(item: &mut Item, krate: &TokenStream) {
    let attrs = match item {
        Item::Struct(item) => &mut item.attrs,
        Item::Enum(item) => &mut item.attrs,
        _ => return,
    };
    if !derives(attrs, "Template") {
        attrs.insert(
            0,
            parse_quote!(#[derive(#krate::__private::askama::Template)]),
        );
    }
    for attr in attrs
        .iter_mut()
        .filter(|attr| attr.path().is_ident("template"))
    {
        if let Meta::List(list) = &mut attr.meta {
            let names_askama = list
                .parse_args_with(Punctuated::<syn::MetaNameValue, Token![,]>::parse_terminated)
                .is_ok_and(|args| args.iter().any(|arg| arg.path.is_ident("askama")));
            if !names_askama {
                let tokens = &list.tokens;
                list.tokens = quote!(#tokens, askama = #krate::__private::askama);
            }
        }
    }
}

/// The methods share the payload's visibility: a private payload gets private methods.
fn json_methods(name: &LitStr, krate: &TokenStream, vis: &Visibility) -> TokenStream {
    let send_doc = format!(
        " Sends this message on channel `{}` with the seed's default filter: when `sender` is \
         authenticated, only clients authenticated as the same user receive it; when `sender` \
         is a guest, every subscriber does.",
        name.value()
    );
    let send_to_doc = format!(
        " Sends this message on channel `{}` to the subscribers `filter` accepts.",
        name.value()
    );
    quote! {
        #[doc = #send_doc]
        ///
        /// # Errors
        ///
        /// If the message cannot be encoded as JSON; nothing is sent then.
        #vis fn send(
            &self,
            rt: &#krate::Realtime,
            sender: &#krate::RequestAuth,
        ) -> ::core::result::Result<#krate::Delivery, #krate::SendError> {
            #krate::__private::send_json(self, rt, #krate::filter::same_user_or_all(sender))
        }

        #[doc = #send_to_doc]
        ///
        /// # Errors
        ///
        /// If the message cannot be encoded as JSON; nothing is sent then.
        #vis fn send_to<F>(
            &self,
            rt: &#krate::Realtime,
            filter: F,
        ) -> ::core::result::Result<#krate::Delivery, #krate::SendError>
        where
            F: ::core::ops::Fn(&#krate::ClientId, &#krate::Client) -> bool,
        {
            #krate::__private::send_json(self, rt, filter)
        }
    }
}

fn html_methods(name: &LitStr, krate: &TokenStream, vis: &Visibility) -> TokenStream {
    let capture_doc = format!(
        " Renders this template once and broadcasts the HTML on channel `{}` with the seed's \
         default filter; the result answers the requester with the same HTML.",
        name.value()
    );
    let capture_to_doc = format!(
        " Renders this template once and broadcasts the HTML on channel `{}` to the subscribers \
         `filter` accepts; the result answers the requester with the same HTML.",
        name.value()
    );
    quote! {
        #[doc = #capture_doc]
        ///
        /// # Errors
        ///
        /// If the template fails to render; nothing is broadcast then.
        #vis fn capture(
            &self,
            rt: &#krate::Realtime,
            sender: &#krate::RequestAuth,
        ) -> ::core::result::Result<#krate::capture::Captured, #krate::capture::CaptureError> {
            #krate::capture::capture(self, rt, #krate::filter::same_user_or_all(sender))
        }

        #[doc = #capture_to_doc]
        ///
        /// # Errors
        ///
        /// If the template fails to render; nothing is broadcast then.
        #vis fn capture_to<F>(
            &self,
            rt: &#krate::Realtime,
            filter: F,
        ) -> ::core::result::Result<#krate::capture::Captured, #krate::capture::CaptureError>
        where
            F: ::core::ops::Fn(&#krate::ClientId, &#krate::Client) -> bool,
        {
            #krate::capture::capture(self, rt, filter)
        }
    }
}
