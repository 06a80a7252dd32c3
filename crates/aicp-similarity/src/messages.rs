//! Prompts arrive as plain text or as chat messages (`[{role, content}]`); this module turns the
//! latter into one canonical text, so that the same conversation always fingerprints the same.

/// Defined in the domain (ingest builds the prompt text from messages); re-exported here.
pub use aicp_domain::similarity::prompt_text;

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
