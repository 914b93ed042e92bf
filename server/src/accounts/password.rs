use std::sync::Arc;

use tokio::sync::Semaphore;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier, Version};

/// A password good enough to accept: at least 8 characters (docs/api.md), at most 1024 bytes so that
/// hashing cannot be turned into a denial of service.
pub struct Password(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WeakPassword {
    #[error("use at least 8 characters")]
    TooShort,
    #[error("use at most 1024 characters")]
    TooLong,
}

impl Password {
    pub fn parse(input: String) -> Result<Self, WeakPassword> {
        if input.chars().count() < 8 {
            Err(WeakPassword::TooShort)
        } else if input.len() > 1024 {
            Err(WeakPassword::TooLong)
        } else {
            Ok(Password(input))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane).
///
/// Each hash or verification is ~20 ms of CPU and 19 MiB: the async methods run it on the
/// blocking pool, at most one per core at a time, so that a burst of sign-ins never stalls the
/// async threads that answer webhooks and status polls, and never holds more than
/// cores × 19 MiB.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// A hash of a random password, verified against when the email is unknown so that a
    /// failed sign-in takes the same time whatever the reason.
    dummy_hash: String,
    cores: Arc<Semaphore>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher {
    pub fn new() -> Self {
        let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut hasher = PasswordHasher {
            params,
            dummy_hash: String::new(),
            cores: Arc::new(Semaphore::new(cores)),
        };
        let random = SaltString::generate(&mut OsRng);
        hasher.dummy_hash = hasher.hash_raw(random.as_str()).unwrap_or_default();
        hasher
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    fn hash_raw(&self, password: &str) -> Result<String, argon2::password_hash::Error> {
        let salt = SaltString::generate(&mut OsRng);
        Ok(self.argon2().hash_password(password.as_bytes(), &salt)?.to_string())
    }

    pub fn hash(&self, password: &Password) -> Result<String, argon2::password_hash::Error> {
        self.hash_raw(password.expose())
    }

    /// `hash`, on the blocking pool, one per core at a time.
    pub async fn hash_off_thread(&self, password: Password) -> Result<String, String> {
        let hasher = self.clone();
        self.off_thread(move || hasher.hash(&password).map_err(|e| e.to_string()))
            .await
            .and_then(|hashed| hashed)
    }

    /// `verify`, on the blocking pool, one per core at a time.
    pub async fn verify_off_thread(&self, password: String, stored: Option<String>) -> bool {
        let hasher = self.clone();
        self.off_thread(move || hasher.verify(&password, stored.as_deref())).await.unwrap_or(false)
    }

    async fn off_thread<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let _permit = self.cores.acquire().await.map_err(|e| e.to_string())?;
        tokio::task::spawn_blocking(work).await.map_err(|e| e.to_string())
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no account,
    /// so both failures cost one Argon2 verification.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let (hash, real) = match stored {
            Some(h) => (h, true),
            None => (self.dummy_hash.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(hash) else { return false };
        let matches = self.argon2().verify_password(password.as_bytes(), &parsed).is_ok();
        matches && real
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashing_off_the_async_threads_gives_the_same_answers() {
        let hasher = PasswordHasher::new();
        let hash = hasher
            .hash_off_thread(Password::parse("correct horse".into()).expect("strong"))
            .await
            .expect("hash");
        assert!(hasher.verify_off_thread("correct horse".into(), Some(hash.clone())).await);
        assert!(!hasher.verify_off_thread("wrong horse".into(), Some(hash)).await);
        assert!(!hasher.verify_off_thread("correct horse".into(), None).await);
    }

    #[test]
    fn passwords_under_eight_characters_are_weak() {
        assert_eq!(Password::parse("1234567".into()).err(), Some(WeakPassword::TooShort));
        assert!(Password::parse("12345678".into()).is_ok());
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hasher = PasswordHasher::new();
        let password = Password::parse("correct horse".into()).expect("strong");
        let hash = hasher.hash(&password).expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify("correct horse", Some(&hash)));
        assert!(!hasher.verify("wrong horse", Some(&hash)));
        assert!(!hasher.verify("correct horse", None), "no account never verifies");
    }
}
