pub async fn post_chat(
    __realtime_page: ::realtime::__private::PageContext,
    body: String,
) -> ::realtime::__private::axum::response::Response {
    let __realtime_output: Result<MessageHtml, AppError> = async move {
        Ok(MessageHtml { text: body })
    }
        .await;
    let __realtime_filter: ::realtime::__private::PageFilter<'_> = &::realtime::default_for(
        __realtime_page.auth(),
    );
    <Result<
        MessageHtml,
        AppError,
    > as ::realtime::__private::PageOutput>::respond(
        __realtime_output,
        &__realtime_page,
        __realtime_filter,
    )
}
