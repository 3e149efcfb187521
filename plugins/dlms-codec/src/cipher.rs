//! Security suite 0 (IEC 62056-5-3 / Green Book 9.2.7): the ciphered
//! content of a glo-ciphered APDU opened with the meter's global unicast
//! keys, AES-128-GCM with a 12-byte tag.
//!
//! Ciphered content: security control byte (SC), invocation counter (IC,
//! u32), then the information (plaintext or ciphertext) and, when
//! authenticated, the tag. IV = system title (8) ‖ IC (4). By SC:
//!
//! - `0x30` authenticated and encrypted: AAD = SC ‖ AK, GCM decryption;
//! - `0x10` authenticated only: the information is plain, the tag is
//!   GCM's over empty plaintext with AAD = SC ‖ AK ‖ information;
//! - `0x20` encrypted only: GCM's keystream without a tag (no integrity:
//!   a changed frame cannot be told from a good one);
//! - `0x00`: no protection, the information is the APDU.
//!
//! Policy: a system title with an authentication key configured must send
//! authenticated APDUs, one with only an encryption key protected ones;
//! one without keys may send only unprotected content.
//!
//! Suite 1 ciphers the same way (AES-GCM-128; it differs in key agreement
//! and signatures, which a push does not use), so it is opened too; suite
//! 2 (AES-256), the broadcast key set and compression are refused.
//!
//! Keys never appear in errors or in `Debug` output ([`SecretKey`]).

use std::collections::HashMap;

use aes_gcm::aead::consts::U12;
use aes_gcm::aes::Aes128;
use aes_gcm::{AeadInOut, AesGcm, KeyInit, Nonce, Tag};
use meterhub_plugin_api::{DecodeError, hex};

/// AES-128-GCM with a 96-bit IV and a 12-byte tag.
type Gcm = AesGcm<Aes128, U12, U12>;

/// The tag's length.
pub const TAG_LEN: usize = 12;

pub use meterhub_plugin_api::secret::SecretKey;

/// The global unicast keys of one system title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// The global unicast encryption key (EK), the block cipher's key.
    pub ek: SecretKey,
    /// The authentication key (AK), needed for authenticated APDUs.
    pub ak: Option<SecretKey>,
}

/// The keys of each system title.
pub type Keys = HashMap<[u8; 8], KeyPair>;

/// The security control byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityControl(pub u8);

impl SecurityControl {
    /// The security suite id (bits 0-3).
    pub fn suite(self) -> u8 {
        self.0 & 0x0f
    }

    /// Authentication (bit 4).
    pub fn authenticated(self) -> bool {
        self.0 & 0x10 != 0
    }

    /// Encryption (bit 5).
    pub fn encrypted(self) -> bool {
        self.0 & 0x20 != 0
    }

    /// The broadcast key set (bit 6).
    pub fn broadcast(self) -> bool {
        self.0 & 0x40 != 0
    }

    /// Compression (bit 7).
    pub fn compressed(self) -> bool {
        self.0 & 0x80 != 0
    }

    /// Why this codec cannot open content under this byte, if it cannot.
    fn refusal(self) -> Option<String> {
        let sc = self.0;
        if self.suite() > 1 {
            return Some(format!(
                "security control 0x{sc:02X}: security suite {} is not decoded (0 and 1 are)",
                self.suite()
            ));
        }
        if self.compressed() {
            return Some(format!("security control 0x{sc:02X}: compression is not decoded"));
        }
        if self.broadcast() {
            return Some(format!(
                "security control 0x{sc:02X}: the broadcast key set is not decoded (only global unicast keys)"
            ));
        }
        None
    }
}

/// A ciphered content, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed<'a> {
    /// The sender's system title.
    pub system_title: [u8; 8],
    /// The security control byte.
    pub control: SecurityControl,
    /// The invocation counter.
    pub invocation_counter: u32,
    /// The information and, when authenticated, the tag.
    pub body: &'a [u8],
}

/// Why `control` protects less than the keys configured for its system
/// title demand: with an authentication key, authentication (else a
/// changed frame under encryption only would pass: the tag stripped and
/// the byte set to 0x20, ciphertext bits flip plaintext bits); with an
/// encryption key, some protection.
fn below_policy(control: SecurityControl, keys: &KeyPair) -> Option<&'static str> {
    if keys.ak.is_some() && !control.authenticated() {
        return Some("this system title has an authentication key configured, so its APDUs must be authenticated");
    }
    if !control.authenticated() && !control.encrypted() {
        return Some("this system title has keys configured, so its APDUs must be protected");
    }
    None
}

/// The APDU inside `sealed`, opened with `keys` (those of its system
/// title, if configured). Errors start with `who` (`general-glo-ciphering
/// from system title 2F19229199164103`).
pub fn open(sealed: &Sealed<'_>, keys: Option<&KeyPair>, who: &str) -> Result<Vec<u8>, DecodeError> {
    let control = sealed.control;
    let fail = |message: String| DecodeError::new(format!("{who}: {message}"));
    if let Some(why) = control.refusal() {
        return Err(fail(why));
    }
    if let Some(why) = keys.and_then(|keys| below_policy(control, keys)) {
        return Err(fail(format!("security control 0x{:02X}: {why}", control.0)));
    }
    if !control.authenticated() && !control.encrypted() {
        return Ok(sealed.body.to_vec());
    }
    let title = hex::encode_upper(&sealed.system_title);
    let keys = keys.ok_or_else(|| fail(format!("no key configured (secrets file: [devices.{title}] ek)")))?;
    let gcm = Gcm::new(&(*keys.ek.bytes()).into());
    let mut iv = [0u8; 12];
    iv[..8].copy_from_slice(&sealed.system_title);
    iv[8..].copy_from_slice(&sealed.invocation_counter.to_be_bytes());
    let iv = Nonce::<U12>::from(iv);
    if !control.authenticated() {
        // Encryption only: GCM's CTR keystream is its own inverse; the tag
        // computed along is not sent and is dropped.
        let mut plain = sealed.body.to_vec();
        gcm.encrypt_inout_detached(&iv, &[], plain.as_mut_slice().into()).map_err(|_| fail("too long".into()))?;
        return Ok(plain);
    }
    let ak = keys.ak.as_ref().ok_or_else(|| {
        fail(format!(
            "security control 0x{:02X} is authenticated and no authentication key is configured (secrets file: [devices.{title}] ak)",
            control.0
        ))
    })?;
    let Some(split) = sealed.body.len().checked_sub(TAG_LEN) else {
        return Err(fail(format!(
            "{} byte(s) of ciphered information cannot hold the {TAG_LEN}-byte tag",
            sealed.body.len()
        )));
    };
    let (information, tag) = sealed.body.split_at(split);
    let tag = Tag::<U12>::try_from(tag).map_err(|_| fail("tag length".into()))?;
    let mut aad = vec![control.0];
    aad.extend_from_slice(ak.bytes());
    let authentication_failed = |_| fail("authentication failed (wrong key, or the frame was changed)".to_owned());
    if control.encrypted() {
        let mut plain = information.to_vec();
        gcm.decrypt_inout_detached(&iv, &aad, plain.as_mut_slice().into(), &tag).map_err(authentication_failed)?;
        Ok(plain)
    } else {
        aad.extend_from_slice(information);
        gcm.decrypt_inout_detached(&iv, &aad, (&mut [][..]).into(), &tag).map_err(authentication_failed)?;
        Ok(information.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::testing::unhex;

    use super::*;

    const EK: &str = "000102030405060708090a0b0c0d0e0f";
    const AK: &str = "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf";
    const TITLE: [u8; 8] = [0x4d, 0x4d, 0x4d, 0x00, 0x00, 0xbc, 0x61, 0x4e];

    fn key(text: &str) -> SecretKey {
        SecretKey::from_hex(text).unwrap()
    }

    fn pair(ek: &str, ak: &str) -> KeyPair {
        KeyPair { ek: key(ek), ak: Some(key(ak)) }
    }

    /// `plain` sealed under `control` the way the Green Book says, with
    /// aes-gcm directly: information ‖ tag.
    fn seal(control: u8, ic: u32, plain: &[u8]) -> Vec<u8> {
        let gcm = Gcm::new(&(*key(EK).bytes()).into());
        let mut iv = [0u8; 12];
        iv[..8].copy_from_slice(&TITLE);
        iv[8..].copy_from_slice(&ic.to_be_bytes());
        let mut aad = vec![control];
        aad.extend_from_slice(key(AK).bytes());
        let mut out = plain.to_vec();
        let tag = match control & 0x30 {
            0x30 => gcm.encrypt_inout_detached(&iv.into(), &aad, out.as_mut_slice().into()).unwrap().to_vec(),
            0x20 => {
                gcm.encrypt_inout_detached(&iv.into(), &[], out.as_mut_slice().into()).unwrap();
                Vec::new()
            }
            0x10 => {
                aad.extend_from_slice(plain);
                gcm.encrypt_inout_detached(&iv.into(), &aad, (&mut [][..]).into()).unwrap().to_vec()
            }
            _ => Vec::new(),
        };
        out.extend_from_slice(&tag);
        out
    }

    fn opened(control: u8, ic: u32, body: &[u8], keys: Option<&KeyPair>) -> Result<Vec<u8>, String> {
        let sealed = Sealed { system_title: TITLE, control: SecurityControl(control), invocation_counter: ic, body };
        open(&sealed, keys, "test").map_err(|e| e.reason)
    }

    #[test]
    fn every_protection_opens_what_was_sealed() {
        let plain = unhex("0f000001db00020212000112a5");
        let both = pair(EK, AK);
        let ek_only = KeyPair { ek: key(EK), ak: None };
        for (control, keys) in
            [(0x30, &both), (0x10, &both), (0x31, &both), (0x11, &both), (0x20, &ek_only), (0x21, &ek_only)]
        {
            let body = seal(control, 0x1234_5678, &plain);
            assert_eq!(opened(control, 0x1234_5678, &body, Some(keys)).unwrap(), plain, "SC 0x{control:02X}");
        }
        assert_ne!(seal(0x30, 1, &plain)[..plain.len()], plain[..], "encrypted");
        assert_eq!(seal(0x10, 1, &plain)[..plain.len()], plain[..], "authenticated only: plain");
        assert_eq!(opened(0x00, 1, &plain, None).unwrap(), plain, "no protection needs no key");
    }

    /// The published example of a third-party DLMS tool (MIT,
    /// `ric-geek/dlms-encrypt-decrypt-cli` README): SC 0x30, system title
    /// 5249435249435249, IC 0x80000001, keys `ENCRYPTIONKEYKEY` and
    /// `AUTHENTICATIONKE`, APDU `c001810001000060010aff0200`; ciphertext and
    /// tag (of which DLMS sends 12 bytes) as it prints them.
    #[test]
    fn a_published_example_opens() {
        let keys = pair("454E4352595054494F4E4B45594B4559", "41555448454E5449434154494F4E4B45");
        let body = unhex("0de63f2331a09aa85e8830f5f3610d47e1e24b14e8a022aefc");
        let sealed = Sealed {
            system_title: unhex("5249435249435249").try_into().unwrap(),
            control: SecurityControl(0x30),
            invocation_counter: 0x8000_0001,
            body: &body,
        };
        assert_eq!(open(&sealed, Some(&keys), "t").unwrap(), unhex("c001810001000060010aff0200"));
    }

    /// The Green Book's example of the three protections (its Table 40, a
    /// glo-get-request for the clock's time, as the MIT-licensed
    /// `u9n/dlms-cosem` and other public DLMS libraries' tests reproduce
    /// it): the same plaintext authenticated only, encrypted only, and
    /// both, under the keys TITLE/EK/AK of this module.
    #[test]
    fn the_green_book_example_opens_in_all_three_protections() {
        let plain = unhex("c0010000080000010000ff0200");
        for (control, body) in [
            (0x10, "c0010000080000010000ff020006725d910f9221d263877516"),
            (0x20, "411312ff935a47566827c467bc"),
            (0x30, "411312ff935a47566827c467bc7d825c3be4a77c3fcc056b6b"),
        ] {
            let keys = if control == 0x20 { KeyPair { ek: key(EK), ak: None } } else { pair(EK, AK) };
            assert_eq!(opened(control, 0x0123_4567, &unhex(body), Some(&keys)).unwrap(), plain, "SC 0x{control:02X}");
            assert_eq!(seal(control, 0x0123_4567, &plain), unhex(body), "the test's own sealing agrees");
        }
    }

    #[test]
    fn a_wrong_key_or_a_changed_byte_fails_authentication() {
        let plain = unhex("0f000001db0000");
        let body = seal(0x30, 7, &plain);
        let wrong = pair("ffffffffffffffffffffffffffffffff", AK);
        let want = "test: authentication failed (wrong key, or the frame was changed)";
        assert_eq!(opened(0x30, 7, &body, Some(&wrong)).unwrap_err(), want);
        assert_eq!(opened(0x30, 7, &body, Some(&pair(EK, EK))).unwrap_err(), want, "a wrong AK");
        assert_eq!(opened(0x30, 8, &body, Some(&pair(EK, AK))).unwrap_err(), want, "another IC");
        for at in 0..body.len() {
            let mut changed = body.clone();
            changed[at] ^= 0x01;
            assert_eq!(opened(0x30, 7, &changed, Some(&pair(EK, AK))).unwrap_err(), want, "byte {at}");
        }
        let auth_only = seal(0x10, 7, &plain);
        let mut changed = auth_only.clone();
        changed[0] ^= 0x80;
        assert_eq!(opened(0x10, 7, &changed, Some(&pair(EK, AK))).unwrap_err(), want);
    }

    #[test]
    fn configured_keys_set_the_least_protection() {
        let plain = unhex("0f000001db0000");
        let both = pair(EK, AK);
        let ek_only = KeyPair { ek: key(EK), ak: None };
        // The downgrade: a 0x30 APDU with its tag stripped and SC 0x20 opens
        // to the plaintext (and flipped ciphertext bits would flip it).
        let stripped = &seal(0x30, 3, &plain)[..plain.len()];
        assert_eq!(opened(0x20, 3, stripped, Some(&ek_only)).unwrap(), plain);
        assert_eq!(
            opened(0x20, 3, stripped, Some(&both)).unwrap_err(),
            "test: security control 0x20: this system title has an authentication key configured, so its APDUs must be authenticated"
        );
        assert_eq!(
            opened(0x00, 3, &plain, Some(&ek_only)).unwrap_err(),
            "test: security control 0x00: this system title has keys configured, so its APDUs must be protected"
        );
    }

    #[test]
    fn what_cannot_be_opened_says_why() {
        let keys = pair(EK, AK);
        let err = |control: u8, body: &[u8], keys: Option<&KeyPair>| opened(control, 1, body, keys).unwrap_err();
        assert_eq!(err(0x30, &[0; 20], None), "test: no key configured (secrets file: [devices.4D4D4D0000BC614E] ek)");
        let no_ak = KeyPair { ek: key(EK), ak: None };
        assert_eq!(
            err(0x30, &[0; 20], Some(&no_ak)),
            "test: security control 0x30 is authenticated and no authentication key is configured (secrets file: [devices.4D4D4D0000BC614E] ak)"
        );
        assert_eq!(opened(0x20, 1, &seal(0x20, 1, b"x"), Some(&no_ak)).unwrap(), b"x", "encryption only needs no AK");
        assert_eq!(
            err(0x30, &[0; 11], Some(&keys)),
            "test: 11 byte(s) of ciphered information cannot hold the 12-byte tag"
        );
        assert_eq!(
            err(0x32, &[0; 20], Some(&keys)),
            "test: security control 0x32: security suite 2 is not decoded (0 and 1 are)"
        );
        assert_eq!(
            err(0x70, &[0; 20], Some(&keys)),
            "test: security control 0x70: the broadcast key set is not decoded (only global unicast keys)"
        );
        assert_eq!(err(0xb0, &[0; 20], Some(&keys)), "test: security control 0xB0: compression is not decoded");
    }

    #[test]
    fn keys_never_show() {
        let shown = format!("{:?}", pair(EK, AK));
        assert_eq!(shown, "KeyPair { ek: SecretKey(..), ak: Some(SecretKey(..)) }");
        assert_eq!(SecretKey::from_hex("0001"), None);
        assert_eq!(SecretKey::from_hex("zz0102030405060708090a0b0c0d0e0f"), None);
    }
}
