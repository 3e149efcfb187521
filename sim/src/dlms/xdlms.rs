//! The xDLMS APDUs of the command exchange (`docs/dlms-commands.md`; DLMS
//! UA Green Book 9.5, A-XDR), from the meter's side: the InitiateRequest
//! carried in an AARQ and the InitiateResponse of the AARE, the
//! GET- and SET-REQUEST-NORMAL a client sends and their answers, the
//! exception-response, and the A-XDR `Data` a SET carries.
//!
//! ```text
//! InitiateRequest   01 <dedicated-key: 00 | 01 L key> <response-allowed: 00 | 01 bool>
//!                      <proposed-quality-of-service: 00 | 01 i8> <dlms-version u8>
//!                      5F 1F 04 00 <conformance, 24 bits> <client-max-receive-pdu-size u16>
//! InitiateResponse  08 00 06 5F 1F 04 00 <negotiated conformance> 04 00 00 07
//! GET-REQUEST       C0 01 <invoke-id-and-priority> <class u16> <OBIS 6> <attribute i8> 00
//! GET-RESPONSE      C4 01 <invoke-id-and-priority> 00 <data> | 01 <data-access-result>
//! SET-REQUEST       C1 01 <invoke-id-and-priority> <class u16> <OBIS 6> <attribute i8> 00 <data>
//! SET-RESPONSE      C5 01 <invoke-id-and-priority> <data-access-result>
//! exception         D8 <state-error> <service-error>
//! ```
//!
//! Only the `normal` choices are served: with-list, block transfer and
//! selective access are not part of the exchange (see [`super::server`]
//! for what the meter answers to them).

use super::apdu::put_length;
use super::cursor::Cursor;

/// The tag of InitiateRequest.
pub const INITIATE_REQUEST: u8 = 0x01;
/// The tag of InitiateResponse.
pub const INITIATE_RESPONSE: u8 = 0x08;
/// The tag of GET-REQUEST.
pub const GET_REQUEST: u8 = 0xC0;
/// The tag of SET-REQUEST.
pub const SET_REQUEST: u8 = 0xC1;
/// The tag of GET-RESPONSE.
pub const GET_RESPONSE: u8 = 0xC4;
/// The tag of SET-RESPONSE.
pub const SET_RESPONSE: u8 = 0xC5;
/// The tag of exception-response.
pub const EXCEPTION_RESPONSE: u8 = 0xD8;
/// The tag of confirmed-service-error.
pub const CONFIRMED_SERVICE_ERROR: u8 = 0x0E;
/// The `normal` choice of GET-, SET-REQUEST and -RESPONSE.
pub const NORMAL: u8 = 0x01;

/// The DLMS version the meter speaks (and the least it accepts).
pub const DLMS_VERSION: u8 = 6;
/// The conformance block's BER header: [APPLICATION 31], length 4, no
/// unused bits.
const CONFORMANCE_HEADER: [u8; 4] = [0x5F, 0x1F, 0x04, 0x00];
/// Conformance bit 19, `get` (bits count from the first byte's MSB).
pub const CONFORMANCE_GET: u32 = 1 << (23 - 19);
/// Conformance bit 20, `set`.
pub const CONFORMANCE_SET: u32 = 1 << (23 - 20);
/// What the meter supports: get and set.
pub const CONFORMANCE_SUPPORTED: u32 = CONFORMANCE_GET | CONFORMANCE_SET;
/// The most the meter receives in one APDU, which its InitiateResponse
/// says (1024, as the spec's AARE).
pub const SERVER_MAX_RECEIVE_PDU_SIZE: u16 = 1024;
/// The InitiateResponse's VAA name for logical name referencing.
pub const VAA_NAME_LN: u16 = 0x0007;

/// The parts of an InitiateRequest the meter decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitiateRequest {
    /// The proposed DLMS version.
    pub dlms_version: u8,
    /// The proposed conformance, 24 bits.
    pub conformance: u32,
    /// The client's largest APDU (0: no limit).
    pub client_max_receive_pdu_size: u16,
}

/// `Option<T>` of A-XDR: `00` absent, `01` then the value.
fn optional<'a, T>(c: &mut Cursor<'a>, value: impl FnOnce(&mut Cursor<'a>) -> Option<T>) -> Option<Option<T>> {
    match c.u8()? {
        0 => Some(None),
        1 => value(c).map(Some),
        _ => None,
    }
}

impl InitiateRequest {
    /// Decode an InitiateRequest (the whole of `bytes`), or `None`.
    pub fn decode(bytes: &[u8]) -> Option<InitiateRequest> {
        let mut c = Cursor::new(bytes);
        if c.u8()? != INITIATE_REQUEST {
            return None;
        }
        optional(&mut c, Cursor::counted)?; // dedicated-key
        optional(&mut c, Cursor::u8)?; // response-allowed
        optional(&mut c, Cursor::u8)?; // proposed-quality-of-service
        let dlms_version = c.u8()?;
        if c.array::<4>()? != CONFORMANCE_HEADER {
            return None;
        }
        let [a, b, d] = c.array::<3>()?;
        let conformance = u32::from_be_bytes([0, a, b, d]);
        let client_max_receive_pdu_size = c.u16()?;
        c.is_empty().then_some(InitiateRequest { dlms_version, conformance, client_max_receive_pdu_size })
    }
}

/// The InitiateResponse: no QoS, DLMS version 6, `conformance`, 1024,
/// VAA name 0x0007.
pub fn initiate_response(conformance: u32) -> Vec<u8> {
    let mut out = vec![INITIATE_RESPONSE, 0x00, DLMS_VERSION];
    out.extend_from_slice(&CONFORMANCE_HEADER);
    out.extend_from_slice(&conformance.to_be_bytes()[1..]);
    out.extend_from_slice(&SERVER_MAX_RECEIVE_PDU_SIZE.to_be_bytes());
    out.extend_from_slice(&VAA_NAME_LN.to_be_bytes());
    out
}

/// Why an InitiateRequest is refused (ServiceError `initiate`, Green Book
/// 9.5): carried in a refused AARE's user-information as a
/// confirmed-service-error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum InitiateError {
    /// The proposed DLMS version is below 6.
    DlmsVersionTooLow = 1,
    /// No proposed conformance bit is one the meter supports.
    IncompatibleConformance = 2,
}

/// confirmed-service-error `initiateError`, ServiceError `initiate`:
/// `0E 01 06 <reason>`.
pub fn initiate_error(error: InitiateError) -> Vec<u8> {
    vec![CONFIRMED_SERVICE_ERROR, 0x01, 0x06, error as u8]
}

/// A data-access-result (Blue Book: the answer to one attribute's GET or
/// SET).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum DataAccessResult {
    /// Done.
    Success = 0,
    /// The client may not access it (no association, a read-only
    /// attribute).
    ReadWriteDenied = 3,
    /// No such object.
    ObjectUndefined = 4,
    /// The object exists with another class.
    ObjectClassInconsistent = 9,
    /// The data is not of the attribute's type.
    TypeUnmatched = 12,
    /// Anything else (a well-typed value the meter cannot take).
    OtherReason = 250,
}

/// A GET or SET of one attribute (the `normal` choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeRequest<'a> {
    /// invoke-id-and-priority, echoed in the answer.
    pub invoke: u8,
    /// The object's class id.
    pub class_id: u16,
    /// The object's logical name (OBIS).
    pub logical_name: [u8; 6],
    /// The attribute id.
    pub attribute: i8,
    /// Whether an access selection was given.
    pub selective: bool,
    /// The bytes after the access selection: the SET's data (meaningless
    /// with `selective`).
    pub data: &'a [u8],
}

/// A request APDU of the xDLMS services, as far as the meter tells them
/// apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// GET-REQUEST-NORMAL.
    Get(AttributeRequest<'a>),
    /// SET-REQUEST-NORMAL.
    Set(AttributeRequest<'a>),
    /// A GET or SET with another choice (next, with-list, datablocks):
    /// not served.
    OtherChoice {
        /// invoke-id-and-priority, when there is one.
        invoke: Option<u8>,
    },
}

impl<'a> Request<'a> {
    /// Decode a GET- or SET-REQUEST, or `None` when `apdu` is neither or
    /// is cut short.
    pub fn decode(apdu: &'a [u8]) -> Option<Request<'a>> {
        let mut c = Cursor::new(apdu);
        let tag = c.u8()?;
        if tag != GET_REQUEST && tag != SET_REQUEST {
            return None;
        }
        if c.u8()? != NORMAL {
            return Some(Request::OtherChoice { invoke: c.u8() });
        }
        let invoke = c.u8()?;
        let class_id = c.u16()?;
        let logical_name = c.array::<6>()?;
        let attribute = i8::from_be_bytes(c.array::<1>()?);
        let selective = match c.u8()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        let request = AttributeRequest { invoke, class_id, logical_name, attribute, selective, data: c.rest() };
        match tag {
            GET_REQUEST if !selective && !request.data.is_empty() => None,
            GET_REQUEST => Some(Request::Get(request)),
            _ => Some(Request::Set(request)),
        }
    }
}

/// SET-RESPONSE-NORMAL: `C5 01 <invoke> <result>`.
pub fn set_response(invoke: u8, result: DataAccessResult) -> Vec<u8> {
    vec![SET_RESPONSE, NORMAL, invoke, result as u8]
}

/// GET-RESPONSE-NORMAL: the data (A-XDR, already encoded), or why not.
pub fn get_response(invoke: u8, result: Result<Vec<u8>, DataAccessResult>) -> Vec<u8> {
    let mut out = vec![GET_RESPONSE, NORMAL, invoke];
    match result {
        Ok(data) => {
            out.push(0x00);
            out.extend_from_slice(&data);
        }
        Err(why) => out.extend_from_slice(&[0x01, why as u8]),
    }
    out
}

/// exception-response state-error `service-not-allowed`.
pub const STATE_SERVICE_NOT_ALLOWED: u8 = 1;
/// exception-response service-error `service-not-supported`.
pub const SERVICE_NOT_SUPPORTED: u8 = 2;
/// exception-response service-error `other-reason`.
pub const SERVICE_OTHER_REASON: u8 = 3;

/// exception-response: `D8 <state-error> <service-error>`.
pub fn exception_response(state_error: u8, service_error: u8) -> Vec<u8> {
    vec![EXCEPTION_RESPONSE, state_error, service_error]
}

/// A-XDR `Data` tags the meter reads or writes.
pub mod tag {
    /// array: a count, then that many Data.
    pub const ARRAY: u8 = 0x01;
    /// structure: a count, then that many Data.
    pub const STRUCTURE: u8 = 0x02;
    /// octet-string: a length, then the bytes.
    pub const OCTET_STRING: u8 = 0x09;
}

/// An A-XDR `Data` value, as far as the meter reads one: strings and
/// arrays and structures of them; anything else is only its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data<'a> {
    /// octet-string.
    OctetString(&'a [u8]),
    /// array.
    Array(Vec<Data<'a>>),
    /// structure.
    Structure(Vec<Data<'a>>),
    /// Any other type (its value skipped).
    Other(u8),
}

/// How deep arrays and structures may nest in a request.
const MAX_DEPTH: usize = 8;

impl<'a> Data<'a> {
    /// Decode one `Data` that is the whole of `bytes`, or `None`.
    pub fn decode(bytes: &'a [u8]) -> Option<Data<'a>> {
        let mut c = Cursor::new(bytes);
        let data = Data::read(&mut c, 0)?;
        c.is_empty().then_some(data)
    }

    fn read(c: &mut Cursor<'a>, depth: usize) -> Option<Data<'a>> {
        let tag = c.u8()?;
        let fixed = |c: &mut Cursor<'a>, n: usize| c.take(n).map(|_| Data::Other(tag));
        match tag {
            tag::ARRAY | tag::STRUCTURE if depth < MAX_DEPTH => {
                let count = c.length()?;
                let mut items = Vec::new();
                for _ in 0..count {
                    items.push(Data::read(c, depth + 1)?);
                }
                Some(if tag == tag::ARRAY { Data::Array(items) } else { Data::Structure(items) })
            }
            tag::OCTET_STRING => c.counted().map(Data::OctetString),
            // null-data
            0x00 => Some(Data::Other(tag)),
            // bit-string: a length in bits.
            0x04 => {
                let bits = c.length()?;
                fixed(c, bits.div_ceil(8))
            }
            // visible-string, utf8-string
            0x0A | 0x0C => c.counted().map(|_| Data::Other(tag)),
            // boolean, bcd, integer, unsigned, enum
            0x03 | 0x0D | 0x0F | 0x11 | 0x16 => fixed(c, 1),
            // long, long-unsigned
            0x10 | 0x12 => fixed(c, 2),
            // double-long, double-long-unsigned, float32
            0x05 | 0x06 | 0x17 => fixed(c, 4),
            // long64, long64-unsigned, float64
            0x14 | 0x15 | 0x18 => fixed(c, 8),
            // date-time, date, time
            0x19 => fixed(c, 12),
            0x1A => fixed(c, 5),
            0x1B => fixed(c, 4),
            _ => None,
        }
    }
}

/// Append an octet-string (tag, length, bytes).
pub fn put_octet_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(tag::OCTET_STRING);
    put_length(out, bytes.len());
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use meterhub_plugin_api::hex;

    #[test]
    fn the_specs_initiate_request_proposes_get_and_set() {
        let bytes = hex::decode_spaced("01 00 00 00 06 5F 1F 04 00 00 00 18 04 00").unwrap();
        let request = InitiateRequest::decode(&bytes).unwrap();
        assert_eq!(request.dlms_version, 6);
        assert_eq!(request.conformance, CONFORMANCE_GET | CONFORMANCE_SET);
        assert_eq!(request.client_max_receive_pdu_size, 1024);
        let keyed = hex::decode_spaced("01 01 02 AA BB 01 00 01 05 06 5F 1F 04 00 00 00 10 00 00").unwrap();
        let request = InitiateRequest::decode(&keyed).unwrap();
        assert_eq!((request.conformance, request.client_max_receive_pdu_size), (CONFORMANCE_GET, 0));
        assert_eq!(InitiateRequest::decode(&bytes[..13]), None, "cut short");
        assert_eq!(InitiateRequest::decode(&[bytes.as_slice(), &[0]].concat()), None, "trailing bytes");
    }

    #[test]
    fn the_initiate_response_is_the_specs() {
        assert_eq!(
            initiate_response(CONFORMANCE_SUPPORTED),
            hex::decode_spaced("08 00 06 5F 1F 04 00 00 00 18 04 00 00 07").unwrap()
        );
    }

    #[test]
    fn requests_are_told_apart_and_cut_ones_refused() {
        let set = hex::decode_spaced("C1 01 C1 0008 0000010000FF 02 00 09 02 AA BB").unwrap();
        let Some(Request::Set(r)) = Request::decode(&set) else { panic!("a SET") };
        assert_eq!((r.invoke, r.class_id, r.logical_name, r.attribute), (0xC1, 8, [0, 0, 1, 0, 0, 255], 2));
        assert_eq!((r.selective, r.data), (false, &[0x09, 0x02, 0xAA, 0xBB][..]));
        assert_eq!(Data::decode(r.data), Some(Data::OctetString(&[0xAA, 0xBB])));
        assert_eq!(Request::decode(&set[..10]), None);
        let get = hex::decode_spaced("C0 01 C2 0016 00000F0004FF 04 00").unwrap();
        assert!(matches!(Request::decode(&get), Some(Request::Get(r)) if r.attribute == 4));
        assert_eq!(Request::decode(&[0xC1, 0x04, 0xC1]), Some(Request::OtherChoice { invoke: Some(0xC1) }));
        assert_eq!(Request::decode(&[0xC3, 0x01]), None, "an ACTION is neither");
    }

    #[test]
    fn data_is_read_whole_or_not_at_all() {
        let entry = hex::decode_spaced("01 01 02 02 09 04 FF 1E 00 00 09 05 FF FF FF FF FF").unwrap();
        let Some(Data::Array(items)) = Data::decode(&entry) else { panic!("an array") };
        assert_eq!(
            items,
            [Data::Structure(vec![Data::OctetString(&[0xFF, 0x1E, 0, 0]), Data::OctetString(&[0xFF; 5])])]
        );
        assert_eq!(Data::decode(&entry[..entry.len() - 1]), None);
        assert_eq!(Data::decode(&[0x06, 0, 0, 0, 1]), Some(Data::Other(0x06)));
        assert_eq!(Data::decode(&[0x06, 0, 0, 0]), None);
        assert_eq!(Data::decode(&[0x42]), None, "no such type");
        assert_eq!(Data::decode(&[0x01; 40]), None, "nested too deep");
    }
}
