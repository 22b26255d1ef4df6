//! The code `#[channel]` generates: the payload's derive, the `Channel` impl and that of
//! `JsonChannel` or `HtmlChannel` (whose provided methods send), the channel's kind for
//! `#[realtime_page]`, inherent methods delegating to the trait's (so calls need no import),
//! and the registry entry. Infallible: `check` decided.

use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{Attribute, Meta, Token, parse_quote};

use super::{Channel, Kind};

pub(crate) fn expand(channel: Channel) -> TokenStream {
    let Channel {
        name,
        krate,
        mut payload,
        kind,
        history: (history_count, history_ttl),
    } = channel;
    match kind {
        Kind::Json { derive_serialize } => {
            if derive_serialize {
                derive_serialize_through(payload.attrs_mut(), &krate);
            }
        }
        Kind::Html { derive_template } => {
            prepare_template(payload.attrs_mut(), &krate, derive_template);
        }
    }
    let ident = payload.ident();
    let (impl_generics, type_generics, where_clause) = payload.generics().split_for_impl();
    let methods = Methods {
        channel: &name.value(),
        krate: &krate,
        vis: payload.vis(),
    };
    let (kind_trait, methods, page_kind, registry_kind) = match kind {
        Kind::Json { .. } => (
            quote!(#krate::JsonChannel),
            methods.json(),
            quote!(#krate::__private::JsonKind),
            quote!(#krate::channel::ChannelKind::Json),
        ),
        Kind::Html { .. } => (
            quote!(#krate::HtmlChannel),
            methods.html(),
            quote!(#krate::__private::HtmlKind),
            quote!(#krate::channel::ChannelKind::Html),
        ),
    };
    quote! {
        #payload

        #[automatically_derived]
        impl #impl_generics #krate::Channel for #ident #type_generics #where_clause {
            const NAME: &'static str = #name;
        }

        #[automatically_derived]
        impl #impl_generics #kind_trait for #ident #type_generics #where_clause {}

        // Lets `#[realtime_page]` tell a JSON channel from a type that is no channel at all.
        #[automatically_derived]
        impl #impl_generics #krate::__private::PageChannel for #ident #type_generics #where_clause {
            type Channel = Self;
            type Kind = #page_kind;
        }

        #[automatically_derived]
        #[allow(dead_code)]
        impl #impl_generics #ident #type_generics #where_clause {
            #methods
        }

        #krate::__private::inventory::submit! {
            #krate::__private::channel_info(
                #name,
                ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)),
                #registry_kind,
                #history_count,
                #history_ttl,
            )
        }
    }
}

/// A JSON payload derives `Serialize` through the runtime crate's re-export.
fn derive_serialize_through(attrs: &mut Vec<Attribute>, krate: &TokenStream) {
    let serde_path = format!("{krate}::__private::serde").replace(' ', "");
    attrs.insert(0, parse_quote!(#[serde(crate = #serde_path)]));
    attrs.insert(
        0,
        parse_quote!(#[derive(#krate::__private::serde::Serialize)]),
    );
}

/// A template derives `Template` through the runtime crate unless it already does, and
/// askama's generated code is pointed at the runtime crate's re-export.
fn prepare_template(attrs: &mut Vec<Attribute>, krate: &TokenStream, derive_template: bool) {
    if derive_template {
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

/// The inherent methods: thin delegates to the trait's provided methods, documented by a
/// line pointing there. They share the payload's visibility: a private payload gets private
/// methods.
struct Methods<'a> {
    channel: &'a str,
    krate: &'a TokenStream,
    vis: &'a syn::Visibility,
}

impl Methods<'_> {
    fn json(&self) -> TokenStream {
        let Self { krate, vis, .. } = self;
        let send_doc = self.doc(
            "Sends this message on channel",
            "with the default filter (the sender's own user, or everyone when a guest sends)",
            "JsonChannel::send",
        );
        let send_to_doc = self.doc(
            "Sends this message on channel",
            "to the subscribers `filter` (an `axum_realtime::Filter`) accepts on every node",
            "JsonChannel::send_to",
        );
        let send_local_doc = self.doc(
            "Sends this message on channel",
            "to the subscribers on this node that `filter` (any closure) accepts",
            "JsonChannel::send_local",
        );
        quote! {
            #[doc = #send_doc]
            #vis fn send(
                &self,
                rt: &#krate::Realtime,
                sender: &#krate::RequestAuth,
            ) -> ::core::result::Result<#krate::Delivery, #krate::SendError> {
                <Self as #krate::JsonChannel>::send(self, rt, sender)
            }

            #[doc = #send_to_doc]
            #vis fn send_to(
                &self,
                rt: &#krate::Realtime,
                filter: impl #krate::IntoFilter,
            ) -> ::core::result::Result<#krate::Delivery, #krate::SendError> {
                <Self as #krate::JsonChannel>::send_to(self, rt, filter)
            }

            #[doc = #send_local_doc]
            #vis fn send_local<F>(
                &self,
                rt: &#krate::Realtime,
                filter: F,
            ) -> ::core::result::Result<#krate::Delivery, #krate::SendError>
            where
                F: ::core::ops::Fn(&#krate::ClientId, &#krate::Client) -> bool,
            {
                <Self as #krate::JsonChannel>::send_local(self, rt, filter)
            }
        }
    }

    fn html(&self) -> TokenStream {
        let Self { krate, vis, .. } = self;
        let capture_doc = self.doc(
            "Renders this template once and broadcasts it on channel",
            "with the default filter (the sender's own user, or everyone when a guest sends)",
            "HtmlChannel::capture",
        );
        let capture_to_doc = self.doc(
            "Renders this template once and broadcasts it on channel",
            "to the subscribers `filter` (an `axum_realtime::Filter`) accepts on every node",
            "HtmlChannel::capture_to",
        );
        let capture_local_doc = self.doc(
            "Renders this template once and broadcasts it on channel",
            "to the subscribers on this node that `filter` (any closure) accepts",
            "HtmlChannel::capture_local",
        );
        quote! {
            #[doc = #capture_doc]
            #vis fn capture(
                &self,
                rt: &#krate::Realtime,
                sender: &#krate::RequestAuth,
            ) -> ::core::result::Result<#krate::capture::Captured, #krate::capture::CaptureError> {
                <Self as #krate::HtmlChannel>::capture(self, rt, sender)
            }

            #[doc = #capture_to_doc]
            #vis fn capture_to(
                &self,
                rt: &#krate::Realtime,
                filter: impl #krate::IntoFilter,
            ) -> ::core::result::Result<#krate::capture::Captured, #krate::capture::CaptureError> {
                <Self as #krate::HtmlChannel>::capture_to(self, rt, filter)
            }

            #[doc = #capture_local_doc]
            #vis fn capture_local<F>(
                &self,
                rt: &#krate::Realtime,
                filter: F,
            ) -> ::core::result::Result<#krate::capture::Captured, #krate::capture::CaptureError>
            where
                F: ::core::ops::Fn(&#krate::ClientId, &#krate::Client) -> bool,
            {
                <Self as #krate::HtmlChannel>::capture_local(self, rt, filter)
            }
        }
    }

    /// " {does} `{channel}` {how}: [`{method}`]({krate}::{method})."
    fn doc(&self, does: &str, how: &str, method: &str) -> String {
        let krate = self.krate.to_string().replace(' ', "");
        format!(
            " {does} `{}` {how}: [`{method}`]({krate}::{method}).",
            self.channel
        )
    }
}
