//! How a message list is paged and searched, the same in both backends.

/// Largest page `list_messages` returns.
pub(crate) const MAX_PAGE: u32 = 200;

/// `%text%` for `LIKE ... ESCAPE '\'`, with the caller's `%`, `_` and `\`
/// taken literally.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// The page size to ask the database for: at least one, at most
/// [`MAX_PAGE`].
pub(crate) fn page_size(limit: u32) -> i64 {
    i64::from(limit.clamp(1, MAX_PAGE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(contains_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }

    #[test]
    fn page_size_is_clamped() {
        assert_eq!(page_size(0), 1);
        assert_eq!(page_size(50), 50);
        assert_eq!(page_size(10_000), i64::from(MAX_PAGE));
    }
}
