// serde's attributes work on a payload: renames, skips, custom serializers.
#[axum_realtime::channel("presence")]
#[serde(rename_all = "camelCase", tag = "kind")]
enum Presence {
    UserJoined { user_name: String },
    UserLeft {
        user_name: String,
        #[serde(skip)]
        internal: std::cell::Cell<u8>,
    },
}

fn main() {
    let rt = axum_realtime::Realtime::new();
    let joined = Presence::UserJoined { user_name: "ann".into() };
    let _ = joined.send_to(&rt, axum_realtime::everyone).unwrap();
    let left = Presence::UserLeft { user_name: "ann".into(), internal: std::cell::Cell::new(0) };
    let _ = left.send_to(&rt, axum_realtime::everyone).unwrap();
}
