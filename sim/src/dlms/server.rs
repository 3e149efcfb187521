//! A meter's side of the command exchange of `docs/dlms-commands.md`:
//! what it answers to each request APDU a client sends on its connection
//! ([`answer`]), and the association that lives as long as the
//! connection ([`Session`]). The wire (reading frames while pushing,
//! answering with the wPorts swapped) is [`super::meter`]'s; the objects
//! a GET reads and a SET writes are [`super::cosem`]'s.
//!
//! - **AARQ** (`60`): accepted (result 0, diagnostic 0, the
//!   InitiateResponse with conformance proposed ∩ {get, set}) for the
//!   application context LN without ciphering, mechanism LLS and the
//!   meter's password. Refused (result 1) otherwise, in this order: a
//!   malformed AARQ, diagnostic 1 (counted unreadable); another
//!   application context, 2; no mechanism name, 12; another mechanism,
//!   11; no calling-authentication-value, 14; a wrong password (or one not
//!   a `charstring`), 13; then the InitiateRequest: DLMS version below 6,
//!   or no conformance bit in common, diagnostic 1 with a
//!   confirmed-service-error `initiate` (dlms-version-too-low,
//!   incompatible-conformance) in the user-information. The
//!   sender-acse-requirements are not checked. An AARQ always starts
//!   over: the connection's association ends first, so a refused one
//!   leaves none.
//! - **SET-REQUEST-NORMAL** (`C1 01`): only from the client wPort that
//!   associated on this connection, else read-write-denied (3);
//!   without `set` in the negotiated conformance, an exception-response;
//!   with an access selection, other-reason (250); otherwise what
//!   [`super::cosem`] says (0 and the meter's clock or period changed,
//!   or 4, 9, 3, 12, 250).
//! - **GET-REQUEST-NORMAL** (`C0 01`): the same checks; it reads the
//!   clock (the next push's time), the push schedule (the meter's
//!   period) or either's logical name. Not part of the exchange: `get` is
//!   negotiated as the spec's AARE says, so the meter serves it.
//! - **RLRQ** (`62`): RLRE `63 03 80 01 00`, the association of that
//!   client ended (answered also without one: releasing is idempotent).
//! - Anything else, a GET or SET of another choice (with-list, blocks),
//!   a cut-short one: an exception-response (service-not-allowed,
//!   service-not-supported; other-reason when cut short), counted
//!   unreadable. The meter never leaves a request of the wrapper
//!   unanswered, so a client never waits out its timeout for nothing.

use super::acse::{
    Aarq, AssociationResult, Authentication, CONTEXT_LN_NO_CIPHERING, Diagnostic, MECHANISM_LLS, RLRE_NORMAL, aare,
};
use super::cosem::{self, Object, Write};
use super::meter::Meter;
use super::xdlms::{
    self, AttributeRequest, CONFORMANCE_GET, CONFORMANCE_SET, CONFORMANCE_SUPPORTED, DLMS_VERSION, DataAccessResult,
    InitiateError, Request, exception_response, get_response, initiate_error, initiate_response, set_response,
};

/// What a meter's connection knows of its client: the association, if
/// one was accepted and not released. A new connection starts without.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Session {
    association: Option<Association>,
}

/// An accepted association.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Association {
    /// The client's wPort (its SAP).
    client: u16,
    /// The negotiated conformance.
    conformance: u32,
}

impl Session {
    /// Whether an association is open.
    pub fn is_associated(&self) -> bool {
        self.association.is_some()
    }

    /// The negotiated conformance of `client`'s association, if it has one.
    fn conformance(&self, client: u16) -> Option<u32> {
        self.association.filter(|a| a.client == client).map(|a| a.conformance)
    }
}

/// What a meter did with one request (what the report counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// An AARQ accepted.
    AssociationAccepted,
    /// A well-formed AARQ refused.
    AssociationRefused,
    /// A SET of the clock applied.
    ClockSet,
    /// A SET of the push schedule applied.
    PushScheduleSet,
    /// A SET refused (any result but success, or an exception-response).
    SetRefused,
    /// A GET answered (whatever its result).
    Get,
    /// An RLRQ answered.
    Released,
    /// A request the meter could not read or does not serve (a malformed
    /// AARQ, an unknown or cut-short APDU, a frame for another wPort or of
    /// another wrapper version).
    Unreadable,
}

/// The meter's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The APDU to send back.
    pub apdu: Vec<u8>,
    /// What the meter did.
    pub handled: Handled,
}

fn answered(apdu: Vec<u8>, handled: Handled) -> Answer {
    Answer { apdu, handled }
}

/// What `meter` answers to request `apdu` from client wPort `client` on
/// the connection of `session`, its LLS password being `password`; a SET
/// it takes changes `meter` before the answer is sent.
pub fn answer(meter: &mut Meter, session: &mut Session, password: &[u8], client: u16, apdu: &[u8]) -> Answer {
    match apdu.first() {
        Some(&super::acse::AARQ) => associate(session, password, client, apdu),
        Some(&super::acse::RLRQ) => {
            if session.conformance(client).is_some() {
                session.association = None;
            }
            answered(RLRE_NORMAL.to_vec(), Handled::Released)
        }
        _ => match Request::decode(apdu) {
            Some(Request::Set(request)) => set(meter, session, client, &request),
            Some(Request::Get(request)) => get(meter, session, client, &request),
            Some(Request::OtherChoice { .. }) => not_served(),
            None if matches!(apdu.first(), Some(&xdlms::GET_REQUEST | &xdlms::SET_REQUEST)) => answered(
                exception_response(xdlms::STATE_SERVICE_NOT_ALLOWED, xdlms::SERVICE_OTHER_REASON),
                Handled::Unreadable,
            ),
            None => not_served(),
        },
    }
}

/// The exception-response to a service the meter does not serve.
fn not_served() -> Answer {
    answered(exception_response(xdlms::STATE_SERVICE_NOT_ALLOWED, xdlms::SERVICE_NOT_SUPPORTED), Handled::Unreadable)
}

/// The AARE to an AARQ (see the module's rules).
fn associate(session: &mut Session, password: &[u8], client: u16, apdu: &[u8]) -> Answer {
    session.association = None;
    let refuse = |diagnostic, information: Option<Vec<u8>>, handled| {
        answered(aare(AssociationResult::RejectedPermanent, diagnostic, information.as_deref()), handled)
    };
    let Some(aarq) = Aarq::decode(apdu) else {
        return refuse(Diagnostic::NoReasonGiven, None, Handled::Unreadable);
    };
    let refused = |diagnostic| refuse(diagnostic, None, Handled::AssociationRefused);
    if aarq.application_context != CONTEXT_LN_NO_CIPHERING {
        return refused(Diagnostic::ApplicationContextNameNotSupported);
    }
    match aarq.mechanism.as_deref() {
        None => return refused(Diagnostic::MechanismNameRequired),
        Some(mechanism) if mechanism != MECHANISM_LLS => return refused(Diagnostic::MechanismNameNotRecognised),
        Some(_) => {}
    }
    match aarq.authentication {
        None => return refused(Diagnostic::AuthenticationRequired),
        Some(Authentication::Password(given)) if given == password => {}
        Some(_) => return refused(Diagnostic::AuthenticationFailure),
    }
    let conformance = aarq.initiate.conformance & CONFORMANCE_SUPPORTED;
    let initiate = if aarq.initiate.dlms_version < DLMS_VERSION {
        Err(InitiateError::DlmsVersionTooLow)
    } else if conformance == 0 {
        Err(InitiateError::IncompatibleConformance)
    } else {
        Ok(conformance)
    };
    match initiate {
        Ok(conformance) => {
            session.association = Some(Association { client, conformance });
            answered(
                aare(AssociationResult::Accepted, Diagnostic::Null, Some(&initiate_response(conformance))),
                Handled::AssociationAccepted,
            )
        }
        Err(error) => refuse(Diagnostic::NoReasonGiven, Some(initiate_error(error)), Handled::AssociationRefused),
    }
}

/// Whether `client` may use the service of conformance bit `service`:
/// `Err` with the answer when not (no association: `denied`; not
/// negotiated: an exception-response).
fn allowed(session: &Session, client: u16, service: u32, denied: Vec<u8>) -> Result<(), Vec<u8>> {
    match session.conformance(client) {
        None => Err(denied),
        Some(conformance) if conformance & service == 0 => {
            Err(exception_response(xdlms::STATE_SERVICE_NOT_ALLOWED, xdlms::SERVICE_NOT_SUPPORTED))
        }
        Some(_) => Ok(()),
    }
}

/// The SET-RESPONSE to a SET-REQUEST-NORMAL, `meter` changed if it is
/// taken.
fn set(meter: &mut Meter, session: &Session, client: u16, request: &AttributeRequest) -> Answer {
    let refused = |apdu| answered(apdu, Handled::SetRefused);
    let respond = |result| set_response(request.invoke, result);
    if let Err(apdu) = allowed(session, client, CONFORMANCE_SET, respond(DataAccessResult::ReadWriteDenied)) {
        return refused(apdu);
    }
    if request.selective {
        return refused(respond(DataAccessResult::OtherReason));
    }
    let write = Object::find(request.class_id, request.logical_name)
        .and_then(|object| cosem::set(meter, object, request.attribute, request.data));
    let handled = match write {
        Ok(Write::Clock(time)) => {
            meter.set_clock(time);
            Handled::ClockSet
        }
        Ok(Write::PushPeriod(period_s)) => {
            meter.set_period(period_s);
            Handled::PushScheduleSet
        }
        Err(result) => return refused(respond(result)),
    };
    answered(respond(DataAccessResult::Success), handled)
}

/// The GET-RESPONSE to a GET-REQUEST-NORMAL.
fn get(meter: &Meter, session: &Session, client: u16, request: &AttributeRequest) -> Answer {
    let respond = |result| get_response(request.invoke, result);
    if let Err(apdu) = allowed(session, client, CONFORMANCE_GET, respond(Err(DataAccessResult::ReadWriteDenied))) {
        return answered(apdu, Handled::Get);
    }
    let result = if request.selective {
        Err(DataAccessResult::OtherReason)
    } else {
        Object::find(request.class_id, request.logical_name)
            .and_then(|object| cosem::get(meter, object, request.attribute))
    };
    answered(respond(result), Handled::Get)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dlms::options::Options;
    use meterhub_plugin_api::hex;

    const PASSWORD: &[u8] = b"12345678";

    fn meter() -> Meter {
        let options = Options::default();
        let start = options.check().unwrap();
        Meter::new(&options, start, 0)
    }

    /// The spec's AARQ with `initiate` as its InitiateRequest.
    fn aarq(initiate: &str) -> Vec<u8> {
        let initiate = hex::decode_spaced(initiate).unwrap();
        let mut body = hex::decode_spaced(
            "A1 09 06 07 60 85 74 05 08 01 01 8A 02 07 80 8B 07 60 85 74 05 08 02 01 \
             AC 0A 80 08 31 32 33 34 35 36 37 38",
        )
        .unwrap();
        body.extend_from_slice(&[0xBE, initiate.len() as u8 + 2, 0x04, initiate.len() as u8]);
        body.extend_from_slice(&initiate);
        [vec![0x60, body.len() as u8], body].concat()
    }

    const SPEC_INITIATE: &str = "01 00 00 00 06 5F 1F 04 00 00 00 18 04 00";
    const SET_CLOCK: &str = "C1 01 C1 0008 0000010000FF 02 00 09 0C 07EA 0C 06 07 0D 00 00 00 FF4C 00";

    fn ask(meter: &mut Meter, session: &mut Session, client: u16, apdu: &[u8]) -> (String, Handled) {
        let answer = answer(meter, session, PASSWORD, client, apdu);
        (hex::encode_upper(&answer.apdu), answer.handled)
    }

    #[test]
    fn the_initiate_request_decides_after_the_password() {
        let (mut meter, mut session) = (meter(), Session::default());
        let version_5 = aarq("01 00 00 00 05 5F 1F 04 00 00 00 18 04 00");
        let (aare, handled) = ask(&mut meter, &mut session, 0x20, &version_5);
        assert_eq!(handled, Handled::AssociationRefused);
        assert!(aare.ends_with("A2030201 01 A305A103020101 BE06 0404 0E010601".replace(' ', "").as_str()), "{aare}");
        let no_get_nor_set = aarq("01 00 00 00 06 5F 1F 04 00 00 10 00 04 00");
        let (aare, _) = ask(&mut meter, &mut session, 0x20, &no_get_nor_set);
        assert!(aare.ends_with("0E010602"), "incompatible-conformance: {aare}");
        assert!(!session.is_associated());
    }

    #[test]
    fn only_the_negotiated_services_of_the_associated_client_are_served() {
        let (mut meter, mut session) = (meter(), Session::default());
        // Get only: a SET is not allowed.
        let get_only = aarq("01 00 00 00 06 5F 1F 04 00 00 00 10 04 00");
        let (aare, handled) = ask(&mut meter, &mut session, 0x20, &get_only);
        assert_eq!(handled, Handled::AssociationAccepted);
        assert!(aare.ends_with("5F1F040000001004000007"), "negotiated get: {aare}");
        let set = hex::decode_spaced(SET_CLOCK).unwrap();
        assert_eq!(ask(&mut meter, &mut session, 0x20, &set), ("D80102".into(), Handled::SetRefused));
        // Get and set, but from another client wPort: denied.
        ask(&mut meter, &mut session, 0x20, &aarq(SPEC_INITIATE));
        assert_eq!(ask(&mut meter, &mut session, 0x10, &set), ("C501C103".into(), Handled::SetRefused));
        let before = meter.next_time();
        assert_eq!(ask(&mut meter, &mut session, 0x20, &set), ("C501C100".into(), Handled::ClockSet));
        assert_ne!(meter.next_time(), before);
        assert_eq!(meter.next_time().utc_text(), "2026-12-06T10:00:00Z");
        // Another client's RLRQ ends nothing; the associated one's does.
        assert_eq!(ask(&mut meter, &mut session, 0x10, &[0x62, 0x00]).1, Handled::Released);
        assert!(session.is_associated());
        assert_eq!(ask(&mut meter, &mut session, 0x20, &[0x62, 0x00]), ("6303800100".into(), Handled::Released));
        assert!(!session.is_associated());
    }

    #[test]
    fn a_refused_aarq_ends_the_association_before_it() {
        let (mut meter, mut session) = (meter(), Session::default());
        ask(&mut meter, &mut session, 0x20, &aarq(SPEC_INITIATE));
        assert!(session.is_associated());
        let mut wrong = aarq(SPEC_INITIATE);
        let at = wrong.len() - 19;
        wrong[at] = b'0';
        assert!(ask(&mut meter, &mut session, 0x20, &wrong).0.ends_with("A305A10302010D"), "a wrong password");
        assert!(!session.is_associated());
    }

    #[test]
    fn cut_short_and_unknown_requests_get_exception_responses() {
        let (mut meter, mut session) = (meter(), Session::default());
        let cut = &hex::decode_spaced(SET_CLOCK).unwrap()[..7];
        assert_eq!(ask(&mut meter, &mut session, 0x20, cut), ("D80103".into(), Handled::Unreadable));
        assert_eq!(ask(&mut meter, &mut session, 0x20, &[0x55, 0x01]), ("D80102".into(), Handled::Unreadable));
        assert_eq!(ask(&mut meter, &mut session, 0x20, &[0xC1, 0x04, 0xC1]), ("D80102".into(), Handled::Unreadable));
        assert_eq!(ask(&mut meter, &mut session, 0x20, &[]), ("D80102".into(), Handled::Unreadable));
    }

    #[test]
    fn a_set_clock_without_deviation_keeps_the_meters_offset() {
        let (mut meter, mut session) = (meter(), Session::default());
        ask(&mut meter, &mut session, 0x20, &aarq(SPEC_INITIATE));
        let unspecified =
            hex::decode_spaced("C1 01 C1 0008 0000010000FF 02 00 09 0C 07EA 0C 06 FF 0D 00 00 FF 8000 FF").unwrap();
        assert_eq!(ask(&mut meter, &mut session, 0x20, &unspecified).1, Handled::ClockSet);
        assert_eq!(meter.next_time().utc_text(), "2026-12-06T10:00:00Z", "13:00 at the meter's +03:00");
        let february_30 =
            hex::decode_spaced("C1 01 C1 0008 0000010000FF 02 00 09 0C 07EA 02 1E FF 0D 00 00 00 FF4C 00").unwrap();
        assert_eq!(ask(&mut meter, &mut session, 0x20, &february_30), ("C501C1FA".into(), Handled::SetRefused));
        let short =
            hex::decode_spaced("C1 01 C1 0008 0000010000FF 02 00 09 0B 07EA 0C 06 07 0D 00 00 00 FF4C").unwrap();
        assert_eq!(ask(&mut meter, &mut session, 0x20, &short), ("C501C10C".into(), Handled::SetRefused));
        let logical_name = hex::decode_spaced("C1 01 C1 0008 0000010000FF 01 00 09 06 0000010000FF").unwrap();
        assert_eq!(ask(&mut meter, &mut session, 0x20, &logical_name), ("C501C103".into(), Handled::SetRefused));
    }
}
