//! Small text helpers shared by the layers.

/// The first `n` characters (Unicode scalar values) of `s`, cut at a character boundary.
#[must_use]
pub fn char_prefix(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((cut, _)) => &s[..cut],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_count_characters_not_bytes() {
        assert_eq!(char_prefix("bé€ta", 3), "bé€");
        assert_eq!(char_prefix("abc", 3), "abc");
        assert_eq!(char_prefix("abc", 10), "abc");
        assert_eq!(char_prefix("abc", 0), "");
        assert_eq!(char_prefix("", 2), "");
    }
}
