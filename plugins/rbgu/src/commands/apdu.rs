//! The APDUs of a command exchange, byte for byte as
//! `docs/dlms-commands.md` ("APDUs") writes them: what the driver sends
//! (AARQ, SET-REQUEST-NORMAL, RLRQ) and what it reads of the meter's
//! answers (AARE, SET-RESPONSE-NORMAL, RLRE, exception-response,
//! confirmed-service-error), with the names of their codes so that an
//! outcome says `authentication-failure (13)` rather than a number.
//!
//! The AARQ and AARE are BER (ACSE), the rest A-XDR. A reader takes one
//! whole APDU (the wrapper frame's content) and says why it cannot read
//! it; it skips any AARE element it does not need by its tag and length.
//! Nothing here holds state: [`super::exchange`] decides what an answer
//! means for the commands.

/// The tag of an AARE.
pub const AARE: u8 = 0x61;
/// The tag of an RLRE.
pub const RLRE: u8 = 0x63;
/// The tag of a SET-RESPONSE.
pub const SET_RESPONSE: u8 = 0xC5;
/// The tag of an exception-response.
pub const EXCEPTION_RESPONSE: u8 = 0xD8;
/// The tag of a confirmed-service-error.
pub const CONFIRMED_SERVICE_ERROR: u8 = 0x0E;

/// Whether an APDU with tag `tag` is a meter's answer to the driver (never
/// committed), not a push.
pub fn is_answer(tag: u8) -> bool {
    matches!(tag, AARE | SET_RESPONSE | RLRE | EXCEPTION_RESPONSE | CONFIRMED_SERVICE_ERROR)
}

/// The RLRQ: release, reason normal.
pub const RLRQ: [u8; 5] = [0x62, 0x03, 0x80, 0x01, 0x00];

/// The conformance bit of SET (bit 20 of the 24: `0x000008`).
pub const CONFORMANCE_SET: u32 = 0x00_0008;
/// The conformance the AARQ proposes: get (bit 19) and set (bit 20).
const PROPOSED_CONFORMANCE: [u8; 3] = [0x00, 0x00, 0x18];
/// The application-context-name: logical name referencing, no ciphering.
const CONTEXT_LN: [u8; 9] = [0x06, 0x07, 0x60, 0x85, 0x74, 0x05, 0x08, 0x01, 0x01];
/// The mechanism-name: low level security (2.16.756.5.8.2.1).
const MECHANISM_LLS: [u8; 7] = [0x60, 0x85, 0x74, 0x05, 0x08, 0x02, 0x01];
/// The client's max receive PDU size: 1024.
const CLIENT_MAX_PDU: [u8; 2] = [0x04, 0x00];

/// The attribute a SET writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The interface class.
    pub class: u16,
    /// The logical name (OBIS code).
    pub obis: [u8; 6],
    /// The attribute.
    pub attribute: u8,
}

/// The AARQ opening an LLS association with `password` (at most
/// [`crate::device::MAX_PASSWORD`] bytes, so every length is one byte).
pub fn aarq(password: &[u8]) -> Vec<u8> {
    let mut body = vec![0xA1, CONTEXT_LN.len() as u8];
    body.extend(CONTEXT_LN);
    body.extend([0x8A, 0x02, 0x07, 0x80]);
    body.extend([0x8B, MECHANISM_LLS.len() as u8]);
    body.extend(MECHANISM_LLS);
    body.extend([0xAC, (password.len() + 2) as u8, 0x80, password.len() as u8]);
    body.extend(password);
    let mut initiate = vec![0x01, 0x00, 0x00, 0x00, 0x06, 0x5F, 0x1F, 0x04, 0x00];
    initiate.extend(PROPOSED_CONFORMANCE);
    initiate.extend(CLIENT_MAX_PDU);
    body.extend([0xBE, (initiate.len() + 2) as u8, 0x04, initiate.len() as u8]);
    body.extend(initiate);
    let mut apdu = vec![0x60, body.len() as u8];
    apdu.extend(body);
    apdu
}

/// The SET-REQUEST-NORMAL writing `data` (A-XDR, with its type tag) to
/// `target`, invoke-id `invoke_id` (1 to 15), high priority, confirmed.
pub fn set_request(invoke_id: u8, target: Target, data: &[u8]) -> Vec<u8> {
    let mut apdu = vec![0xC1, 0x01, 0xC0 | (invoke_id & 0x0F)];
    apdu.extend(target.class.to_be_bytes());
    apdu.extend(target.obis);
    apdu.extend([target.attribute, 0x00]);
    apdu.extend_from_slice(data);
    apdu
}

/// What an AARE says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aare {
    /// The association result: 0 accepted, 1 rejected-permanent, 2
    /// rejected-transient.
    pub result: u8,
    /// The result-source-diagnostic, if given.
    pub diagnostic: Option<Diagnostic>,
    /// What its user-information holds: the InitiateResponse, or why there
    /// is none to use (absent, a confirmed-service-error, unreadable).
    pub initiate: Result<InitiateResponse, String>,
    /// The confirmed-service-error its user-information holds, if it does
    /// (a refusal of the InitiateRequest), as [`read_confirmed_service_error`]
    /// says it.
    pub service_error: Option<String>,
}

/// The result-source-diagnostic of an AARE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagnostic {
    /// acse-service-user.
    User(u8),
    /// acse-service-provider.
    Provider(u8),
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (code, name) = match *self {
            Diagnostic::User(code) => (code, user_diagnostic(code)),
            Diagnostic::Provider(code) => (code, provider_diagnostic(code)),
        };
        match name {
            Some(name) => write!(f, "{name} ({code})"),
            None => write!(f, "diagnostic {code}"),
        }
    }
}

/// The xDLMS InitiateResponse of an accepted AARE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitiateResponse {
    /// The negotiated DLMS version.
    pub version: u8,
    /// The negotiated conformance, 24 bits.
    pub conformance: u32,
    /// The largest APDU the meter takes.
    pub server_max_pdu: u16,
}

impl Aare {
    /// Why the meter refused the association, for every command's
    /// outcome (`the meter refused the association: rejected-permanent
    /// (1), authentication-failure (13)`), with the confirmed-service-error
    /// of its user-information if there is one (`; confirmed-service-error:
    /// initiateError (1), initiate (6): incompatible-conformance (2)`).
    pub fn refusal(&self) -> String {
        let result = match self.result {
            1 => "rejected-permanent",
            2 => "rejected-transient",
            _ => "result",
        };
        let mut text = format!("the meter refused the association: {result} ({})", self.result);
        if let Some(d) = self.diagnostic {
            text.push_str(&format!(", {d}"));
        }
        if let Some(e) = &self.service_error {
            text.push_str(&format!("; {e}"));
        }
        text
    }
}

/// Read the AARE `apdu`.
pub fn read_aare(apdu: &[u8]) -> Result<Aare, String> {
    let body = outer(apdu, AARE, "AARE")?;
    let (mut result, mut diagnostic, mut user) = (None, None, None);
    let mut elements = Ber(body);
    while let Some((tag, value)) = elements.next().map_err(|e| format!("AARE: {e}"))? {
        match tag {
            0xA2 => result = Some(integer(value).map_err(|e| format!("AARE result: {e}"))?),
            0xA3 => {
                let (choice, inner) = single(value).map_err(|e| format!("AARE result-source-diagnostic: {e}"))?;
                let code = integer(inner).map_err(|e| format!("AARE result-source-diagnostic: {e}"))?;
                diagnostic = Some(match choice {
                    0xA1 => Diagnostic::User(code),
                    0xA2 => Diagnostic::Provider(code),
                    other => return Err(format!("AARE result-source-diagnostic of tag 0x{other:02X}")),
                });
            }
            0xBE => user = Some(value),
            _ => {}
        }
    }
    let result = result.ok_or("AARE without a result (A2)")?;
    let (initiate, service_error) = match user.map(user_information) {
        None => (Err("no user-information (no InitiateResponse)".to_owned()), None),
        Some(UserInformation::Initiate(initiate)) => (initiate, None),
        Some(UserInformation::ServiceError(e)) => (Err(e.clone()), Some(e)),
    };
    Ok(Aare { result, diagnostic, initiate, service_error })
}

/// What an AARE's user-information holds.
enum UserInformation {
    /// The InitiateResponse, or why it cannot be read.
    Initiate(Result<InitiateResponse, String>),
    /// A confirmed-service-error, as read.
    ServiceError(String),
}

/// What an AARE's user-information `value` (an OCTET STRING of an xDLMS
/// APDU) holds.
fn user_information(value: &[u8]) -> UserInformation {
    let inner = match single(value) {
        Ok((0x04, inner)) => inner,
        Ok((tag, _)) => {
            return UserInformation::Initiate(Err(format!("user-information of tag 0x{tag:02X}, not an OCTET STRING")));
        }
        Err(e) => return UserInformation::Initiate(Err(format!("user-information: {e}"))),
    };
    match inner.split_first() {
        None => UserInformation::Initiate(Err("user-information is empty".to_owned())),
        Some((0x08, rest)) => UserInformation::Initiate(initiate_response(rest)),
        Some((&CONFIRMED_SERVICE_ERROR, _)) => match read_confirmed_service_error(inner) {
            Ok(e) => UserInformation::ServiceError(e),
            Err(e) => UserInformation::Initiate(Err(e)),
        },
        Some((other, _)) => UserInformation::Initiate(Err(format!(
            "user-information holds 0x{other:02X}, not an InitiateResponse (0x08)"
        ))),
    }
}

/// The InitiateResponse after its tag: negotiated-quality-of-service
/// (optional), version, conformance (`5F 1F 04 00` and 3 bytes),
/// server-max-receive-pdu-size, vaa-name.
fn initiate_response(body: &[u8]) -> Result<InitiateResponse, String> {
    let short = || "InitiateResponse cut short".to_owned();
    let rest = match body.split_first().ok_or_else(short)? {
        (0x00, rest) => rest,
        (0x01, rest) => rest.get(1..).ok_or_else(short)?,
        (flag, _) => return Err(format!("InitiateResponse: quality-of-service flag 0x{flag:02X}")),
    };
    let [version, 0x5F, 0x1F, 0x04, unused, c1, c2, c3, p1, p2, _, _] = *rest else {
        return match rest.len() {
            12 => Err("InitiateResponse: no negotiated-conformance (5F 1F 04)".to_owned()),
            _ => Err(format!("InitiateResponse of {} bytes after its quality of service, expected 12", rest.len())),
        };
    };
    if unused != 0 {
        return Err(format!("InitiateResponse: conformance with {unused} unused bits, expected 0"));
    }
    let conformance = u32::from_be_bytes([0, c1, c2, c3]);
    Ok(InitiateResponse { version, conformance, server_max_pdu: u16::from_be_bytes([p1, p2]) })
}

/// What a SET-RESPONSE-NORMAL says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetResponse {
    /// Its invoke-id (the low 4 bits of invoke-id-and-priority).
    pub invoke_id: u8,
    /// Its data-access-result.
    pub result: u8,
}

/// Read the SET-RESPONSE `apdu`: `C5 01 <invoke-id-and-priority>
/// <data-access-result>`.
pub fn read_set_response(apdu: &[u8]) -> Result<SetResponse, String> {
    match *apdu {
        [SET_RESPONSE, 0x01, iip, result] => Ok(SetResponse { invoke_id: iip & 0x0F, result }),
        [SET_RESPONSE, 0x01, ..] => Err(format!("SET-RESPONSE-NORMAL of {} bytes, expected 4", apdu.len())),
        [SET_RESPONSE, kind, ..] => Err(format!("SET-RESPONSE of type {kind}, not normal (1)")),
        _ => Err(format!("SET-RESPONSE of {} bytes", apdu.len())),
    }
}

/// Read the RLRE `apdu`: its tag and length (its reason is not needed).
pub fn read_rlre(apdu: &[u8]) -> Result<(), String> {
    let mut elements = Ber(outer(apdu, RLRE, "RLRE")?);
    while elements.next().map_err(|e| format!("RLRE: {e}"))?.is_some() {}
    Ok(())
}

/// What the exception-response `apdu` says: `D8 <state-error>
/// <service-error>` (with the expected invocation counter, u32, after an
/// invocation-counter-error).
pub fn read_exception_response(apdu: &[u8]) -> Result<String, String> {
    let (state, service, rest) = match *apdu {
        [EXCEPTION_RESPONSE, state, service, ref rest @ ..] => (state, service, rest),
        _ => return Err(format!("exception-response of {} bytes, expected at least 3", apdu.len())),
    };
    let state = named(
        state,
        match state {
            1 => Some("service-not-allowed"),
            2 => Some("service-unknown"),
            _ => None,
        },
    );
    let service_name = match service {
        1 => Some("operation-not-possible"),
        2 => Some("service-not-supported"),
        3 => Some("other-reason"),
        4 => Some("pdu-too-long"),
        5 => Some("deciphering-error"),
        6 => Some("invocation-counter-error"),
        _ => None,
    };
    let mut text = format!("exception-response: {state}, {}", named(service, service_name));
    if let (6, [a, b, c, d]) = (service, rest) {
        text.push_str(&format!(", expected invocation counter {}", u32::from_be_bytes([*a, *b, *c, *d])));
    }
    Ok(text)
}

/// What the confirmed-service-error `apdu` says: `0E <service>
/// <service-error kind> <value>`.
pub fn read_confirmed_service_error(apdu: &[u8]) -> Result<String, String> {
    let [CONFIRMED_SERVICE_ERROR, service, kind, value] = *apdu else {
        return Err(format!("confirmed-service-error of {} bytes, expected 4", apdu.len()));
    };
    let service = named(
        service,
        match service {
            1 => Some("initiateError"),
            5 => Some("read"),
            6 => Some("write"),
            _ => None,
        },
    );
    let kinds = [
        "application-reference",
        "hardware-resource",
        "vde-state-error",
        "service",
        "definition",
        "access",
        "initiate",
        "load-data-set",
        "change-scope",
        "task",
        "other",
    ];
    let value_name = match (kind, value) {
        (6, 0) => Some("other"),
        (6, 1) => Some("dlms-version-too-low"),
        (6, 2) => Some("incompatible-conformance"),
        (6, 3) => Some("pdu-size-too-short"),
        (6, 4) => Some("refused-by-the-VDE-Handler"),
        _ => None,
    };
    let kind = named(kind, kinds.get(usize::from(kind)).copied());
    Ok(format!("confirmed-service-error: {service}, {kind}: {}", named(value, value_name)))
}

/// A data-access-result as an outcome names it: `read-write-denied (3)`.
pub fn data_access_result(code: u8) -> String {
    let name = match code {
        0 => "success",
        1 => "hardware-fault",
        2 => "temporary-failure",
        3 => "read-write-denied",
        4 => "object-undefined",
        9 => "object-class-inconsistent",
        11 => "object-unavailable",
        12 => "type-unmatched",
        13 => "scope-of-access-violated",
        14 => "data-block-unavailable",
        15 => "long-get-aborted",
        16 => "no-long-get-in-progress",
        17 => "long-set-aborted",
        18 => "no-long-set-in-progress",
        19 => "data-block-number-invalid",
        250 => "other-reason",
        _ => return format!("unknown data-access-result ({code})"),
    };
    format!("{name} ({code})")
}

/// The acse-service-user diagnostics (ACSE, and the Green Book's 11 to 14).
fn user_diagnostic(code: u8) -> Option<&'static str> {
    Some(match code {
        0 => "null",
        1 => "no-reason-given",
        2 => "application-context-name-not-supported",
        3 => "calling-AP-title-not-recognized",
        4 => "calling-AP-invocation-identifier-not-recognized",
        5 => "calling-AE-qualifier-not-recognized",
        6 => "calling-AE-invocation-identifier-not-recognized",
        7 => "called-AP-title-not-recognized",
        8 => "called-AP-invocation-identifier-not-recognized",
        9 => "called-AE-qualifier-not-recognized",
        10 => "called-AE-invocation-identifier-not-recognized",
        11 => "authentication-mechanism-name-not-recognised",
        12 => "authentication-mechanism-name-required",
        13 => "authentication-failure",
        14 => "authentication-required",
        _ => return None,
    })
}

/// The acse-service-provider diagnostics.
fn provider_diagnostic(code: u8) -> Option<&'static str> {
    Some(match code {
        0 => "null",
        1 => "no-reason-given",
        2 => "no-common-acse-version",
        _ => return None,
    })
}

/// `name (code)`, or the bare code when it has no name.
fn named(code: u8, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{name} ({code})"),
        None => format!("{code}"),
    }
}

/// The content of the BER APDU `apdu` of tag `tag` (named `what`), whose
/// length must be that of the rest of it.
fn outer<'a>(apdu: &'a [u8], tag: u8, what: &str) -> Result<&'a [u8], String> {
    let mut ber = Ber(apdu);
    match ber.next().map_err(|e| format!("{what}: {e}"))? {
        Some((t, body)) if t == tag && ber.0.is_empty() => Ok(body),
        Some((t, _)) if t == tag => Err(format!("{what}: {} bytes after its declared length", ber.0.len())),
        _ => Err(format!("{what}: tag 0x{:02X}", apdu.first().copied().unwrap_or_default())),
    }
}

/// The one element of `value`, which must hold nothing else.
fn single(value: &[u8]) -> Result<(u8, &[u8]), String> {
    let mut ber = Ber(value);
    match ber.next()? {
        Some(element) if ber.0.is_empty() => Ok(element),
        Some(_) => Err("more than one element".to_owned()),
        None => Err("empty".to_owned()),
    }
}

/// The value of `value`, which must be an INTEGER of one byte
/// (`02 01 <n>`).
fn integer(value: &[u8]) -> Result<u8, String> {
    match single(value)? {
        (0x02, [n]) => Ok(*n),
        (0x02, n) => Err(format!("an INTEGER of {} bytes, expected 1", n.len())),
        (tag, _) => Err(format!("tag 0x{tag:02X}, expected an INTEGER (0x02)")),
    }
}

/// BER elements one after the other: a one-byte tag, a length (short
/// form, or long form of one or two bytes), the value.
struct Ber<'a>(&'a [u8]);

impl<'a> Ber<'a> {
    /// The next element, `None` at the end.
    fn next(&mut self) -> Result<Option<(u8, &'a [u8])>, String> {
        let Some((&tag, rest)) = self.0.split_first() else { return Ok(None) };
        if tag & 0x1F == 0x1F {
            return Err(format!("tag 0x{tag:02X} of more than one byte"));
        }
        let (len, rest) = match rest {
            [n @ 0..=0x7F, rest @ ..] => (usize::from(*n), rest),
            [0x81, n, rest @ ..] => (usize::from(*n), rest),
            [0x82, a, b, rest @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), rest),
            [n, ..] => return Err(format!("element 0x{tag:02X}: length form 0x{n:02X}")),
            [] => return Err(format!("element 0x{tag:02X} without a length")),
        };
        if rest.len() < len {
            return Err(format!("element 0x{tag:02X} declares {len} bytes, {} follow", rest.len()));
        }
        let (value, rest) = rest.split_at(len);
        self.0 = rest;
        Ok(Some((tag, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::testing::unhex;

    /// The spec's accepted AARE.
    const ACCEPTED: &str = "61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 00
                            BE 10 04 0E 08 00 06 5F 1F 04 00 00 00 18 04 00 00 07";
    /// An AARE refusing with authentication-failure, no user-information.
    const REFUSED: &str = "61 1F A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 01 A3 05 A1 03 02 01 0D
                           BE 06 04 04 0E 01 06 01";

    #[test]
    fn the_aarq_is_the_spec_s() {
        let want = unhex(
            "60 36 A1 09 06 07 60 85 74 05 08 01 01 8A 02 07 80 8B 07 60 85 74 05 08 02 01
             AC 0A 80 08 31 32 33 34 35 36 37 38
             BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 00 00 18 04 00",
        );
        assert_eq!(aarq(b"12345678"), want);
        let long = aarq(&[b'x'; crate::device::MAX_PASSWORD]);
        assert_eq!((long[1], long.len()), (46 + 64, 2 + 46 + 64), "one-byte lengths");
    }

    #[test]
    fn set_request_and_rlrq() {
        let target = Target { class: 8, obis: [0, 0, 1, 0, 0, 255], attribute: 2 };
        assert_eq!(set_request(1, target, &[0x11, 0x05]), unhex("C1 01 C1 0008 0000010000FF 02 00 1105"));
        assert_eq!(set_request(15, target, &[])[2], 0xCF);
        assert_eq!(RLRQ.to_vec(), unhex("62 03 80 01 00"));
    }

    #[test]
    fn an_accepted_aare_is_read() {
        let aare = read_aare(&unhex(ACCEPTED)).unwrap();
        assert_eq!((aare.result, aare.diagnostic), (0, Some(Diagnostic::User(0))));
        let initiate = aare.initiate.unwrap();
        assert_eq!(initiate, InitiateResponse { version: 6, conformance: 0x18, server_max_pdu: 1024 });
        assert_ne!(initiate.conformance & CONFORMANCE_SET, 0);
        // Unknown elements are skipped; a quality of service is read over.
        let other = unhex(
            "61 30 88 02 07 80 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A2 03 02 01 00
             BE 11 04 0F 08 01 05 06 5F 1F 04 00 00 00 10 01 00 00 07 89 00",
        );
        let aare = read_aare(&other).unwrap();
        assert_eq!(aare.diagnostic, Some(Diagnostic::Provider(0)));
        assert_eq!(aare.initiate.unwrap(), InitiateResponse { version: 6, conformance: 0x10, server_max_pdu: 256 });
    }

    #[test]
    fn the_public_aare_is_read() {
        // u9n/dlms-cosem (MIT), tests/test_hdlc/test_hdlc.py, as in fixtures/hdlc/public-frames.hex.
        let aare = unhex(
            "61 29 a1 09 06 07 60 85 74 05 08 01 01 a2 03 02 01 00 a3 05 a1 03 02 01 00
             be 10 04 0e 08 00 06 5f 1f 04 00 00 1e 1d 04 c8 00 07",
        );
        let aare = read_aare(&aare).unwrap();
        assert_eq!(aare.result, 0);
        let initiate = aare.initiate.unwrap();
        assert_eq!(initiate, InitiateResponse { version: 6, conformance: 0x1E1D, server_max_pdu: 1224 });
        assert_ne!(initiate.conformance & CONFORMANCE_SET, 0);
    }

    #[test]
    fn a_refusal_names_result_and_diagnostic() {
        let aare = read_aare(&unhex(REFUSED)).unwrap();
        assert_eq!(
            aare.refusal(),
            "the meter refused the association: rejected-permanent (1), authentication-failure (13); \
             confirmed-service-error: initiateError (1), initiate (6): dlms-version-too-low (1)"
        );
        let cse = "confirmed-service-error: initiateError (1), initiate (6): dlms-version-too-low (1)";
        assert_eq!((aare.initiate.unwrap_err(), aare.service_error.as_deref()), (cse.to_owned(), Some(cse)));
        let bare = Aare {
            result: 1,
            diagnostic: Some(Diagnostic::User(13)),
            initiate: Err(String::new()),
            service_error: None,
        };
        assert_eq!(
            bare.refusal(),
            "the meter refused the association: rejected-permanent (1), authentication-failure (13)"
        );
        let provider = Aare {
            result: 2,
            diagnostic: Some(Diagnostic::Provider(2)),
            initiate: Err(String::new()),
            service_error: None,
        };
        assert_eq!(
            provider.refusal(),
            "the meter refused the association: rejected-transient (2), no-common-acse-version (2)"
        );
        let odd = Aare {
            result: 7,
            diagnostic: Some(Diagnostic::User(99)),
            initiate: Err(String::new()),
            service_error: None,
        };
        assert_eq!(odd.refusal(), "the meter refused the association: result (7), diagnostic 99");
    }

    #[test]
    fn every_cut_of_an_aare_is_refused_without_a_panic() {
        for text in [ACCEPTED, REFUSED] {
            let aare = unhex(text);
            for at in 0..aare.len() {
                assert!(read_aare(&aare[..at]).is_err(), "{text} cut at {at}");
            }
            let mut longer = aare.clone();
            longer.push(0);
            assert_eq!(read_aare(&longer).unwrap_err(), "AARE: 1 bytes after its declared length");
        }
        let cases = [
            ("61 03 A1 01 00", "AARE without a result (A2)"),
            ("61 06 A2 04 02 02 00 01", "AARE result: an INTEGER of 2 bytes, expected 1"),
            ("61 05 A2 03 04 01 00", "AARE result: tag 0x04, expected an INTEGER (0x02)"),
            ("61 04 A2 02 02 01", "AARE result: element 0x02 declares 1 bytes, 0 follow"),
            ("61 07 A3 05 A4 03 02 01 00", "AARE result-source-diagnostic of tag 0xA4"),
            ("61 02 BF 00", "AARE: tag 0xBF of more than one byte"),
            ("61 03 A1 83 00", "AARE: element 0xA1: length form 0x83"),
            ("60 00", "AARE: tag 0x60"),
        ];
        for (hex, why) in cases {
            assert_eq!(read_aare(&unhex(hex)).unwrap_err(), why, "{hex}");
        }
        let long_form = unhex("61 81 07 A2 82 00 03 02 01 00");
        assert_eq!(read_aare(&long_form).unwrap().result, 0);
    }

    #[test]
    fn user_information_says_why_it_has_no_initiate_response() {
        let with = |user: &str| {
            let user = unhex(user);
            let mut apdu = vec![0x61, (5 + 2 + user.len()) as u8, 0xA2, 0x03, 0x02, 0x01, 0x00, 0xBE, user.len() as u8];
            apdu.extend(user);
            read_aare(&apdu).unwrap().initiate
        };
        assert_eq!(with("04 00").unwrap_err(), "user-information is empty");
        assert_eq!(with("81 01 00").unwrap_err(), "user-information of tag 0x81, not an OCTET STRING");
        assert_eq!(with("04 02 0E 06").unwrap_err(), "confirmed-service-error of 2 bytes, expected 4");
        assert_eq!(with("04 01 28").unwrap_err(), "user-information holds 0x28, not an InitiateResponse (0x08)");
        assert_eq!(with("04 02 08 02").unwrap_err(), "InitiateResponse: quality-of-service flag 0x02");
        assert_eq!(
            with("04 02 08 00").unwrap_err(),
            "InitiateResponse of 0 bytes after its quality of service, expected 12"
        );
        assert_eq!(
            with("04 0E 08 00 06 5F 1F 04 03 00 00 18 04 00 00 07").unwrap_err(),
            "InitiateResponse: conformance with 3 unused bits, expected 0"
        );
        assert_eq!(
            with("04 0E 08 00 06 5F 1E 04 00 00 00 18 04 00 00 07").unwrap_err(),
            "InitiateResponse: no negotiated-conformance (5F 1F 04)"
        );
        let full = unhex("04 0E 08 00 06 5F 1F 04 00 00 00 18 04 00 00 07");
        for at in 0..full.len() {
            let mut cut = full[..at].to_vec();
            if at >= 2 {
                cut[1] = (at - 2) as u8;
            }
            assert!(matches!(user_information(&cut), UserInformation::Initiate(Err(_))), "cut at {at}");
        }
    }

    #[test]
    fn set_responses_rlre_and_errors() {
        assert_eq!(read_set_response(&unhex("C5 01 C1 00")).unwrap(), SetResponse { invoke_id: 1, result: 0 });
        assert_eq!(read_set_response(&unhex("C5 01 4F 03")).unwrap(), SetResponse { invoke_id: 15, result: 3 });
        assert_eq!(read_set_response(&unhex("C5 01 C1")).unwrap_err(), "SET-RESPONSE-NORMAL of 3 bytes, expected 4");
        assert_eq!(read_set_response(&unhex("C5 02 C1 00 00")).unwrap_err(), "SET-RESPONSE of type 2, not normal (1)");
        assert_eq!(read_set_response(&unhex("C5")).unwrap_err(), "SET-RESPONSE of 1 bytes");
        assert_eq!(read_rlre(&unhex("63 03 80 01 00")), Ok(()));
        assert_eq!(read_rlre(&unhex("63 00")), Ok(()));
        assert_eq!(read_rlre(&unhex("63 03 80 01")).unwrap_err(), "RLRE: element 0x63 declares 3 bytes, 2 follow");
        assert_eq!(read_rlre(&unhex("63 02 80 01")).unwrap_err(), "RLRE: element 0x80 declares 1 bytes, 0 follow");
        assert_eq!(
            read_exception_response(&unhex("D8 01 02")).unwrap(),
            "exception-response: service-not-allowed (1), service-not-supported (2)"
        );
        assert_eq!(
            read_exception_response(&unhex("D8 02 06 00 00 01 00")).unwrap(),
            "exception-response: service-unknown (2), invocation-counter-error (6), expected invocation counter 256"
        );
        assert_eq!(read_exception_response(&unhex("D8 09 09")).unwrap(), "exception-response: 9, 9");
        assert_eq!(
            read_exception_response(&unhex("D8 01")).unwrap_err(),
            "exception-response of 2 bytes, expected at least 3"
        );
        assert_eq!(
            read_confirmed_service_error(&unhex("0E 06 05 03")).unwrap(),
            "confirmed-service-error: write (6), access (5): 3"
        );
        assert_eq!(read_confirmed_service_error(&unhex("0E 30 20 03")).unwrap(), "confirmed-service-error: 48, 32: 3");
        assert!(read_confirmed_service_error(&unhex("0E 06 05")).is_err());
        assert!(is_answer(0x61) && is_answer(0xC5) && is_answer(0x63) && is_answer(0xD8) && is_answer(0x0E));
        assert!(!is_answer(0x0F) && !is_answer(0xDB) && !is_answer(0xC2) && !is_answer(0x60));
    }

    #[test]
    fn every_cut_of_an_answer_is_refused_without_a_panic() {
        type Reads = fn(&[u8]) -> bool;
        let readers: [(&str, Reads); 4] = [
            ("C5 01 C1 00", |a| read_set_response(a).is_ok()),
            ("63 03 80 01 00", |a| read_rlre(a).is_ok()),
            ("0E 06 05 03", |a| read_confirmed_service_error(a).is_ok()),
            ("D8 01 02", |a| read_exception_response(a).is_ok()),
        ];
        for (hex, reads) in readers {
            let apdu = unhex(hex);
            assert!(reads(&apdu), "{hex}");
            for at in 0..apdu.len() {
                assert!(!reads(&apdu[..at]), "{hex} cut at {at}");
            }
        }
    }

    #[test]
    fn result_names() {
        assert_eq!(data_access_result(3), "read-write-denied (3)");
        assert_eq!(data_access_result(250), "other-reason (250)");
        assert_eq!(data_access_result(77), "unknown data-access-result (77)");
    }
}
