//! The ACSE APDUs of the command exchange (`docs/dlms-commands.md`; DLMS
//! UA Green Book 9.4, BER), from the meter's side: the AARQ it reads,
//! the AARE it answers, the RLRQ and its RLRE.
//!
//! ```text
//! AARQ  60 L  [A1 application-context-name] [8A sender-acse-requirements]
//!             [8B mechanism-name] [AC calling-authentication-value (80 L password)]
//!             [BE user-information (04 L InitiateRequest)]    any other element skipped
//! AARE  61 L  A1 09 06 07 60 85 74 05 08 01 01   application-context-name (LN, no ciphering)
//!             A2 03 02 01 <result>
//!             A3 05 A1 03 02 01 <diagnostic>     acse-service-user
//!             [BE L 04 L <InitiateResponse | confirmed-service-error>]
//! RLRQ  62 L ...                                  (any contents)
//! RLRE  63 03 80 01 00                            reason normal
//! ```
//!
//! An AARQ is read by tag and length: elements are found wherever they
//! come and unknown ones are skipped; one whose lengths do not fit, that
//! names no application context or carries no InitiateRequest, is
//! malformed ([`Aarq::decode`] says `None`).

use super::apdu::put_length;
use super::cursor::Cursor;
use super::xdlms::InitiateRequest;

/// The tag of AARQ.
pub const AARQ: u8 = 0x60;
/// The tag of AARE.
pub const AARE: u8 = 0x61;
/// The tag of RLRQ.
pub const RLRQ: u8 = 0x62;
/// The tag of RLRE.
pub const RLRE: u8 = 0x63;

/// The RLRE the meter answers every RLRQ with: reason normal.
pub const RLRE_NORMAL: [u8; 5] = [RLRE, 0x03, 0x80, 0x01, 0x00];

/// The application context name the meter speaks: logical name
/// referencing, no ciphering (2.16.756.5.8.1.1), as the BER OID's
/// contents.
pub const CONTEXT_LN_NO_CIPHERING: [u8; 7] = [0x60, 0x85, 0x74, 0x05, 0x08, 0x01, 0x01];
/// The mechanism name of low level security (2.16.756.5.8.2.1).
pub const MECHANISM_LLS: [u8; 7] = [0x60, 0x85, 0x74, 0x05, 0x08, 0x02, 0x01];

/// Element tags of an AARQ and an AARE.
const APPLICATION_CONTEXT_NAME: u8 = 0xA1;
const RESULT: u8 = 0xA2;
const RESULT_SOURCE_DIAGNOSTIC: u8 = 0xA3;
const MECHANISM_NAME: u8 = 0x8B;
const CALLING_AUTHENTICATION_VALUE: u8 = 0xAC;
const USER_INFORMATION: u8 = 0xBE;
/// Universal tags inside them.
const OBJECT_IDENTIFIER: u8 = 0x06;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
/// Authentication-value's `charstring` choice ([0] IMPLICIT GraphicString).
const CHARSTRING: u8 = 0x80;
/// acse-service-user inside result-source-diagnostic.
const ACSE_SERVICE_USER: u8 = 0xA1;

/// The calling-authentication-value of an AARQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// The `charstring` choice: an LLS password.
    Password(Vec<u8>),
    /// Another choice (bitstring, external, other): no password.
    Other,
}

/// What the meter reads of an AARQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aarq {
    /// The application context name's OID contents.
    pub application_context: Vec<u8>,
    /// The mechanism name's OID contents, when given.
    pub mechanism: Option<Vec<u8>>,
    /// The calling-authentication-value, when given.
    pub authentication: Option<Authentication>,
    /// The InitiateRequest of its user-information.
    pub initiate: InitiateRequest,
}

/// The contents of the one element that `bytes` must be, with `tag`.
fn only(bytes: &[u8], tag: u8) -> Option<&[u8]> {
    let mut c = Cursor::new(bytes);
    let element = c.element()?;
    (element.tag == tag && c.is_empty()).then_some(element.contents)
}

impl Aarq {
    /// Decode `apdu` as an AARQ, or `None` when it is malformed.
    pub fn decode(apdu: &[u8]) -> Option<Aarq> {
        let mut outer = Cursor::new(apdu);
        let aarq = outer.element()?;
        if aarq.tag != AARQ || !outer.is_empty() {
            return None;
        }
        let (mut context, mut mechanism, mut authentication, mut initiate) = (None, None, None, None);
        let mut c = Cursor::new(aarq.contents);
        while !c.is_empty() {
            let element = c.element()?;
            match element.tag {
                APPLICATION_CONTEXT_NAME => context = Some(only(element.contents, OBJECT_IDENTIFIER)?.to_vec()),
                MECHANISM_NAME => mechanism = Some(element.contents.to_vec()),
                CALLING_AUTHENTICATION_VALUE => {
                    let mut inner = Cursor::new(element.contents);
                    let value = inner.element()?;
                    authentication = Some(if value.tag == CHARSTRING {
                        Authentication::Password(value.contents.to_vec())
                    } else {
                        Authentication::Other
                    });
                }
                USER_INFORMATION => {
                    initiate = Some(InitiateRequest::decode(only(element.contents, OCTET_STRING)?)?);
                }
                _ => {}
            }
        }
        Some(Aarq { application_context: context?, mechanism, authentication, initiate: initiate? })
    }
}

/// An AARE's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum AssociationResult {
    /// accepted.
    Accepted = 0,
    /// rejected-permanent.
    RejectedPermanent = 1,
}

/// An AARE's acse-service-user diagnostic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Diagnostic {
    /// null (accepted).
    Null = 0,
    /// no-reason-given (a malformed AARQ, a refused InitiateRequest).
    NoReasonGiven = 1,
    /// application-context-name-not-supported.
    ApplicationContextNameNotSupported = 2,
    /// authentication-mechanism-name-not-recognised.
    MechanismNameNotRecognised = 11,
    /// authentication-mechanism-name-required.
    MechanismNameRequired = 12,
    /// authentication-failure (a wrong password).
    AuthenticationFailure = 13,
    /// authentication-required (no password).
    AuthenticationRequired = 14,
}

/// The AARE with `result` and `diagnostic`, and `user_information` (an
/// InitiateResponse or a confirmed-service-error, in an OCTET STRING)
/// when given.
pub fn aare(result: AssociationResult, diagnostic: Diagnostic, user_information: Option<&[u8]>) -> Vec<u8> {
    let mut body = vec![APPLICATION_CONTEXT_NAME, 0x09, OBJECT_IDENTIFIER, 0x07];
    body.extend_from_slice(&CONTEXT_LN_NO_CIPHERING);
    body.extend_from_slice(&[RESULT, 0x03, INTEGER, 0x01, result as u8]);
    body.extend_from_slice(&[RESULT_SOURCE_DIAGNOSTIC, 0x05, ACSE_SERVICE_USER, 0x03, INTEGER, 0x01, diagnostic as u8]);
    if let Some(information) = user_information {
        let mut octets = vec![OCTET_STRING];
        put_length(&mut octets, information.len());
        octets.extend_from_slice(information);
        body.push(USER_INFORMATION);
        put_length(&mut body, octets.len());
        body.extend_from_slice(&octets);
    }
    let mut out = vec![AARE];
    put_length(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dlms::xdlms::{CONFORMANCE_SUPPORTED, initiate_response};
    use meterhub_plugin_api::hex;

    /// The spec's AARQ with password "12345678".
    const SPEC_AARQ: &str = "60 36 A1 09 06 07 60 85 74 05 08 01 01 8A 02 07 80 8B 07 60 85 74 05 08 02 01 \
        AC 0A 80 08 31 32 33 34 35 36 37 38 BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 00 00 18 04 00";

    #[test]
    fn the_specs_aarq_reads_with_its_password() {
        let aarq = Aarq::decode(&hex::decode_spaced(SPEC_AARQ).unwrap()).unwrap();
        assert_eq!(aarq.application_context, CONTEXT_LN_NO_CIPHERING);
        assert_eq!(aarq.mechanism.as_deref(), Some(&MECHANISM_LLS[..]));
        assert_eq!(aarq.authentication, Some(Authentication::Password(b"12345678".to_vec())));
        assert_eq!(aarq.initiate.conformance, CONFORMANCE_SUPPORTED);
    }

    #[test]
    fn unknown_elements_are_skipped_and_broken_lengths_refused() {
        // A protocol-version and a calling-AP-title first, no mechanism.
        let aarq = hex::decode_spaced(
            "60 2D 80 02 07 80 A6 0A 04 08 4D 48 42 00 00 00 00 01 A1 09 06 07 60 85 74 05 08 01 01 \
             BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 00 00 18 04 00",
        )
        .unwrap();
        let read = Aarq::decode(&aarq).unwrap();
        assert_eq!((read.mechanism, read.authentication), (None, None));
        let bytes = hex::decode_spaced(SPEC_AARQ).unwrap();
        assert_eq!(Aarq::decode(&bytes[..bytes.len() - 1]), None, "cut short");
        let mut lying = bytes.clone();
        lying[1] += 1;
        assert_eq!(Aarq::decode(&lying), None, "a length past the end");
        // Without user-information, or without an application context.
        assert_eq!(Aarq::decode(&hex::decode_spaced("60 0B A1 09 06 07 60 85 74 05 08 01 01").unwrap()), None);
        let no_context = hex::decode_spaced("60 12 BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 00 00 18 04 00").unwrap();
        assert_eq!(Aarq::decode(&no_context), None);
    }

    #[test]
    fn the_aare_is_the_specs_byte_for_byte() {
        let accepted =
            aare(AssociationResult::Accepted, Diagnostic::Null, Some(&initiate_response(CONFORMANCE_SUPPORTED)));
        let want = "61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 00 \
                    BE 10 04 0E 08 00 06 5F 1F 04 00 00 00 18 04 00 00 07";
        assert_eq!(accepted, hex::decode_spaced(want).unwrap());
        let refused = aare(AssociationResult::RejectedPermanent, Diagnostic::AuthenticationFailure, None);
        let want = "61 17 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 01 A3 05 A1 03 02 01 0D";
        assert_eq!(refused, hex::decode_spaced(want).unwrap());
    }
}
