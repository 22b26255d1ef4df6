#[must_use = "a filter does nothing until it is sent with"]
pub(crate) fn seated(
    rows: &[u32],
    __arg1: (u8, u8),
    min_level: u64,
    rule: &Rule,
) -> my_realtime::Filter {
    fn __realtime_check(
        client: &my_realtime::Client,
        rows: &[u32],
        (low, high): (u8, u8),
        mut min_level: u64,
        rule: &Rule,
    ) -> bool {
        min_level += 1;
        rule.admits(client, rows, low..high, min_level)
    }
    fn __realtime_prepare(
        __args: &my_realtime::__private::serde_json::Value,
    ) -> ::core::result::Result<
        my_realtime::__private::Predicate,
        my_realtime::__private::serde_json::Error,
    > {
        let [__arg0, __arg1, __arg2, __arg3] = my_realtime::__private::arguments::<
            4,
        >(__args)?;
        let __arg0 = my_realtime::__private::decode::<::std::vec::Vec<u32>>(__arg0)?;
        let __arg1 = my_realtime::__private::decode::<(u8, u8)>(__arg1)?;
        let __arg2 = my_realtime::__private::decode::<u64>(__arg2)?;
        let __arg3 = my_realtime::__private::decode::<Rule>(__arg3)?;
        let __predicate: my_realtime::__private::Predicate = ::std::boxed::Box::new(move |
            __client: &my_realtime::Client,
        | -> ::core::primitive::bool {
            my_realtime::__private::accepted(
                __realtime_check(
                    __client,
                    &__arg0,
                    ::core::clone::Clone::clone(&__arg1),
                    ::core::clone::Clone::clone(&__arg2),
                    &__arg3,
                ),
            )
        });
        ::core::result::Result::Ok(__predicate)
    }
    const __REALTIME_NAME: &::core::primitive::str = ::core::concat!(
        ::core::module_path!(), "::", "seated"
    );
    my_realtime::__private::inventory::submit! {
        my_realtime::__private::NamedFilter::new(__REALTIME_NAME, __realtime_prepare)
    }
    my_realtime::__private::named_filter(
        __REALTIME_NAME,
        [
            my_realtime::__private::encode(rows),
            my_realtime::__private::encode(__arg1),
            my_realtime::__private::encode(min_level),
            my_realtime::__private::encode(rule),
        ],
    )
}
