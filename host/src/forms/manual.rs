//! A meter reading entered by hand with the manual-reading form. It goes
//! the way of every reading: a raw frame of source `manual` committed to
//! the journal (the form is answered once it is durable), decoded here by
//! the pipeline, archived under the natural key, then the accounting,
//! streams, alarms and sinks treat it like any other. Who entered it is
//! the frame's provenance: its peer is `user:<name>`, its metadata names
//! the user and the form, and the payload keeps the note.

use jiff::tz::TimeZone;
use meterhub_forms::{FieldProblem, Problem, Values};
use meterhub_plugin_api::{Decoded, RawFrame, Reading, ReadingKind, Transport};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::accounting::MeterRecord;
use crate::config::MANUAL_SOURCE;

/// The content type of a manual reading's frame.
pub const CONTENT_TYPE: &str = "application/vnd.meterhub.manual-reading+json";

/// A reading as entered: the frame's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entered {
    /// The reading: the meter's channel, its time, value, unit and kind.
    pub reading: Reading,
    /// Who entered it.
    pub user: String,
    /// The form it was entered with.
    pub form: String,
    /// The form's note.
    #[serde(default)]
    pub note: String,
}

fn problem(field: &str, code: &'static str, limit: Option<String>, message: String) -> Vec<FieldProblem> {
    vec![FieldProblem { field: field.to_owned(), problem: Problem::new(code, limit, message) }]
}

impl Entered {
    /// The reading `values` (checked against the form) make for `meter`
    /// (the registry's record of the form's meter): the channel one it
    /// has, its unit and kind; the time a local time in the meter's zone
    /// (or `default_zone`), not past `latest_ms` (the host's clock and the
    /// device clock tolerance).
    pub fn from_form(
        values: &Values,
        meter: &MeterRecord,
        default_zone: &str,
        latest_ms: i64,
        (user, form): (&str, &str),
    ) -> Result<Entered, Vec<FieldProblem>> {
        let field = |name: &str| values.get(name).map_or("", String::as_str);
        let channel = field("channel");
        let Some(info) = meter.channels.get(channel) else {
            let has: Vec<&str> = meter.channels.keys().map(String::as_str).collect();
            return Err(problem(
                "channel",
                "no-channel",
                Some(has.join(", ")),
                format!("meter {:?} has no channel {channel:?} (it has: {})", meter.id, has.join(", ")),
            ));
        };
        let kind = match info.kind.as_str() {
            "cumulative" => ReadingKind::Cumulative,
            "instantaneous" => ReadingKind::Instantaneous,
            _ => ReadingKind::State,
        };
        let zone_name = meter.metadata.time_zone.as_deref().unwrap_or(default_zone);
        let zone = TimeZone::get(zone_name).unwrap_or(TimeZone::UTC);
        let local = meterhub_forms::field::parse_datetime(field("at"));
        let Some(ts_ms) = local.and_then(|l| l.to_zoned(zone).ok()).map(|z| z.timestamp().as_millisecond()) else {
            return Err(problem("at", "not-a-datetime", None, format!("{:?} is not a date and time", field("at"))));
        };
        if ts_ms > latest_ms {
            return Err(problem("at", "in-future", None, format!("{} is ahead of the host's clock", field("at"))));
        }
        let value = Decimal::from_str_exact(field("value"))
            .map_err(|e| problem("value", "not-a-number", None, format!("{:?}: {e}", field("value"))))?;
        Ok(Entered {
            reading: Reading {
                device: meter.id.clone(),
                channel: channel.to_owned(),
                ts_ms,
                value,
                unit: info.unit.clone(),
                kind,
            },
            user: user.to_owned(),
            form: form.to_owned(),
            note: field("note").to_owned(),
        })
    }

    /// Its raw frame, received now (`now_ms`).
    pub fn frame(&self, now_ms: i64) -> RawFrame {
        RawFrame {
            seq: 0,
            source: MANUAL_SOURCE.to_owned(),
            peer: format!("user:{}", self.user),
            received_at_ms: now_ms,
            transport: Transport::Http,
            content_type: CONTENT_TYPE.to_owned(),
            meta: vec![("user".to_owned(), self.user.clone()), ("form".to_owned(), self.form.clone())],
            payload: serde_json::to_vec(self).unwrap_or_default(),
        }
    }
}

/// Whether `frame` is a manual reading.
pub fn is_manual(frame: &RawFrame) -> bool {
    frame.source == MANUAL_SOURCE
}

/// Who entered the reading of a manual reading's `frame`, and their note.
pub fn provenance(frame: &RawFrame) -> Option<Entered> {
    is_manual(frame).then(|| serde_json::from_slice(&frame.payload).ok()).flatten()
}

/// The reading of a manual reading's frame.
pub fn decode(frame: &RawFrame) -> Result<Decoded, String> {
    let e: Entered =
        serde_json::from_slice(&frame.payload).map_err(|e| format!("a manual reading that does not read: {e}"))?;
    Ok(Decoded { readings: vec![e.reading], telemetry: Vec::new(), fields: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::model::ChannelInfo;

    fn meter() -> MeterRecord {
        let mut m = MeterRecord::new("gas-1", "lns", 0, 0);
        m.channels.insert("volume".into(), ChannelInfo { kind: "cumulative".into(), unit: "m3".into() });
        m.metadata.time_zone = Some("Asia/Yekaterinburg".into());
        m
    }

    fn values(pairs: &[(&str, &str)]) -> Values {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_manual_reading_is_the_meters_channel_at_its_local_time_and_decodes_from_its_frame() {
        let form =
            values(&[("meter", "gas-1"), ("channel", "volume"), ("value", "1234.567"), ("at", "2026-12-07T09:30")]);
        let latest = 1_900_000_000_000;
        let entered = Entered::from_form(&form, &meter(), "UTC", latest, ("dina", "manual-reading")).unwrap();
        // 09:30 at UTC+5.
        assert_eq!(entered.reading.ts_ms, 1_796_617_800_000);
        assert_eq!((entered.reading.unit.as_str(), entered.reading.kind), ("m3", ReadingKind::Cumulative));
        let mut frame = entered.frame(5);
        frame.seq = 7;
        assert!(is_manual(&frame));
        assert_eq!((frame.peer.as_str(), frame.meta("user")), ("user:dina", Some("dina")));
        let decoded = decode(&frame).unwrap();
        assert_eq!(decoded.readings[0].value.to_string(), "1234.567");
        assert_eq!(decoded.readings[0].device, "gas-1");

        let other = values(&[("meter", "gas-1"), ("channel", "energy"), ("value", "1"), ("at", "2026-12-07T09:30")]);
        let refused = Entered::from_form(&other, &meter(), "UTC", latest, ("dina", "f")).unwrap_err();
        assert_eq!((refused[0].field.as_str(), refused[0].problem.code), ("channel", "no-channel"));
        let refused = Entered::from_form(&form, &meter(), "UTC", 0, ("dina", "f")).unwrap_err();
        assert_eq!(refused[0].problem.code, "in-future");
    }
}
