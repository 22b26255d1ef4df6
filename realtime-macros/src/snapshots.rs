//! Expansion snapshots: what each macro generates for typical input, pretty-printed and
//! compared with `snapshots/*.rs`. Set `REALTIME_BLESS=1` to rewrite them, then read the diff.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;

fn check(name: &str, expanded: TokenStream) {
    let file = syn::parse2(expanded).expect("the expansion parses as a file");
    let pretty = prettyplease::unparse(&file);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("snapshots")
        .join(format!("{name}.rs"));
    if std::env::var_os("REALTIME_BLESS").is_some() {
        std::fs::write(&path, &pretty).expect("write the snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {}; run with REALTIME_BLESS=1", path.display()));
    assert!(
        expected == pretty,
        "{name} expands differently; rerun with REALTIME_BLESS=1 and read the diff:\n{pretty}"
    );
}

#[test]
fn json_channel() {
    check(
        "json_channel",
        crate::channel::expand(
            quote!("chat"),
            quote! {
                pub struct ChatMsg {
                    pub user: String,
                    pub text: String,
                }
            },
        ),
    );
}

#[test]
fn html_channel() {
    check(
        "html_channel",
        crate::channel::expand(
            quote!("chat-html", crate = my_realtime),
            quote! {
                #[derive(Template)]
                #[template(path = "chat.html", block = "messages")]
                struct MessageHtml {
                    messages: [Message; 1],
                }
            },
        ),
    );
}

#[test]
fn realtime_page_with_filter() {
    check(
        "realtime_page_with_filter",
        crate::realtime_page::expand(
            quote!(filter = axum_realtime::everyone),
            quote! {
                async fn post_chat(Form(form): Form<ChatForm>) -> MessageHtml {
                    MessageHtml { text: form.text }
                }
            },
        ),
    );
}

#[test]
fn realtime_page_with_default_filter() {
    check(
        "realtime_page_default_filter",
        crate::realtime_page::expand(
            TokenStream::new(),
            quote! {
                pub async fn post_chat(body: String) -> Result<MessageHtml, AppError> {
                    Ok(MessageHtml { text: body })
                }
            },
        ),
    );
}

#[test]
fn filter() {
    check(
        "filter",
        crate::filter::expand(
            TokenStream::new(),
            quote! {
                /// Clients in `room`.
                pub fn in_room(client: &Client, room: &str) -> bool {
                    client.get::<String>("roomId").as_deref() == Some(room)
                }
            },
        ),
    );
}

#[test]
fn filter_of_every_argument_kind() {
    check(
        "filter_of_every_argument_kind",
        crate::filter::expand(
            quote!(crate = my_realtime),
            quote! {
                #[must_use = "a filter does nothing until it is sent with"]
                pub(crate) fn seated(
                    client: &my_realtime::Client,
                    rows: &[u32],
                    (low, high): (u8, u8),
                    mut min_level: u64,
                    rule: &Rule,
                ) -> bool {
                    min_level += 1;
                    rule.admits(client, rows, low..high, min_level)
                }
            },
        ),
    );
}

#[test]
fn errors_still_emit_the_item() {
    let expanded = crate::channel::expand(
        quote!("a b"),
        quote!(
            struct ChatMsg;
        ),
    );
    let text = expanded.to_string();
    assert!(text.starts_with("struct ChatMsg ;"), "{text}");
    assert!(text.contains("compile_error"), "{text}");
}
