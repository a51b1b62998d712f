//! FAQ answers and agents' replies: Markdown rendered to HTML, then cleaned by an allow-list
//! sanitiser.

use crate::domain::{Author, Message, SanitizedHtml};
use pulldown_cmark::{Options, Parser, html};
use std::sync::OnceLock;

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static SANITIZER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    SANITIZER.get_or_init(|| {
        let mut builder = ammonia::Builder::default();
        builder.link_rel(Some("noopener nofollow"));
        builder
    })
}

/// Renders `markdown` (CommonMark with tables and strikethrough) to safe HTML: raw HTML,
/// scripts, event handlers and `javascript:` links are removed; links get
/// `rel="noopener nofollow"`.
pub fn render(markdown: &str) -> SanitizedHtml {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options));
    SanitizedHtml::from_sanitizer(sanitizer().clean(&unsafe_html).to_string())
}

/// A message as rich text, the way the customer sees it: FAQ answers and agents' public
/// replies are Markdown (agents often paste an answer); everything else is plain text (`None`).
pub fn rendered_message(message: &Message) -> Option<SanitizedHtml> {
    let is_answer = message.details.get("kind").and_then(|k| k.as_str()) == Some("answer");
    let rich = match message.author {
        Author::Bot => is_answer,
        Author::Agent => !message.private,
        Author::Customer | Author::System => false,
    };
    rich.then(|| render(&message.body))
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_becomes_html() {
        let html = render("**Free** shipping over ¥99:\n\n- fast\n- tracked");
        assert!(html.as_str().contains("<strong>Free</strong>"));
        assert!(html.as_str().contains("<li>fast</li>"));
    }

    #[test]
    fn dangerous_html_is_removed_and_links_are_marked() {
        let html = render(
            "<script>alert(1)</script><img src=x onerror=alert(1)>\n\n[pay](javascript:alert(1)) [shop](https://shop.example)",
        );
        let html = html.as_str();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("rel=\"noopener nofollow\""), "{html}");
    }
}
