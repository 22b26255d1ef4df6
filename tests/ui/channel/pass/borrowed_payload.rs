// A payload may borrow: lifetimes are allowed, only type parameters are not.
#[axum_realtime::channel("chat")]
struct ChatMsg<'a> {
    user: &'a str,
    text: std::borrow::Cow<'a, str>,
}

fn main() {
    let rt = axum_realtime::Realtime::new();
    let user = String::from("ann");
    let msg = ChatMsg { user: &user, text: "hi".into() };
    let _ = msg.send_to(&rt, axum_realtime::everyone).unwrap();
}
