//! Issuing, listing and revoking API keys: shared by the `aicp keys` command and the admin
//! endpoints.

use aicp_domain::ProjectId;
use aicp_domain::auth::{KEY_PREFIX, KeyDigester, KeyInfo, KeyStore, display_form};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// A fresh key: the prefix and 256 random bits (from the thread's CSPRNG, seeded by the OS).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Checks a project name (lowercase letters, digits, `-`, `_`; 1–64 characters).
///
/// # Errors
/// A message naming the rule.
pub fn project_name(name: &str) -> Result<ProjectId, String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(ProjectId::new(name))
    } else {
        Err(format!(
            "project names are 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit; got {name:?}"
        ))
    }
}

/// Creates a key of `project`; returns the stored description and the secret (shown once).
///
/// # Errors
/// When the store fails.
pub async fn create(
    store: &dyn KeyStore,
    digester: &KeyDigester,
    project: &ProjectId,
    name: &str,
) -> anyhow::Result<(KeyInfo, String)> {
    let key = generate();
    let info = store.create(project, name, digester.digest(&key), &display_form(&key)).await?;
    Ok((info, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_random_and_long() {
        let (a, b) = (generate(), generate());
        assert!(a.starts_with("aicp_") && a.len() == 5 + 43);
        assert_ne!(a, b);
    }

    #[test]
    fn project_names_are_checked() {
        assert!(project_name("acme-prod_1").is_ok());
        for bad in ["", "Acme", "-x", "a b", "a/b", &"x".repeat(65)] {
            assert!(project_name(bad).is_err(), "{bad}");
        }
    }
}
