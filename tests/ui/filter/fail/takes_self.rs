use axum_realtime::Client;

struct Rooms;

impl Rooms {
    #[axum_realtime::filter]
    fn in_room(&self, client: &Client) -> bool {
        client.has("roomId")
    }
}

fn main() {}
