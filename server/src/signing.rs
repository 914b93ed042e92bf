//! Fitroom's own secret, and the HMAC signatures made with it: short-lived URLs for the images
//! handed to providers, and the `local` provider's webhooks.

use std::path::Path;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::clock::Timestamp;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(…)")
    }
}

impl Signer {
    pub fn from_key(key: [u8; 32]) -> Self {
        Signer { key }
    }

    /// `FITROOM_SECRET` when set (several processes must share it), else `<data>/secret.key`,
    /// created with 32 random bytes on first start.
    pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> std::io::Result<Self> {
        if let Some(secret) = configured {
            let digest = <Sha256 as sha2::Digest>::digest(secret.as_bytes());
            let mut key = [0u8; 32];
            key.copy_from_slice(&digest);
            return Ok(Signer { key });
        }
        let path = data_dir.join("secret.key");
        if let Ok(bytes) = std::fs::read(&path)
            && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
        {
            return Ok(Signer { key });
        }
        std::fs::create_dir_all(data_dir)?;
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let tmp = data_dir.join(format!(".secret.key.{}", std::process::id()));
        std::fs::write(&tmp, key)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::rename(&tmp, &path)?;
        Ok(Signer { key })
    }

    pub fn mac(&self, message: &[u8]) -> Vec<u8> {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(message);
        mac.finalize().into_bytes().to_vec()
    }

    pub fn verify(&self, message: &[u8], signature_hex: &str) -> bool {
        let expected = hex::encode(self.mac(message));
        expected.as_bytes().ct_eq(signature_hex.as_bytes()).into()
    }

    /// `?expires=<ms>&sig=<hex>` for `path`, valid until `expires`.
    pub fn sign_path(&self, path: &str, expires: Timestamp) -> String {
        let sig = hex::encode(self.mac(format!("{path}\n{}", expires.millis()).as_bytes()));
        format!("{path}?expires={}&sig={sig}", expires.millis())
    }

    pub fn verify_path(&self, path: &str, expires: i64, sig: &str, now: Timestamp) -> bool {
        now.millis() < expires && self.verify(format!("{path}\n{expires}").as_bytes(), sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_paths_verify_until_they_expire_and_only_unchanged() {
        let signer = Signer::from_key([7; 32]);
        let t = Timestamp::from_millis(1_000);
        let url = signer.sign_path("/files/a.png", t.plus_secs(60));
        let sig = url.rsplit("sig=").next().expect("sig");
        let expires = t.plus_secs(60).millis();
        assert!(signer.verify_path("/files/a.png", expires, sig, t));
        assert!(!signer.verify_path("/files/b.png", expires, sig, t), "another path");
        assert!(!signer.verify_path("/files/a.png", expires + 1, sig, t), "another expiry");
        assert!(!signer.verify_path("/files/a.png", expires, sig, t.plus_secs(61)), "expired");
        assert!(
            !Signer::from_key([8; 32]).verify_path("/files/a.png", expires, sig, t),
            "another key"
        );
    }

    #[test]
    fn the_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().expect("dir");
        let a = Signer::load_or_create(None, dir.path()).expect("create");
        let b = Signer::load_or_create(None, dir.path()).expect("load");
        assert_eq!(a.key, b.key);
    }
}
