struct Opaque;

fn main() {
    let rt = axum_realtime::Realtime::new();
    let _ = rt.send_to("chat", &Opaque, axum_realtime::everyone);
}
