pub async fn post_chat(
    __realtime_page: ::axum_realtime::__private::PageContext,
    body: String,
) -> ::axum_realtime::__private::axum::response::Response {
    let __realtime_output: Result<MessageHtml, AppError> = async move {
        Ok(MessageHtml { text: body })
    }
        .await;
    let __realtime_filter = ::axum_realtime::filter::same_user_or_all(
        __realtime_page.auth(),
    );
    <<Result<
        MessageHtml,
        AppError,
    > as ::axum_realtime::__private::PageChannel>::Kind as ::axum_realtime::__private::Respond<
        Result<MessageHtml, AppError>,
        <Result<
            MessageHtml,
            AppError,
        > as ::axum_realtime::__private::PageChannel>::Channel,
    >>::respond(__realtime_output, &__realtime_page, __realtime_filter)
}
