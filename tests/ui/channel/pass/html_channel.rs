// An HTML channel: the template is the payload; `Template` comes from `realtime`, and askama is
// not in this crate's manifest either.
use axum_realtime::{Realtime, RequestAuth, Template, channel};

#[channel("chat-html")]
#[derive(Template)]
#[template(source = "<div class=\"message\">{{ text }}</div>", ext = "html")]
struct MessageHtml {
    text: String,
}

// Without `#[derive(Template)]`, `#[channel]` derives it.
#[channel("news-html")]
#[template(source = "<p>{{ headline }}</p>", ext = "html")]
struct NewsHtml {
    headline: String,
}

// One block of a larger template.
#[channel("rows")]
#[derive(Template)]
#[template(
    source = "<table>{% block rows %}{% for row in rows %}<tr><td>{{ row }}</td></tr>{% endfor %}{% endblock %}</table>",
    ext = "html",
    block = "rows"
)]
struct RowsHtml {
    rows: [u32; 1],
}

fn main() {
    let rt = Realtime::new();
    let captured = MessageHtml { text: "<b>".into() }.capture(&rt, &RequestAuth::guest()).unwrap();
    assert_eq!(captured.html, "<div class=\"message\">&#60;b&#62;</div>");
    let captured = NewsHtml { headline: "up".into() }.capture_to(&rt, axum_realtime::everyone).unwrap();
    assert_eq!(captured.html, "<p>up</p>");
    let captured = RowsHtml { rows: [7] }.capture_to(&rt, !axum_realtime::Filter::guests()).unwrap();
    assert_eq!(captured.html, "<tr><td>7</td></tr>");
}
