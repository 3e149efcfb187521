//! Which object attribute each value of a notification is: a push body's
//! elements named by a configured push layout, or by the body itself
//! (self-describing), and an event notification's one value by its
//! attribute descriptor.
//!
//! A push (Blue Book 4.4.8, "Push setup") sends the values of its push
//! object list, not the list: the receiver must know it. In order:
//!
//! 1. a configured layout (settings `push_layouts`) matches when it has as
//!    many elements as the body structure (a body that is not a structure
//!    is one element), its `invoke_id` (if set) is the push's, and each of
//!    its logical-name elements (`<OBIS>:1`, e.g. the push setup's own,
//!    which the Blue Book suggests as the first element) holds that OBIS
//!    code. Two matching layouts are an error naming both;
//! 2. else a self-describing body: a structure whose elements are
//!    `{logical name, value, {scaler, unit}}` or `{logical name, value}`,
//!    or a bare logical name followed by its value, as meters send a
//!    "capture object with scaler" list; or one such structure alone;
//! 3. else the push cannot be read: an error saying what to configure.

use meterhub_plugin_api::DecodeError;

use crate::apdu::Notification;
use crate::axdr::{Data, Value};
use crate::obis::{AttrRef, Obis};
use crate::settings::PushLayout;

/// One value and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Element<'a> {
    /// Its position in the body structure.
    pub index: usize,
    /// The object attribute it is the value of.
    pub target: AttrRef,
    /// The value.
    pub value: &'a Value,
    /// The scaler_unit the body sent with it (self-describing bodies).
    pub scaler_unit: Option<&'a Value>,
}

/// A notification's values, named.
#[derive(Debug, Clone, PartialEq)]
pub struct Named<'a> {
    /// How they were named: the layout's name, `self-describing` or
    /// `attribute-descriptor`.
    pub layout: String,
    /// The values.
    pub elements: Vec<Element<'a>>,
}

/// Name the values of `notification` with `layouts`.
pub fn name<'a>(notification: &'a Notification, layouts: &[PushLayout]) -> Result<Named<'a>, DecodeError> {
    let n = match notification {
        Notification::Event(e) => {
            let element = Element { index: 0, target: e.attribute, value: &e.value, scaler_unit: None };
            return Ok(Named { layout: "attribute-descriptor".into(), elements: vec![element] });
        }
        Notification::Data(n) => n,
    };
    let items = body_items(&n.body);
    let matching: Vec<&PushLayout> = layouts.iter().filter(|l| matches(l, &items, n.invoke_id())).collect();
    match matching.as_slice() {
        [layout] => return Ok(Named { layout: layout.name.clone(), elements: by_layout(layout, &items) }),
        [a, b, ..] => {
            return Err(DecodeError::new(format!(
                "data-notification: push layouts {:?} and {:?} both match its body of {} element(s)",
                a.name,
                b.name,
                items.len()
            )));
        }
        [] => {}
    }
    if let Some(elements) = self_describing(&n.body) {
        return Ok(Named { layout: "self-describing".into(), elements });
    }
    Err(DecodeError::new(format!(
        "data-notification (invoke id {}): no push layout matches its body ({}) and it does not describe itself; configure \"push_layouts\" with the meter's push object list",
        n.invoke_id(),
        describe(&n.body, &items)
    )))
}

/// The body's elements: a structure's, else the body alone.
fn body_items(body: &Value) -> Vec<&Value> {
    match &body.data {
        Data::Structure(items) => items.iter().collect(),
        _ => vec![body],
    }
}

/// The body as an error names it.
fn describe(body: &Value, items: &[&Value]) -> String {
    match &body.data {
        Data::Structure(_) => format!("a structure of {} element(s) at offset {}", items.len(), body.offset),
        other => format!("{} at offset {}", other.type_name(), body.offset),
    }
}

/// Whether `layout` names `items` of a push with `invoke_id`.
fn matches(layout: &PushLayout, items: &[&Value], invoke_id: u32) -> bool {
    layout.elements.len() == items.len()
        && layout.invoke_id.is_none_or(|id| id == invoke_id)
        && layout.elements.iter().zip(items).all(|(a, v)| a.attribute != 1 || logical_name(v) == Some(a.obis))
}

fn by_layout<'a>(layout: &PushLayout, items: &[&'a Value]) -> Vec<Element<'a>> {
    let pairs = layout.elements.iter().zip(items).enumerate();
    pairs.map(|(index, (target, value))| Element { index, target: *target, value, scaler_unit: None }).collect()
}

/// The OBIS code a value holds as a logical name (octet-string of 6).
pub fn logical_name(v: &Value) -> Option<Obis> {
    match &v.data {
        Data::OctetString(b) => Obis::from_bytes(b),
        _ => None,
    }
}

/// Whether `v` is a scaler_unit: `{integer scaler, enum unit}`.
pub fn is_scaler_unit(v: &Value) -> bool {
    matches!(&v.data, Data::Structure(items) if matches!(items.as_slice(), [
        Value { data: Data::Integer(_), .. },
        Value { data: Data::Enum(_), .. }
    ]))
}

/// `{logical name, value[, scaler_unit]}`, split.
fn described(v: &Value) -> Option<(Obis, &Value, Option<&Value>)> {
    let Data::Structure(items) = &v.data else { return None };
    match items.as_slice() {
        [name, value] => Some((logical_name(name)?, value, None)),
        [name, value, su] if is_scaler_unit(su) => Some((logical_name(name)?, value, Some(su))),
        _ => None,
    }
}

/// The elements of a self-describing body, if it is one.
fn self_describing(body: &Value) -> Option<Vec<Element<'_>>> {
    if let Some((obis, value, Some(su))) = described(body) {
        let target = AttrRef { obis, attribute: 2 };
        return Some(vec![Element { index: 0, target, value, scaler_unit: Some(su) }]);
    }
    let Data::Structure(items) = &body.data else { return None };
    let (mut out, mut structured, mut i) = (Vec::new(), false, 0);
    while let Some(item) = items.get(i) {
        if let Some((obis, value, scaler_unit)) = described(item) {
            out.push(Element { index: i, target: AttrRef { obis, attribute: 2 }, value, scaler_unit });
            structured = true;
            i += 1;
            continue;
        }
        let obis = logical_name(item)?;
        match items.get(i + 1).filter(|next| described(next).is_none() && logical_name(next).is_none()) {
            // A bare logical name and its value.
            Some(value) => {
                out.push(Element { index: i, target: AttrRef { obis, attribute: 2 }, value, scaler_unit: None });
                i += 2;
            }
            // A logical name alone (a push setup naming itself).
            None => {
                out.push(Element { index: i, target: AttrRef { obis, attribute: 1 }, value: item, scaler_unit: None });
                i += 1;
            }
        }
    }
    structured.then_some(out)
}

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::hex::decode_spaced;

    use super::*;
    use crate::apdu::{DataNotification, EventNotification};
    use crate::reader::Reader;

    fn data(body_hex: &str, invoke_id: u32) -> Notification {
        let bytes = decode_spaced(body_hex).unwrap();
        let body = crate::axdr::decode(&mut Reader::new(&bytes, "APDU"), 0).unwrap();
        Notification::Data(DataNotification { long_invoke_id_and_priority: invoke_id, date_time: None, body })
    }

    fn layout(name: &str, invoke_id: Option<u32>, elements: &[&str]) -> PushLayout {
        let elements = elements.iter().map(|e| AttrRef::parse(e).unwrap()).collect();
        PushLayout { name: name.into(), invoke_id, elements }
    }

    fn targets(named: &Named<'_>) -> Vec<String> {
        named.elements.iter().map(|e| format!("{}@{}", e.target, e.index)).collect()
    }

    const PUSH: &str = "02 03 09 06 0000190900ff 09 0c 07e8010101000000ff4c00 06 00002394";

    #[test]
    fn a_layout_names_by_position_and_logical_names_pick_it() {
        let daily = layout("daily", None, &["0.0.25.9.0.255:1", "0.0.1.0.0.255:2", "1.0.1.8.0.255:2"]);
        let other = layout("other", None, &["0.0.25.9.1.255:1", "0.0.1.0.0.255:2", "1.0.2.8.0.255:2"]);
        let n = data(PUSH, 5);
        let named = name(&n, &[other, daily.clone()]).unwrap();
        assert_eq!(named.layout, "daily");
        assert_eq!(targets(&named), ["0.0.25.9.0.255:1@0", "0.0.1.0.0.255:2@1", "1.0.1.8.0.255:2@2"]);
        let by_id = layout("by-id", Some(5), &["0.0.96.1.0.255:2", "0.0.1.0.0.255:2", "1.0.1.8.0.255:2"]);
        assert_eq!(name(&n, std::slice::from_ref(&by_id)).unwrap().layout, "by-id");
        assert!(name(&data(PUSH, 6), &[by_id]).is_err(), "another invoke id");
        let plain = layout("plain", None, &["0.0.96.1.0.255:2", "0.0.1.0.0.255:2", "1.0.1.8.0.255:2"]);
        assert_eq!(
            name(&n, &[plain, daily]).unwrap_err().reason,
            "data-notification: push layouts \"plain\" and \"daily\" both match its body of 3 element(s)"
        );
        let single = layout("single", None, &["1.0.1.8.0.255:2"]);
        assert_eq!(targets(&name(&data("06 00000001", 0), &[single]).unwrap()), ["1.0.1.8.0.255:2@0"]);
    }

    #[test]
    fn self_describing_bodies() {
        // {clock LN, date-time} flat, {serial LN, value}, {voltage LN, value, {-1, V}}.
        let body = "02 05 09 06 0000010000ff 09 0c 07e50713010f2e2300ff8880 \
                    02 02 09 06 0000600100ff 09 02 4142 \
                    02 03 09 06 0100200700ff 12 0904 02 02 0f ff 16 23 \
                    09 06 0000190900ff";
        let n = data(body, 0);
        let named = name(&n, &[]).unwrap();
        assert_eq!(named.layout, "self-describing");
        assert_eq!(
            targets(&named),
            ["0.0.1.0.0.255:2@0", "0.0.96.1.0.255:2@2", "1.0.32.7.0.255:2@3", "0.0.25.9.0.255:1@4"]
        );
        assert!(named.elements[2].scaler_unit.is_some() && named.elements[1].scaler_unit.is_none());
        let alone = data("02 03 09 06 0100010800ff 06 00002394 02 02 0f 00 16 1e", 0);
        assert_eq!(targets(&name(&alone, &[]).unwrap()), ["1.0.1.8.0.255:2@0"]);
    }

    #[test]
    fn an_event_names_its_value_by_its_descriptor() {
        let bytes = decode_spaced("06 00000007").unwrap();
        let value = crate::axdr::decode(&mut Reader::new(&bytes, "APDU"), 0).unwrap();
        let attribute = AttrRef::parse("1.0.1.8.0.255:2").unwrap();
        let n = Notification::Event(EventNotification { time: None, class_id: 3, attribute, value });
        let named = name(&n, &[]).unwrap();
        assert_eq!(
            (named.layout.as_str(), targets(&named)),
            ("attribute-descriptor", vec!["1.0.1.8.0.255:2@0".to_owned()])
        );
    }

    #[test]
    fn what_cannot_be_named_says_what_to_configure() {
        let err = |hex: &str| name(&data(hex, 0x1db), &[]).unwrap_err().reason;
        assert_eq!(
            err("02 02 06 00000001 06 00000002"),
            "data-notification (invoke id 475): no push layout matches its body (a structure of 2 element(s) at offset 0) and it does not describe itself; configure \"push_layouts\" with the meter's push object list"
        );
        assert!(err("09 02 0102").contains("(octet-string at offset 0)"));
        assert!(
            err("02 01 09 06 0000190900ff").contains("does not describe itself"),
            "a lone logical name describes nothing"
        );
    }
}
