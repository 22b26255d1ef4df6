/// Clients in `room`.
#[must_use]
pub fn in_room(room: &str) -> ::axum_realtime::Filter {
    fn __realtime_check(client: &Client, room: &str) -> bool {
        client.get::<String>("roomId").as_deref() == Some(room)
    }
    fn __realtime_prepare(
        __args: &::axum_realtime::__private::serde_json::Value,
    ) -> ::core::result::Result<
        ::axum_realtime::__private::Predicate,
        ::axum_realtime::__private::serde_json::Error,
    > {
        let [__arg0] = ::axum_realtime::__private::arguments::<1>(__args)?;
        let __arg0 = ::axum_realtime::__private::decode::<
            ::std::string::String,
        >(__arg0)?;
        let __predicate: ::axum_realtime::__private::Predicate = ::std::boxed::Box::new(move |
            __client: &::axum_realtime::Client,
        | -> ::core::primitive::bool {
            ::axum_realtime::__private::accepted(__realtime_check(__client, &__arg0))
        });
        ::core::result::Result::Ok(__predicate)
    }
    const __REALTIME_NAME: &::core::primitive::str = ::core::concat!(
        ::core::module_path!(), "::", "in_room"
    );
    ::axum_realtime::__private::inventory::submit! {
        ::axum_realtime::__private::NamedFilter::new(__REALTIME_NAME, __realtime_prepare)
    }
    ::axum_realtime::__private::named_filter(
        __REALTIME_NAME,
        [::axum_realtime::__private::encode(room)],
    )
}
