//! Password hashing: argon2id with the OWASP parameters (19 MiB, 2 passes,
//! 1 lane), stored as a PHC string. Hashing is slow on purpose: callers on
//! the async runtime run it in `spawn_blocking`.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password, bytes (argon2 is given at most this much).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes and verifies passwords with one set of argon2id parameters.
pub struct PasswordHashing {
    params: Params,
    /// A hash of a random password with the same parameters: an unknown user
    /// is verified against it, so that costs what a wrong password costs.
    dummy: OnceLock<String>,
}

impl std::fmt::Debug for PasswordHashing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PasswordHashing(m={} KiB, t={}, p={})",
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost()
        )
    }
}

impl PasswordHashing {
    /// argon2id, m = 19456 KiB, t = 2, p = 1 (OWASP's recommendation).
    pub fn owasp() -> PasswordHashing {
        PasswordHashing::with(19_456, 2, 1)
    }

    /// Cheap parameters for unit tests (the same code, a fraction of the cost).
    #[cfg(test)]
    pub fn cheap() -> PasswordHashing {
        PasswordHashing::with(64, 1, 1)
    }

    fn with(m_kib: u32, t: u32, p: u32) -> PasswordHashing {
        let params = Params::new(m_kib, t, p, None).expect("constant parameters within argon2's limits");
        PasswordHashing { params, dummy: OnceLock::new() }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Whether `password` is acceptable as a new password; says why not.
    pub fn check_new(password: &str) -> Result<(), String> {
        let chars = password.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(format!("the password is too short: {chars} characters, at least {MIN_PASSWORD_CHARS}"));
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(format!("the password is too long: at most {MAX_PASSWORD_BYTES} bytes"));
        }
        Ok(())
    }

    /// The PHC string of `password` with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, String> {
        let mut salt = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| format!("cannot encode the salt: {e}"))?;
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| format!("cannot hash the password: {e}"))
    }

    /// Whether `password` matches the PHC string `stored` (its own
    /// parameters are used). A malformed stored hash matches nothing.
    pub fn verify(&self, stored: &str, password: &str) -> bool {
        if password.len() > MAX_PASSWORD_BYTES {
            // Still spend the time of a verification.
            self.verify_dummy(password);
            return false;
        }
        match PasswordHash::new(stored) {
            Ok(parsed) => self.argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(e) => {
                tracing::error!(error = %e, "a stored password hash is malformed; the login is refused");
                self.verify_dummy(password);
                false
            }
        }
    }

    /// Spends the time of one verification and fails: for an unknown user.
    pub fn verify_dummy(&self, password: &str) {
        let dummy = self.dummy.get_or_init(|| {
            let mut random = [0u8; 24];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut random);
            self.hash(&super::token::encode(&random)).unwrap_or_default()
        });
        if let Ok(parsed) = PasswordHash::new(dummy) {
            let bounded = &password.as_bytes()[..password.len().min(MAX_PASSWORD_BYTES)];
            let _ = self.argon2().verify_password(bounded, &parsed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owasp_parameters_hash_as_argon2id_and_verify() {
        let hashing = PasswordHashing::owasp();
        let phc = hashing.hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(hashing.verify(&phc, "correct horse battery"));
        assert!(!hashing.verify(&phc, "correct horse batterY"));
    }

    #[test]
    fn a_hash_round_trips_with_fresh_salt_and_garbage_matches_nothing() {
        let hashing = PasswordHashing::cheap();
        let a = hashing.hash("0123456789").unwrap();
        let b = hashing.hash("0123456789").unwrap();
        assert_ne!(a, b, "a fresh salt each time");
        assert!(hashing.verify(&a, "0123456789") && hashing.verify(&b, "0123456789"));
        assert!(!hashing.verify("not a hash", "0123456789"));
        assert!(!hashing.verify(&a, &"x".repeat(MAX_PASSWORD_BYTES + 1)));
        hashing.verify_dummy("anything");
    }

    #[test]
    fn new_passwords_need_ten_characters() {
        assert_eq!(
            PasswordHashing::check_new("short").unwrap_err(),
            "the password is too short: 5 characters, at least 10"
        );
        assert!(PasswordHashing::check_new("ten chars!").is_ok());
        assert!(PasswordHashing::check_new("пароль-длинный").is_ok(), "characters, not bytes");
        assert!(PasswordHashing::check_new(&"x".repeat(2000)).unwrap_err().contains("too long"));
    }
}
