use axum_realtime::Client;

#[axum_realtime::filter]
const unsafe extern "C" fn in_room(_client: &Client) -> bool {
    true
}

fn main() {}
