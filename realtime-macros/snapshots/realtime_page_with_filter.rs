async fn post_chat(
    __realtime_page: ::realtime::__private::PageContext,
    Form(form): Form<ChatForm>,
) -> ::realtime::__private::axum::response::Response {
    let __realtime_output: MessageHtml = async move { MessageHtml { text: form.text } }
        .await;
    let __realtime_filter: ::realtime::__private::PageFilter<'_> = &realtime::everyone;
    <MessageHtml as ::realtime::__private::PageOutput>::respond(
        __realtime_output,
        &__realtime_page,
        __realtime_filter,
    )
}
