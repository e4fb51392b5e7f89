//! Markdown that mlops writes — PR verdicts, run comparisons, drift and
//! audit reports — embeds user text (names, reasons, model-card fields,
//! column names). One escaper for all of it, so a value that is safe in one
//! document is safe in every other: a `|` must not split a table row, a
//! newline must not end it, and raw HTML must not reach a viewer that
//! renders it (GitHub renders inline HTML in PR comments).

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' => out.push(' '),
            '\r' => {}
            _ => out.push(c),
        }
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
}
