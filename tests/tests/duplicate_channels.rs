//! Two types declaring one channel name are refused when the broker is built, before any
//! client could receive mixed payloads. (A binary of its own: the registry is program-wide.)

mod first {
    #[axum_realtime::channel("chat")]
    pub(crate) struct ChatMsg {
        pub(crate) text: String,
    }
}

mod second {
    #[axum_realtime::channel("chat")]
    pub(crate) struct OtherMsg {
        pub(crate) body: u32,
    }
}

#[test]
fn building_the_broker_refuses_a_name_used_twice() {
    let err = axum_realtime::Realtime::builder().try_build().unwrap_err();
    assert_eq!(err.name, "chat");
    assert_eq!(
        err.types,
        [
            "duplicate_channels::first::ChatMsg",
            "duplicate_channels::second::OtherMsg"
        ]
    );
    assert_eq!(
        err.to_string(),
        "channel `chat` is declared by two types, `duplicate_channels::first::ChatMsg` and \
         `duplicate_channels::second::OtherMsg`; a channel name belongs to one payload type, so \
         rename one of them"
    );
    let panic = std::panic::catch_unwind(axum_realtime::Realtime::new).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.starts_with("realtime: channel `chat` is declared by two types"),
        "{message}"
    );
    // The types stay usable as values; only serving them is refused.
    let _ = (
        first::ChatMsg {
            text: String::new(),
        }
        .text,
        second::OtherMsg { body: 1 }.body,
    );
}
