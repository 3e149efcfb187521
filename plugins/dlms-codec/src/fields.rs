//! The decoded fields (`Decoded::fields`): one push as people checking
//! payloads want to see it, every value kept.
//!
//! - `apdu`: `data-notification` or `event-notification-request`;
//! - `systemTitle` (16 hex digits), `systemTitleSource` (`apdu`, `meta`),
//!   `manufacturer` (the system title's first three bytes, when they are
//!   a three-letter FLAG id);
//! - `security` when it came ciphered: `apdu` (the ciphering APDU),
//!   `control` (the security control byte), `suite`, `authenticated`,
//!   `encrypted`, `invocationCounter`;
//! - data-notification: `longInvokeIdAndPriority` (hex), `invokeId`,
//!   `dateTime`; event-notification: `time`, `attributeDescriptor`
//!   (`classId`, `obis`, `attribute`);
//! - `layout`: how the values were named (a push layout's name,
//!   `self-describing`, `attribute-descriptor`);
//! - `elements`: every value with its `index`, `obis`, `attribute`, the
//!   raw A-XDR `value` as JSON (`{"type", "value"}`), and when known
//!   `scaler`, `unit`, `scalerUnitFrom`, `scaled` (value × 10^scaler in the
//!   meter's unit) and the `channel` it feeds;
//! - `readingsTime`, `readingsTimeSource` (`notification`, `clock`,
//!   `received`), `readingsTimeNotes` (why not the sources before).

use meterhub_plugin_api::hex;
use serde_json::{Map, Value as Json, json};

use crate::apdu::{Notification, Push};
use crate::axdr::date_time_json;
use crate::readings::{Built, time_fields};

/// The fields of `push`, its values named by `layout`, read into `built`.
pub fn fields(push: &Push, layout: &str, built: &Built) -> Map<String, Json> {
    let mut out = Map::new();
    out.insert("apdu".into(), push.notification.name().into());
    if let Some(title) = push.system_title {
        out.insert("systemTitle".into(), hex::encode_upper(&title).into());
        out.insert("systemTitleSource".into(), push.system_title_source.unwrap_or("meta").into());
        if title[..3].iter().all(u8::is_ascii_uppercase) {
            out.insert("manufacturer".into(), String::from_utf8_lossy(&title[..3]).into_owned().into());
        }
    }
    if let Some(p) = &push.protection {
        let c = p.control;
        out.insert(
            "security".into(),
            json!({
                "apdu": p.apdu,
                "control": format!("0x{:02X}", c.0),
                "suite": c.suite(),
                "authenticated": c.authenticated(),
                "encrypted": c.encrypted(),
                "invocationCounter": p.invocation_counter,
            }),
        );
    }
    notification_fields(&push.notification, &mut out);
    out.insert("layout".into(), layout.into());
    out.insert("elements".into(), built.elements.clone().into());
    time_fields(built, &mut out);
    out
}

/// What the notification itself says.
fn notification_fields(notification: &Notification, out: &mut Map<String, Json>) {
    match notification {
        Notification::Data(n) => {
            out.insert("longInvokeIdAndPriority".into(), format!("0x{:08X}", n.long_invoke_id_and_priority).into());
            out.insert("invokeId".into(), n.invoke_id().into());
            if let Some(t) = &n.date_time {
                out.insert("dateTime".into(), date_time_json(t));
            }
        }
        Notification::Event(n) => {
            if let Some(t) = &n.time {
                out.insert("time".into(), date_time_json(t));
            }
            out.insert(
                "attributeDescriptor".into(),
                json!({ "classId": n.class_id, "obis": n.attribute.obis.to_string(), "attribute": n.attribute.attribute }),
            );
        }
    }
}
