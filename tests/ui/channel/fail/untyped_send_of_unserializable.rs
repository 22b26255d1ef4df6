struct Opaque;

fn main() {
    let rt = realtime::Realtime::new();
    let _ = rt.send_to("chat", &Opaque, realtime::everyone);
}
