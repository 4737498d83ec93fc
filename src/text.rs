//! Text from the data, cut to a bound before it reaches the email: a name or a comment of a
//! megabyte must not make a message of megabytes (Gmail clips HTML past about 102 KB).

/// Metric labels, campaign and channel names.
pub const LABEL: usize = 80;
/// Product names and SKUs.
pub const NAME: usize = 80;
/// Feedback themes.
pub const THEME: usize = 60;
/// One customer comment quoted in the email.
pub const COMMENT: usize = 280;

/// `s` cut to at most `max` characters, the last of them an ellipsis when anything was cut.
/// Control characters become spaces, so a line break in the data cannot break a layout.
pub fn cap(s: &str, max: usize) -> String {
    let clean = |c: char| if c.is_control() { ' ' } else { c };
    if s.chars().nth(max).is_none() {
        return s.chars().map(clean).collect();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).map(clean).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// FNV-1a, 64 bits: stable across Rust versions and platforms, unlike `DefaultHasher`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Width of the plain-text part: 76 characters leave room for quoting in replies.
pub const TEXT_WIDTH: usize = 76;

/// `s` wrapped at word boundaries to [`TEXT_WIDTH`], the first line indented by `first`
/// spaces and the rest by `rest`. A word longer than a line (a URL) stays whole on a line
/// of its own rather than being broken.
pub fn wrap(s: &str, first: usize, rest: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = " ".repeat(first);
    let mut empty = true;
    for word in s.split_whitespace() {
        let len = line.chars().count();
        if !empty && len + 1 + word.chars().count() > TEXT_WIDTH {
            lines.push(std::mem::replace(&mut line, " ".repeat(rest)));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    lines.push(line);
    lines.join("\n")
}

/// `s` padded with spaces to `width` characters, or cut to it with an ellipsis; on the
/// left when `right` (numbers), else on the right.
pub fn fit(s: &str, width: usize, right: bool) -> String {
    let s = cap(s, width);
    let pad = " ".repeat(width.saturating_sub(s.chars().count()));
    if right {
        format!("{pad}{s}")
    } else {
        format!("{s}{pad}")
    }
}

#[cfg(test)]
mod tests {
    use super::{TEXT_WIDTH, cap, fit, wrap};

    #[test]
    fn wrapping_keeps_lines_to_76_and_long_words_whole() {
        let text = "Gift Guide on paid search starts Thu 3 Dec (3 Dec - 9 Dec): +22% orders expected from that channel's past campaigns.";
        let w = wrap(text, 2, 4);
        for l in w.lines() {
            assert!(l.chars().count() <= TEXT_WIDTH, "{l:?}");
        }
        assert!(w.starts_with("  Gift Guide"));
        assert!(w.lines().nth(1).unwrap().starts_with("    "));
        assert_eq!(w.split_whitespace().collect::<Vec<_>>().join(" "), text);
        let url = format!("see https://example.com/{}", "x".repeat(90));
        let w = wrap(&url, 0, 0);
        assert_eq!(w.lines().count(), 2);
        assert_eq!(w.lines().nth(1).unwrap().len(), 20 + 90);
        assert_eq!(fit("Sessions", 10, false), "Sessions  ");
        assert_eq!(fit("6,323", 7, true), "  6,323");
        assert_eq!(fit("Customer acquisition cost", 10, false), "Customer… ");
    }

    #[test]
    fn short_text_is_kept_and_long_text_is_cut_with_an_ellipsis() {
        assert_eq!(cap("Blue mug", 10), "Blue mug");
        assert_eq!(cap("0123456789", 10), "0123456789");
        assert_eq!(cap("0123456789A", 10), "012345678…");
        assert_eq!(cap("ééééé", 3), "éé…");
        assert_eq!(cap("two words", 5), "two…");
        assert_eq!(cap("a\nb", 10), "a b");
        assert_eq!(cap(&"x".repeat(2_000_000), 280).chars().count(), 280);
    }
}
