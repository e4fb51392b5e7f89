//! Markdown that mlops writes — PR verdicts, run comparisons, drift and
//! audit reports — embeds user text (names, reasons, model-card fields,
//! column names). One escaper for all of it, so a value that is safe in one
//! document is safe in every other: a `|` must not split a table row, a
//! newline must not end it, and raw HTML must not reach a viewer that
//! renders it (GitHub renders inline HTML in PR comments). Nor may a
//! record value become a link, an image (a tracking pixel), an `@mention`
//! that notifies someone, a `#123` cross-reference, emphasis or code: every
//! character Markdown gives meaning to is escaped, and bare URLs are broken
//! so that no renderer autolinks them.

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut prev: Option<char> = None;
    let mut chars = s.chars().peekable();
    // Once, not per `:` (a long value full of colons was quadratic).
    let has_scheme = s.contains("://");
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' => out.push(' '),
            '\r' => {}
            // Inside a word (`val_loss`) `_` is no emphasis (CommonMark).
            '_' if prev.is_some_and(char::is_alphanumeric)
                && chars.peek().is_some_and(|n| n.is_alphanumeric()) =>
            {
                out.push('_')
            }
            '[' | ']' | '*' | '_' | '`' | '~' => {
                out.push('\\');
                out.push(c);
            }
            // `#12` links an issue.
            '#' if chars.peek().is_some_and(char::is_ascii_digit) => out.push_str("\\#"),
            // `@name` notifies name on GitHub and GitLab: a zero-width
            // joiner after `@` keeps the text and drops the mention.
            '@' => {
                out.push('@');
                if chars.peek().is_some_and(|n| n.is_alphanumeric())
                    && !prev.is_some_and(|p| p.is_alphanumeric())
                {
                    out.push('\u{2060}');
                }
            }
            // `https://…` is autolinked: `:` becomes an HTML entity.
            ':' if has_scheme && chars.peek() == Some(&'/') => out.push_str("&#58;"),
            _ => out.push(c),
        }
        prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_breakers_and_markup_are_neutralised() {
        assert_eq!(super::escape("a|b<i>\\\nc"), "a\\|b&lt;i&gt;\\\\ c");
        assert_eq!(super::escape("plain text"), "plain text");
    }

    #[test]
    fn links_images_mentions_and_emphasis_are_neutralised() {
        let e = super::escape("![x](http://evil.example/p.png) [click](https://evil.example) @alice *bold* _em_ `code` #12");
        assert!(e.contains("!\\[x\\]") && e.contains("\\[click\\]"), "{e}");
        assert!(e.contains("\\#12"), "{e}");
        assert!(!e.contains("https://") && !e.contains("http://"), "{e}");
        assert!(e.contains("@\u{2060}alice"), "{e}");
        assert!(
            e.contains("\\*bold\\*") && e.contains("\\_em\\_") && e.contains("\\`code\\`"),
            "{e}"
        );
        // An e-mail address keeps its `@` as is (no mention there).
        assert_eq!(super::escape("risk@bank.example"), "risk@bank.example");
    }
}
