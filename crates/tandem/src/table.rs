//! Terminal tables: columns padded by *display* width, so names in CJK or
//! with emoji (two columns each) or combining marks (none) keep the columns
//! aligned, and text too wide for its column cut with an ellipsis.

use unicode_width::UnicodeWidthStr;

/// `text` padded with spaces (or cut, ending in `…`) to `width` columns.
pub fn cell(text: &str, width: usize) -> String {
    let shown = UnicodeWidthStr::width(text);
    if shown <= width {
        return format!("{text}{}", " ".repeat(width - shown));
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    used += 1;
    out.push_str(&" ".repeat(width.saturating_sub(used)));
    out
}

/// A number with `decimals` decimals, or `—` when unknown, right-aligned in `width`.
pub fn number(value: Option<f64>, width: usize, decimals: usize) -> String {
    match value {
        Some(v) => format!("{v:>width$.decimals$}"),
        None => format!("{:>width$}", "—"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_take_the_same_columns_whatever_the_script() {
        for text in ["Gate", "正門", "🚪 door", "e\u{301}te"] {
            let c = cell(text, 10);
            assert_eq!(UnicodeWidthStr::width(c.as_str()), 10, "{text:?} -> {c:?}");
        }
        let cut = cell("a very long preset name indeed", 10);
        assert_eq!(UnicodeWidthStr::width(cut.as_str()), 10);
        assert!(cut.trim_end().ends_with('…'), "{cut:?}");
        let wide = cell("正門正門正門正門", 7);
        assert_eq!(UnicodeWidthStr::width(wide.as_str()), 7, "{wide:?}");
    }

    #[test]
    fn unknown_numbers_show_a_dash_not_nan() {
        assert_eq!(number(None, 8, 4), "       —");
        assert_eq!(number(Some(0.25), 8, 4), "  0.2500");
    }
}
