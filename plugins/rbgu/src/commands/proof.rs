//! Whether a push proves it comes from the holder of its device's keys:
//! the one check a session makes before it identifies its device to the
//! host ([`crate::session`]), after which the driver sends the device's
//! queued commands, the first of them an AARQ carrying the device's LLS
//! password in clear.
//!
//! Why: a `general-glo-ciphering` header is in clear, so every push shows
//! its meter's system title to anyone who sees it, and a system title
//! costs nothing to send. Identifying on the title alone would let anyone
//! who knows it open a connection, send a made-up header with a fresh
//! invocation counter, and receive the meter's password (and its
//! commands). Only the holder of the device's keys can make an APDU whose
//! authentication tag verifies, so only such a push identifies.
//!
//! What proves (security suite 0, IEC 62056-5-3, as `dlms-codec` opens
//! it): a `general-glo-ciphering` APDU with security control 0x30
//! (authenticated and encrypted) or 0x10 (authenticated only), whose
//! 12-byte AES-128-GCM tag verifies under the device's global unicast
//! encryption key `ek` and authentication key `ak` from the secrets file:
//! IV = system title (8) ‖ invocation counter (4, big-endian), AAD =
//! security control byte ‖ `ak` (‖ the information, for 0x10). Nothing
//! else proves: encryption only (0x20: without a tag anyone may flip
//! ciphertext bits), no protection (0x00), other suites or key sets, a
//! device without `ek` or `ak`. Such a device is never identified, so it
//! is never sent commands. The plaintext is not kept: decoding is the
//! codec's, which checks the tag again and quarantines what fails it.
//!
//! Keys never appear in `Debug` output ([`SecretKey`]) nor in any error
//! ([`Unproven`] names no key).

use aes_gcm::aead::consts::U12;
use aes_gcm::aes::Aes128;
use aes_gcm::{AeadInOut, AesGcm, KeyInit, Nonce, Tag};

use crate::dlms;

/// AES-128-GCM with a 96-bit IV and a 12-byte tag.
type Gcm = AesGcm<Aes128, U12, U12>;

/// The tag's length.
pub const TAG_LEN: usize = 12;

/// Authenticated and encrypted, security suite 0.
pub const AUTHENTICATED_ENCRYPTED: u8 = 0x30;

/// Authenticated only, security suite 0.
pub const AUTHENTICATED: u8 = 0x10;

pub use meterhub_plugin_api::secret::SecretKey;

/// A device's global unicast keys, both needed for a proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// The global unicast encryption key (`ek`), the block cipher's key.
    pub ek: SecretKey,
    /// The authentication key (`ak`).
    pub ak: SecretKey,
}

/// Why a push proves nothing. Names no key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unproven {
    /// The device has no `ek` and `ak` in the secrets file.
    NoKeys,
    /// Not a readable `general-glo-ciphering` APDU.
    NotGlo,
    /// Its security control byte is not 0x30 or 0x10.
    NotAuthenticated(u8),
    /// Too short to hold a tag.
    NoTag,
    /// The tag does not verify: other keys, or changed bytes.
    Forged,
}

/// Whether `apdu` (a push's whole APDU) proves it was made with `keys`,
/// those of the device its header names.
pub fn check(apdu: &[u8], keys: Option<&KeyPair>) -> Result<(), Unproven> {
    let keys = keys.ok_or(Unproven::NoKeys)?;
    let (header, sealed) = dlms::glo_sealed(apdu).ok_or(Unproven::NotGlo)?;
    let control = header.security_control;
    if control != AUTHENTICATED_ENCRYPTED && control != AUTHENTICATED {
        return Err(Unproven::NotAuthenticated(control));
    }
    let split = sealed.len().checked_sub(TAG_LEN).ok_or(Unproven::NoTag)?;
    let (information, tag) = sealed.split_at(split);
    let tag = Tag::<U12>::try_from(tag).map_err(|_| Unproven::NoTag)?;
    let mut iv = [0u8; 12];
    iv[..8].copy_from_slice(&header.system_title.0);
    iv[8..].copy_from_slice(&header.invocation_counter.to_be_bytes());
    let iv = Nonce::<U12>::from(iv);
    let mut aad = vec![control];
    aad.extend_from_slice(keys.ak.bytes());
    let gcm = Gcm::new(&(*keys.ek.bytes()).into());
    let verified = if control == AUTHENTICATED_ENCRYPTED {
        let mut buffer = information.to_vec();
        gcm.decrypt_inout_detached(&iv, &aad, buffer.as_mut_slice().into(), &tag)
    } else {
        aad.extend_from_slice(information);
        gcm.decrypt_inout_detached(&iv, &aad, (&mut [][..]).into(), &tag)
    };
    verified.map_err(|_| Unproven::Forged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::tests::{AK, EK, seal};
    use crate::dlms::SystemTitle;
    use crate::framing::testing::unhex;

    fn pair(ek: &str, ak: &str) -> KeyPair {
        KeyPair { ek: SecretKey::from_hex(ek).unwrap(), ak: SecretKey::from_hex(ak).unwrap() }
    }

    /// A `general-glo-ciphering` APDU of `title` around `sealed` (the
    /// bytes after the invocation counter).
    fn glo(title: &str, control: u8, ic: u32, sealed: &[u8]) -> Vec<u8> {
        let mut apdu = vec![0xDB, 8];
        apdu.extend(unhex(title));
        apdu.push((5 + sealed.len()) as u8);
        apdu.push(control);
        apdu.extend(ic.to_be_bytes());
        apdu.extend(sealed);
        apdu
    }

    /// The Green Book's example (its Table 40, as the MIT-licensed
    /// `u9n/dlms-cosem` tests and `dlms-codec`'s reproduce it): a
    /// glo-get-request authenticated only and both, under system title
    /// 4D4D4D0000BC614E, IC 0x01234567 and the keys [`EK`], [`AK`], put in
    /// a `general-glo-ciphering` APDU.
    #[test]
    fn the_green_book_example_proves_and_the_test_s_sealing_agrees() {
        let title = "4D4D4D0000BC614E";
        let plain = unhex("c0010000080000010000ff0200");
        for (control, body) in [
            (0x10, "c0010000080000010000ff020006725d910f9221d263877516"),
            (0x30, "411312ff935a47566827c467bc7d825c3be4a77c3fcc056b6b"),
        ] {
            let apdu = glo(title, control, 0x0123_4567, &unhex(body));
            assert_eq!(check(&apdu, Some(&pair(EK, AK))), Ok(()), "SC 0x{control:02X}");
            let sealed = seal(SystemTitle(unhex(title).try_into().unwrap()), control, 0x0123_4567, &plain, EK, AK);
            assert_eq!(sealed, apdu, "SC 0x{control:02X}");
        }
    }

    #[test]
    fn only_the_right_keys_and_unchanged_bytes_prove() {
        let title = SystemTitle(unhex("2F19229199164103").try_into().unwrap());
        let plain = unhex("0f000001db00020212000112a5");
        let keys = pair(EK, AK);
        for control in [0x30, 0x10] {
            let apdu = seal(title, control, 7, &plain, EK, AK);
            assert_eq!(check(&apdu, Some(&keys)), Ok(()));
            assert_eq!(check(&apdu, None), Err(Unproven::NoKeys));
            let other = "ffffffffffffffffffffffffffffffff";
            assert_eq!(check(&apdu, Some(&pair(other, AK))), Err(Unproven::Forged), "a wrong EK");
            assert_eq!(check(&apdu, Some(&pair(EK, other))), Err(Unproven::Forged), "a wrong AK");
            // Any byte changed after the length: the security control
            // byte, the counter, the information or the tag.
            for at in 11..apdu.len() {
                let mut changed = apdu.clone();
                changed[at] ^= 0x01;
                assert!(check(&changed, Some(&keys)).is_err(), "SC 0x{control:02X}, byte {at}");
            }
            let mut other_title = apdu.clone();
            other_title[9] ^= 0x01;
            assert_eq!(check(&other_title, Some(&keys)), Err(Unproven::Forged), "another system title");
        }
    }

    #[test]
    fn encryption_only_no_protection_and_other_suites_prove_nothing() {
        let title = SystemTitle(unhex("2F19229199164103").try_into().unwrap());
        let keys = pair(EK, AK);
        let plain = unhex("0f000001db00020212000112a5");
        // A 0x30 APDU with its tag stripped and SC 0x20: what the codec
        // would open, with keys that hold no authentication key.
        let mut stripped = seal(title, 0x30, 3, &plain, EK, AK);
        stripped.truncate(stripped.len() - TAG_LEN);
        stripped[10] -= TAG_LEN as u8;
        stripped[11] = 0x20;
        assert_eq!(check(&stripped, Some(&keys)), Err(Unproven::NotAuthenticated(0x20)));
        for control in [0x00, 0x20, 0x31, 0x11, 0x50, 0x70, 0xB0] {
            let mut apdu = seal(title, 0x30, 3, &plain, EK, AK);
            apdu[11] = control;
            assert_eq!(check(&apdu, Some(&keys)), Err(Unproven::NotAuthenticated(control)));
        }
        let short = glo("2F19229199164103", 0x30, 3, &[0; 11]);
        assert_eq!(check(&short, Some(&keys)), Err(Unproven::NoTag));
        assert_eq!(check(&unhex("0f000001db00020212"), Some(&keys)), Err(Unproven::NotGlo));
        assert_eq!(check(&short[..20], Some(&keys)), Err(Unproven::NotGlo), "a damaged header");
    }

    #[test]
    fn keys_never_show() {
        let shown = format!("{:?}", pair(EK, AK));
        assert_eq!(shown, "KeyPair { ek: SecretKey(..), ak: SecretKey(..) }");
        assert_eq!(SecretKey::from_hex("0001"), None);
        assert_eq!(SecretKey::from_hex("zz0102030405060708090a0b0c0d0e0f"), None);
    }
}
