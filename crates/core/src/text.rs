//! Text that came from outside and is shown or recorded: which characters
//! hide themselves or reorder the text around them ([`is_invisible`]), and how
//! text nobody authenticated is made safe to record ([`for_record`]).
//!
//! A user name shown in a console table, a terminal or a spreadsheet must
//! read as what it is: a right-to-left override (U+202E) makes the rest of a
//! name display reversed, a zero-width space makes two names that look the same
//! differ, and a cell starting with `=` is a formula to a spreadsheet.

/// The character that stands in for one [`for_record`] removed (U+FFFD).
pub const REPLACEMENT: char = '\u{FFFD}';

/// True for characters that are invisible or change how the text around them
/// is displayed: zero-width spaces and joiners, bidirectional marks,
/// embeddings, overrides and isolates, the byte-order mark, fillers and tag
/// characters. Variation selectors are not among them: emoji need U+FE0F.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                    // soft hyphen
        | '\u{034F}'                  // combining grapheme joiner
        | '\u{061C}'                  // Arabic letter mark
        | '\u{115F}' | '\u{1160}'     // Hangul fillers
        | '\u{17B4}' | '\u{17B5}'     // Khmer inherent vowels
        | '\u{180E}'                  // Mongolian vowel separator
        | '\u{200B}'..='\u{200F}'     // zero-width space, (non-)joiner, LRM, RLM
        | '\u{202A}'..='\u{202E}'     // bidi embeddings and overrides
        | '\u{2060}'..='\u{206F}'     // word joiner, invisible operators, isolates
        | '\u{3164}' | '\u{FFA0}'     // Hangul fillers
        | '\u{FEFF}'                  // byte-order mark, zero-width no-break space
        | '\u{FFF9}'..='\u{FFFB}'     // interlinear annotation
        | '\u{1D173}'..='\u{1D17A}'   // musical formatting
        | '\u{E0000}'..='\u{E007F}' // tags
    )
}

/// True for a control character or one of [`is_invisible`]'s.
pub fn is_hidden(c: char) -> bool {
    c.is_control() || is_invisible(c)
}

/// `text` as it may be recorded (the audit log's actor of a refused login,
/// which anyone can send): at most `max_chars` characters (a cut one ends
/// with `…`), control and [invisible](is_invisible) characters replaced by
/// [`REPLACEMENT`], and a leading `=`, `+`, `-` or `@` preceded by `'` so
/// that a spreadsheet opening an export does not take it for a formula.
pub fn for_record(text: &str, max_chars: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max_chars)
        .map(|c| if is_hidden(c) { REPLACEMENT } else { c })
        .collect();
    if text.chars().nth(max_chars).is_some() {
        out.pop();
        out.push('…');
    }
    if out.starts_with(['=', '+', '-', '@']) {
        out.insert(0, '\'');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_overrides_zero_width_and_the_bom_are_invisible_but_letters_and_emoji_are_not() {
        for c in [
            '\u{202E}', '\u{202D}', '\u{200B}', '\u{200D}', '\u{2066}', '\u{FEFF}',
        ] {
            assert!(is_invisible(c), "{:04X}", c as u32);
        }
        for c in ['a', 'é', 'ß', '日', '\u{FE0F}', ' ', '😀'] {
            assert!(!is_invisible(c), "{:04X}", c as u32);
        }
        assert!(is_hidden('\n') && is_hidden('\u{7F}') && is_hidden('\u{202E}'));
    }

    #[test]
    fn recorded_text_is_cut_cleaned_and_never_a_formula() {
        assert_eq!(for_record("olga", 64), "olga");
        assert_eq!(for_record("", 64), "");
        assert_eq!(for_record(&"x".repeat(60_000), 64).chars().count(), 64);
        assert!(for_record(&"x".repeat(65), 64).ends_with('…'));
        assert_eq!(for_record(&"x".repeat(64), 64), "x".repeat(64));
        assert_eq!(for_record("a\r\nb", 64), "a\u{FFFD}\u{FFFD}b");
        assert_eq!(for_record("adm\u{202E}nim", 64), "adm\u{FFFD}nim");
        assert_eq!(for_record("ad\u{200B}min", 64), "ad\u{FFFD}min");
        for formula in ["=cmd|' /C calc'!A0", "+1", "-1+1", "@SUM(A1)"] {
            let recorded = for_record(formula, 64);
            assert!(recorded.starts_with('\''), "{recorded}");
            assert_eq!(&recorded[1..], formula);
        }
        assert_eq!(for_record("\t=1", 64), "\u{FFFD}=1", "no longer leading");
    }
}
