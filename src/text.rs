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

#[cfg(test)]
mod tests {
    use super::cap;

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
