//! Formula-injection neutralisation of CSV cells (OWASP ASVS 5.0 V1.2.10, CWE-1236).
//!
//! Spreadsheets evaluate a cell whose text starts with `=`, `+`, `-` or `@` (and, through
//! tricks, tab, CR or NUL) as a formula, whatever the CSV quoting. A leading `'` makes them show
//! the text instead. Only text that comes from clients needs it; the numbers we format ourselves
//! never start with one of these characters.

use std::borrow::Cow;

/// First characters that make a CSV cell a potential formula: the OWASP CSV-injection list
/// (`=`, `+`, `-`, `@`, tab, CR) plus ASVS 5.0's NUL.
pub const FORMULA_TRIGGERS: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\0'];

/// `text` with a leading `'` when it starts with one of [`FORMULA_TRIGGERS`], else unchanged.
///
/// Quoting (for commas, quotes, CR/LF) is applied afterwards by the CSV writer.
pub fn neutralize_formula(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_TRIGGERS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A client-supplied text cell: neutralised when `guard` is on.
pub(crate) fn text_cell(text: &str, guard: bool) -> Cow<'_, str> {
    if guard { neutralize_formula(text) } else { Cow::Borrowed(text) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trigger_gets_a_leading_quote_and_other_text_is_untouched() {
        for c in FORMULA_TRIGGERS {
            let text = format!("{c}cmd");
            assert_eq!(neutralize_formula(&text), format!("'{text}"));
        }
        assert!(matches!(neutralize_formula("chat"), Cow::Borrowed("chat")));
        assert!(matches!(neutralize_formula(""), Cow::Borrowed("")));
        assert_eq!(neutralize_formula(" =1"), " =1");
        assert_eq!(neutralize_formula("a=1"), "a=1");
    }

    #[test]
    fn the_guard_can_be_turned_off() {
        assert_eq!(text_cell("=1+1", false), "=1+1");
        assert_eq!(text_cell("=1+1", true), "'=1+1");
    }
}
