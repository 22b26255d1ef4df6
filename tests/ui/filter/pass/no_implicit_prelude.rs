// Generated code names everything by absolute paths.
#![no_implicit_prelude]

#[::axum_realtime::filter]
fn in_room(client: &::axum_realtime::Client, room: &str, seats: &[u32], level: u64) -> bool {
    client.get::<::std::string::String>("roomId").as_deref() == ::std::option::Option::Some(room)
        && !seats.is_empty()
        && level > 0
}

fn main() {
    let _: ::axum_realtime::Filter = in_room("7", &[1], 2);
}
