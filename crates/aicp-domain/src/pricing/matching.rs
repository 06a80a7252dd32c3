//! From the model name an SDK reports to the keys a price can be filed under.
//!
//! Only rules that cannot turn one model into another are applied: case, provider and host
//! prefixes (`openai/`, `models/`, `accounts/fireworks/models/`, Bedrock's `us.anthropic.`),
//! version suffixes of hosted ids (`-v2:0`, `@20241022`), release dates and `-latest` / `-001`
//! style revision suffixes. `-exp` and `-preview` are never stripped: experimental models are
//! priced differently. Exact names are always tried first, so a dated snapshot with its own
//! price (e.g. `gpt-4o-2024-05-13`) is never priced as its alias.

/// Candidate keys for `reported`, most specific first, without duplicates.
pub fn candidates(reported: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    };
    let full = reported.trim().to_ascii_lowercase();
    push(full.clone());
    let base = full.rsplit('/').next().unwrap_or(&full).to_owned();
    push(base.clone());
    let hosted = strip_hosted(&base);
    push(hosted.clone());
    let mut current = hosted;
    // Peel revision suffixes one at a time: `name-2024-08-06-latest` → `name-2024-08-06` → `name`.
    while let Some(shorter) = strip_revision(&current) {
        push(shorter.clone());
        current = shorter;
    }
    out
}

/// Bedrock / Vertex decorations: region and vendor prefixes, `-v2:0` / `:0` and `@date`.
fn strip_hosted(name: &str) -> String {
    let mut s = name;
    for region in ["us.", "eu.", "apac.", "global.", "us-gov."] {
        if let Some(rest) = s.strip_prefix(region) {
            s = rest;
        }
    }
    for vendor in ["anthropic.", "meta.", "mistral.", "cohere.", "amazon.", "deepseek.", "ai21."] {
        if let Some(rest) = s.strip_prefix(vendor) {
            s = rest;
        }
    }
    let mut s = s.to_owned();
    // `-v2:0`, `-v1:0:200k`, `:0`
    if let Some(pos) = s.find(':') {
        s.truncate(pos);
    }
    if let Some(pos) = s.rfind("-v")
        && s.len() > pos + 2
        && s[pos + 2..].chars().all(|c| c.is_ascii_digit())
    {
        s.truncate(pos);
    }
    // Vertex: `claude-3-5-sonnet@20240620` → `claude-3-5-sonnet-20240620`.
    s.replace('@', "-")
}

/// One revision suffix less, if the name ends with one.
fn strip_revision(name: &str) -> Option<String> {
    let parts: Vec<&str> = name.split('-').collect();
    let n = parts.len();
    let all_digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
    // -YYYY-MM-DD
    if n >= 4
        && all_digits(parts[n - 3], 4)
        && all_digits(parts[n - 2], 2)
        && all_digits(parts[n - 1], 2)
    {
        return Some(parts[..n - 3].join("-"));
    }
    let last = parts[n - 1];
    // -MM-YYYY (Cohere: `command-r-08-2024`)
    if n >= 3 && all_digits(parts[n - 2], 2) && all_digits(last, 4) {
        return Some(parts[..n - 2].join("-"));
    }
    // -YYYYMMDD, -MMDD (OpenAI: `gpt-3.5-turbo-0125`), -latest, -001
    if n >= 2
        && (all_digits(last, 8) || all_digits(last, 4) || last == "latest" || all_digits(last, 3))
    {
        return Some(parts[..n - 1].join("-"));
    }
    // -MM-DD after `preview` / `exp` (Gemini: `gemini-2.5-pro-preview-05-06` → `…-preview`)
    if n >= 3
        && all_digits(parts[n - 2], 2)
        && all_digits(last, 2)
        && matches!(parts.get(n.wrapping_sub(3)), Some(&"preview" | &"exp"))
    {
        return Some(parts[..n - 2].join("-"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(reported: &str, key: &str) -> bool {
        candidates(reported).iter().any(|c| c == key)
    }

    #[test]
    fn case_and_provider_prefixes_are_ignored() {
        assert!(has("GPT-4o", "gpt-4o"));
        assert!(has("openai/gpt-4o-mini", "gpt-4o-mini"));
        assert!(has("models/gemini-1.5-flash", "gemini-1.5-flash"));
        assert!(has("accounts/fireworks/models/llama-v3p1-8b-instruct", "llama-v3p1-8b-instruct"));
        assert!(has("meta-llama/Llama-3.3-70B-Instruct-Turbo", "llama-3.3-70b-instruct-turbo"));
    }

    #[test]
    fn dated_snapshots_fall_back_to_their_model_after_an_exact_try() {
        let c = candidates("gpt-4o-2024-08-06");
        assert_eq!(c[0], "gpt-4o-2024-08-06");
        assert!(c.contains(&"gpt-4o".to_owned()));
        assert!(has("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"));
        assert!(has("claude-3-5-sonnet-latest", "claude-3-5-sonnet"));
        assert!(has("gemini-1.5-flash-002", "gemini-1.5-flash"));
        assert!(has("gemini-2.5-pro-preview-05-06", "gemini-2.5-pro-preview"));
        assert!(has("gpt-3.5-turbo-0125", "gpt-3.5-turbo"));
        assert!(has("command-r-08-2024", "command-r"));
    }

    #[test]
    fn bedrock_and_vertex_ids_are_unwrapped() {
        assert!(has("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet-20241022"));
        assert!(has("us.anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku-20241022"));
        assert!(has("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet-v2-20241022"));
        assert!(has("meta.llama3-1-70b-instruct-v1:0", "llama3-1-70b-instruct"));
    }

    #[test]
    fn experimental_and_preview_models_are_never_widened_to_the_paid_model() {
        assert!(!has("gemini-2.0-flash-exp", "gemini-2.0-flash"));
        assert!(!has("gemini-2.5-flash-preview", "gemini-2.5-flash"));
        assert!(!has("o1-preview", "o1"));
    }

    #[test]
    fn model_numbers_are_not_mistaken_for_revisions() {
        // `-8b`, `-4o`, `-70b` are part of the name.
        assert!(!has("gemini-1.5-flash-8b", "gemini-1.5-flash"));
        assert!(!has("gpt-4o", "gpt"));
    }
}
