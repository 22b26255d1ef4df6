async fn post_chat(
    __realtime_page: ::axum_realtime::__private::PageContext,
    Form(form): Form<ChatForm>,
) -> ::axum_realtime::__private::axum::response::Response {
    let __realtime_output: MessageHtml = async move { MessageHtml { text: form.text } }
        .await;
    let __realtime_filter = ::axum_realtime::__private::page_filter(
        axum_realtime::everyone,
    );
    <<MessageHtml as ::axum_realtime::__private::PageChannel>::Kind as ::axum_realtime::__private::Respond<
        MessageHtml,
        <MessageHtml as ::axum_realtime::__private::PageChannel>::Channel,
    >>::respond(__realtime_output, &__realtime_page, __realtime_filter)
}
