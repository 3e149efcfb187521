//! general-glo-ciphering (Green Book 9.2.7, security suite 0), as a meter
//! seals its pushes and `plugins/dlms-codec` opens them:
//!
//! ```text
//! DB                          general-glo-ciphering
//! 08 <system title, 8>
//! <A-XDR length>              of the ciphered content:
//!   SC                          security control (0x30: authenticated and encrypted; 0x00: none)
//!   <invocation counter, u32 big-endian>
//!   <information>               the APDU: AES-128-GCM ciphertext under SC 0x30, as is under 0x00
//!   <tag, 12>                   under SC 0x30 only
//! ```
//!
//! IV = system title ‖ invocation counter; key = EK; AAD = SC ‖ AK.

use aes_gcm::aead::consts::U12;
use aes_gcm::aes::Aes128;
use aes_gcm::{AeadInOut, AesGcm, KeyInit, Nonce};

use super::apdu::put_length;
use super::options::Keys;

/// The tag of general-glo-ciphering.
pub const GENERAL_GLO_CIPHERING: u8 = 0xDB;
/// Security control: suite 0, authenticated and encrypted.
pub const SC_AUTHENTICATED_ENCRYPTED: u8 = 0x30;
/// Security control: suite 0, no protection.
pub const SC_NONE: u8 = 0x00;
/// The GCM tag's length.
pub const TAG_LEN: usize = 12;

/// AES-128-GCM with a 96-bit IV and a 12-byte tag.
type Gcm = AesGcm<Aes128, U12, U12>;

/// The IV of a meter's APDU: its system title, then its invocation counter.
pub fn iv(title: &[u8; 8], counter: u32) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[..8].copy_from_slice(title);
    iv[8..].copy_from_slice(&counter.to_be_bytes());
    iv
}

/// The AAD of an authenticated APDU: security control, then AK.
pub fn aad(control: u8, keys: &Keys) -> Vec<u8> {
    let mut aad = vec![control];
    aad.extend_from_slice(&keys.ak.0);
    aad
}

/// `apdu` sealed as general-glo-ciphering from `title` with invocation
/// counter `counter`, security control 0x30 under `keys`.
pub fn glo_cipher(title: &[u8; 8], counter: u32, keys: &Keys, apdu: &[u8]) -> Vec<u8> {
    let gcm = Gcm::new(&keys.ek.0.into());
    let mut information = apdu.to_vec();
    let nonce = Nonce::<U12>::from(iv(title, counter));
    // Invariant: GCM refuses only plaintexts over 2^36 bytes; a push is
    // under a kilobyte. An empty tag would make the codec refuse the push
    // as changed, never pass it.
    let tag = gcm
        .encrypt_inout_detached(&nonce, &aad(SC_AUTHENTICATED_ENCRYPTED, keys), information.as_mut_slice().into())
        .map(|t| t.to_vec())
        .unwrap_or_default();
    information.extend_from_slice(&tag);
    glo(title, SC_AUTHENTICATED_ENCRYPTED, counter, &information)
}

/// `apdu` as general-glo-ciphering from `title` with invocation counter
/// `counter` and security control 0x00: the header in clear, the APDU as is.
pub fn glo_clear(title: &[u8; 8], counter: u32, apdu: &[u8]) -> Vec<u8> {
    glo(title, SC_NONE, counter, apdu)
}

/// The general-glo-ciphering envelope around `information`.
fn glo(title: &[u8; 8], control: u8, counter: u32, information: &[u8]) -> Vec<u8> {
    let content_len = 1 + 4 + information.len();
    let mut out = Vec::with_capacity(content_len + 14);
    out.extend_from_slice(&[GENERAL_GLO_CIPHERING, 8]);
    out.extend_from_slice(title);
    put_length(&mut out, content_len);
    out.push(control);
    out.extend_from_slice(&counter.to_be_bytes());
    out.extend_from_slice(information);
    out
}
