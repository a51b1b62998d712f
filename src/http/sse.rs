//! Server-Sent Events framing shared by the widget's and the desk's live streams.

use std::time::Duration;

/// A comment line this often keeps proxies from closing an idle stream.
pub const KEEPALIVE: Duration = Duration::from_secs(25);

/// One SSE frame; every line of `data` gets its own `data:` prefix.
pub fn sse_frame(event: &str, id: Option<i64>, data: &str) -> String {
    let mut frame = format!("event: {event}\n");
    if let Some(id) = id {
        frame.push_str(&format!("id: {id}\n"));
    }
    for line in data.lines() {
        frame.push_str("data: ");
        frame.push_str(line);
        frame.push('\n');
    }
    frame.push('\n');
    frame
}

#[cfg(test)]
mod tests {
    use super::sse_frame;

    #[test]
    fn multi_line_data_is_one_event() {
        assert_eq!(
            sse_frame("message", Some(7), "<p>a</p>\n<p>b</p>"),
            "event: message\nid: 7\ndata: <p>a</p>\ndata: <p>b</p>\n\n"
        );
    }
}
