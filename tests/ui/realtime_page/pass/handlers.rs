// `#[realtime_page]` handlers are axum handlers: with the default filter, a `#[filter]`
// function, a combination of built-in filters, and a `Result` return.
use axum::Router;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::routing::post;
use axum_realtime::{Client, Filter, Realtime, channel, filter, realtime_page};

#[channel("chat")]
#[template(source = "<div>{{ text }}</div>", ext = "html")]
struct MessageHtml {
    text: String,
}

#[filter]
fn everyone_but_bots(client: &Client) -> bool {
    !client.has("bot")
}

#[realtime_page]
async fn default_filter(body: String) -> MessageHtml {
    MessageHtml { text: body }
}

#[realtime_page(filter = everyone_but_bots())]
async fn filter_function(Form(form): Form<Vec<(String, String)>>) -> MessageHtml {
    MessageHtml { text: form.into_iter().map(|(_, v)| v).collect() }
}

#[realtime_page(filter = Filter::stored("roomId", "7").or(Filter::superusers()))]
pub async fn combined_filter(body: String) -> Result<MessageHtml, (StatusCode, String)> {
    if body.is_empty() {
        return Err((StatusCode::BAD_REQUEST, "empty".into()));
    }
    let text = body.parse::<String>().map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    Ok(MessageHtml { text })
}

fn main() {
    let rt = Realtime::new();
    let _app: Router = rt.mount(
        Router::new()
            .route("/a", post(default_filter))
            .route("/b", post(filter_function))
            .route("/c", post(combined_filter)),
    );
}
