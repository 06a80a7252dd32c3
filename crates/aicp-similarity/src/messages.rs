//! Prompts arrive as plain text or as chat messages (`[{role, content}]`); this module turns the
//! latter into one canonical text, so that the same conversation always fingerprints the same.

/// The canonical text of a chat prompt: one `role: content` line per message, in order, the role
/// trimmed and lowercased (`"User"` and `"user"` are the same role), the content as given
/// (normalisation deals with its whitespace and case). Keeping the role means that the same words
/// sent as a system prompt and as a user message are different prompts.
///
/// ```
/// let text = aicp_similarity::prompt_text(&[("system", "Be brief."), ("User", "Hi")]);
/// assert_eq!(text, "system: Be brief.\nuser: Hi");
/// ```
#[must_use]
pub fn prompt_text<R: AsRef<str>, C: AsRef<str>>(messages: &[(R, C)]) -> String {
    let capacity = messages.iter().map(|(r, c)| r.as_ref().len() + c.as_ref().len() + 3).sum();
    let mut out = String::with_capacity(capacity);
    for (i, (role, content)) in messages.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&role.as_ref().trim().to_lowercase());
        out.push_str(": ");
        out.push_str(content.as_ref());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_join_in_order_with_their_roles() {
        let owned =
            vec![("system".to_owned(), "Be brief.".to_owned()), ("user".into(), "Hi".into())];
        assert_eq!(prompt_text(&owned), "system: Be brief.\nuser: Hi");
        assert_eq!(prompt_text(&[(" Assistant ", "ok")]), "assistant: ok");
        assert_eq!(prompt_text::<&str, &str>(&[]), "");
    }

    #[test]
    fn the_role_is_part_of_the_prompt() {
        assert_ne!(prompt_text(&[("system", "x")]), prompt_text(&[("user", "x")]));
    }
}
