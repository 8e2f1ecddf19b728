//! Reports as HTML. A report holds the model's words, so everything that could act in a
//! browser is made inert: raw HTML is shown as text, links keep only their text (no
//! `javascript:` URL can hide in one), and images become their alt text (the page fetches
//! nothing from anywhere).

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

/// Markdown to HTML that is safe to place in the page.
#[must_use]
pub(crate) fn to_html(markdown: &str) -> String {
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    );
    let events = parser.filter_map(|e| match e {
        Event::Html(t) | Event::InlineHtml(t) => Some(Event::Text(t)),
        Event::Start(Tag::Link { .. } | Tag::Image { .. })
        | Event::End(TagEnd::Link | TagEnd::Image) => None,
        other => Some(other),
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_in_a_report_can_act_in_the_browser() {
        let html = to_html(
            "## T\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1)) ![x](http://e/x.png) <img src=x onerror=alert(1)> **b**",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("href"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(
            html.contains("<strong>b</strong>") && html.contains("<h2>T</h2>"),
            "{html}"
        );
    }
}
