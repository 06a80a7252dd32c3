//! Authentication and tenancy: who is calling, and which project their requests act for.
//!
//! API keys are high-entropy secrets with a recognisable prefix (`aicp_…`). Only an HMAC-SHA256
//! digest under a server-side pepper is stored (plus a display form such as `aicp_Ab3d…wxYz`),
//! so a database dump reveals no usable key, and keys from the original's `API_KEYS` variable are
//! compared digest to digest in constant time. Keys are never logged.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::ports::error::RepoError;
#[cfg(any(test, feature = "mocks"))]
pub use crate::ports::keys::MockKeyStore;
pub use crate::ports::keys::{ActiveKey, KeyInfo, KeyStore};
use crate::project::ProjectId;

/// Prefix of every key we issue.
pub const KEY_PREFIX: &str = "aicp_";

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The project every read and write is scoped to.
    pub project: ProjectId,
    /// The stored key used (`None` for keys from `API_KEYS` and when auth is off).
    pub key_id: Option<Uuid>,
}

/// HMAC-SHA256 under the server's pepper.
#[derive(Clone)]
pub struct KeyDigester {
    pepper: Vec<u8>,
}

impl std::fmt::Debug for KeyDigester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyDigester(..)")
    }
}

impl KeyDigester {
    /// A digester keyed by `pepper`.
    pub fn new(pepper: &[u8]) -> Self {
        Self { pepper: pepper.to_vec() }
    }

    /// The stored digest of `key`.
    pub fn digest(&self, key: &str) -> [u8; 32] {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.pepper) {
            Ok(m) => m,
            Err(_) => return [0; 32],
        };
        mac.update(key.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// The display form of a key: prefix and 4 characters, an ellipsis, the last 4 characters.
pub fn display_form(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 13 {
        return "…".to_owned();
    }
    let head: String = chars[..9].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// Why a request is refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No key was presented while authentication is required (401).
    #[error("authentication required")]
    Missing,
    /// The key is unknown or revoked (403).
    #[error("invalid API key")]
    Invalid,
    /// The key store is unreachable (503).
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Decides who a request acts as.
pub struct Authenticator {
    store: Arc<dyn KeyStore>,
    digester: KeyDigester,
    env_keys: Vec<[u8; 32]>,
    /// Whether a stored key exists, and when that was last asked (epoch ms): one store round trip
    /// per second at most, not one per request.
    any_active: std::sync::Mutex<Option<(bool, std::time::Instant)>>,
}

/// How long the "is any key stored" answer is reused.
const ANY_ACTIVE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

impl Authenticator {
    /// Keys from `store` plus the original's `API_KEYS` list (`env_keys`, project `default`).
    pub fn new(store: Arc<dyn KeyStore>, digester: KeyDigester, env_keys: &[String]) -> Self {
        let env_keys = env_keys
            .iter()
            .map(|k| k.trim())
            .filter(|k| !k.is_empty())
            .map(|k| digester.digest(k))
            .collect();
        Self { store, digester, env_keys, any_active: std::sync::Mutex::new(None) }
    }

    /// The digester (for issuing keys).
    pub fn digester(&self) -> &KeyDigester {
        &self.digester
    }

    /// Whether authentication is required: `API_KEYS` is set or an active stored key exists.
    ///
    /// # Errors
    /// [`RepoError`] when the store is unreachable.
    pub async fn required(&self) -> Result<bool, RepoError> {
        if !self.env_keys.is_empty() {
            return Ok(true);
        }
        let cached = *self.any_active.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((any, at)) = cached
            && at.elapsed() < ANY_ACTIVE_TTL
        {
            return Ok(any);
        }
        let any = self.store.any_active().await?;
        *self.any_active.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((any, std::time::Instant::now()));
        Ok(any)
    }

    /// Forgets the cached answer of [`Self::required`] (a key was created or revoked here).
    pub fn invalidate(&self) {
        *self.any_active.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// The principal for a presented key (`None` when no key was presented).
    ///
    /// # Errors
    /// [`AuthError`]: missing while required, invalid, or the store is down.
    pub async fn authenticate(&self, presented: Option<&str>) -> Result<Principal, AuthError> {
        let Some(key) = presented.map(str::trim).filter(|k| !k.is_empty()) else {
            return if self.required().await? {
                Err(AuthError::Missing)
            } else {
                Ok(Principal { project: ProjectId::default_project(), key_id: None })
            };
        };
        let digest = self.digester.digest(key);
        let env_match =
            self.env_keys.iter().fold(subtle::Choice::from(0), |acc, k| acc | k.ct_eq(&digest));
        if bool::from(env_match) {
            return Ok(Principal { project: ProjectId::default_project(), key_id: None });
        }
        match self.store.find(digest).await? {
            Some(ActiveKey { id, project }) => Ok(Principal { project, key_id: Some(id) }),
            // With authentication off a stray header changes nothing (as in the original).
            None if !self.required().await? => {
                Ok(Principal { project: ProjectId::default_project(), key_id: None })
            }
            None => Err(AuthError::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    fn auth(env: &[&str], store: MockKeyStore) -> Authenticator {
        let env: Vec<String> = env.iter().map(|s| (*s).to_owned()).collect();
        Authenticator::new(Arc::new(store), KeyDigester::new(b"pepper"), &env)
    }

    #[test]
    fn without_keys_everything_is_the_default_project() {
        let mut store = MockKeyStore::new();
        store.expect_any_active().returning(|| Ok(false));
        let p = auth(&[], store).authenticate(None).now_or_never().unwrap().unwrap();
        assert_eq!(p.project, ProjectId::default_project());
    }

    #[test]
    fn env_keys_belong_to_the_default_project_and_others_are_refused() {
        let mut store = MockKeyStore::new();
        store.expect_find().returning(|_| Ok(None));
        store.expect_any_active().returning(|| Ok(false));
        let a = auth(&["k1", " k2 "], store);
        let p = a.authenticate(Some("k2")).now_or_never().unwrap().unwrap();
        assert_eq!(p.project, ProjectId::default_project());
        assert!(matches!(
            a.authenticate(Some("nope")).now_or_never().unwrap(),
            Err(AuthError::Invalid)
        ));
        assert!(matches!(a.authenticate(None).now_or_never().unwrap(), Err(AuthError::Missing)));
    }

    #[test]
    fn a_stored_key_acts_for_its_project() {
        let digester = KeyDigester::new(b"pepper");
        let want = digester.digest("aicp_secret");
        let mut store = MockKeyStore::new();
        store.expect_find().returning(move |d| {
            Ok((d == want).then(|| ActiveKey { id: Uuid::nil(), project: ProjectId::new("acme") }))
        });
        let p = auth(&[], store).authenticate(Some("aicp_secret")).now_or_never().unwrap().unwrap();
        assert_eq!(p.project, ProjectId::new("acme"));
    }

    #[test]
    fn digests_depend_on_the_pepper_and_display_forms_hide_the_secret() {
        assert_ne!(KeyDigester::new(b"a").digest("k"), KeyDigester::new(b"b").digest("k"));
        let key = "aicp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg";
        let shown = display_form(key);
        assert_eq!(shown, "aicp_AbCd…defg");
        assert!(!shown.contains("EfGh"));
    }
}
