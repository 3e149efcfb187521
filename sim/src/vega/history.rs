//! Every packet of every device, kept for `get_data_req`: the selection
//! (`date_from`/`date_to` inclusive, `port`, `direction`) and the paging
//! (`begin_index`, `limit` ≤ 1000, `totalNum` = entries matching the selection).
//!
//! Rows come oldest first (ascending `ts`): the real server's order is not
//! documented (PROTOCOLS.md §1.4 has only the field names), so clients must
//! not rely on it beyond paging.

use std::collections::VecDeque;

use serde_json::Value;

use super::packets::Packet;
use super::payloads;

/// The largest `limit` honoured; larger ones are capped.
pub const MAX_LIMIT: usize = 1000;

/// A downlink queued by `send_data_req`.
#[derive(Debug, Clone)]
pub struct Downlink {
    /// The packet (its `data` field is unused).
    pub packet: Packet,
    /// The bytes sent.
    pub bytes: Vec<u8>,
    /// The time correction it carried and the emulator applied, seconds.
    pub correction_s: Option<i64>,
}

/// The packets of one device, each list in ascending `ts`.
#[derive(Debug, Default)]
pub struct DeviceHistory {
    /// Uplinks (data, time packets and repeats).
    pub up: VecDeque<Packet>,
    /// Downlinks.
    pub down: Vec<Downlink>,
}

/// Which packets `get_data_req` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Uplinks only (the emulator's default when `direction` is absent).
    Uplink,
    /// Downlinks only.
    Downlink,
    /// Both.
    All,
}

impl Direction {
    /// The protocol name.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Uplink => "UPLINK",
            Direction::Downlink => "DOWNLINK",
            Direction::All => "ALL",
        }
    }
}

/// The `select` object of `get_data_req`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Select {
    /// Earliest `ts`, inclusive.
    pub date_from: Option<i64>,
    /// Latest `ts`, inclusive.
    pub date_to: Option<i64>,
    /// Index of the first row returned among the matching ones.
    pub begin_index: usize,
    /// Most rows returned (capped at [`MAX_LIMIT`]).
    pub limit: usize,
    /// Only this fPort.
    pub port: Option<u8>,
    /// Uplinks, downlinks or both.
    pub direction: Direction,
}

impl Default for Select {
    fn default() -> Self {
        Select {
            date_from: None,
            date_to: None,
            begin_index: 0,
            limit: MAX_LIMIT,
            port: None,
            direction: Direction::Uplink,
        }
    }
}

/// An integer field given as a JSON number or a numeric string.
fn integer(v: &Value, name: &str) -> Result<Option<i64>, String> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| format!("{name}: not an integer")),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| format!("{name}: not an integer")),
        Some(_) => Err(format!("{name}: not an integer")),
    }
}

impl Select {
    /// Read `select` (absent: every uplink, first page).
    pub fn parse(select: Option<&Value>) -> Result<Select, String> {
        let mut s = Select::default();
        let Some(v) = select else { return Ok(s) };
        if v.is_null() {
            return Ok(s);
        }
        if !v.is_object() {
            return Err("select: not an object".into());
        }
        s.date_from = integer(v, "date_from")?;
        s.date_to = integer(v, "date_to")?;
        if let Some(b) = integer(v, "begin_index")? {
            s.begin_index = usize::try_from(b).map_err(|_| "begin_index: negative".to_string())?;
        }
        if let Some(l) = integer(v, "limit")? {
            s.limit = usize::try_from(l).map_err(|_| "limit: negative".to_string())?.min(MAX_LIMIT);
        }
        if let Some(p) = integer(v, "port")? {
            s.port = Some(u8::try_from(p).map_err(|_| "port: out of range".to_string())?);
        }
        s.direction = match v.get("direction").and_then(Value::as_str).map(str::to_ascii_uppercase).as_deref() {
            None => Direction::Uplink,
            Some("UPLINK") => Direction::Uplink,
            Some("DOWNLINK") => Direction::Downlink,
            Some("ALL") => Direction::All,
            Some(other) => return Err(format!("direction: unknown value {other}")),
        };
        Ok(s)
    }
}

impl DeviceHistory {
    /// Append an uplink; with `keep` > 0 only the newest `keep` uplinks stay.
    pub fn push_up(&mut self, packet: Packet, keep: usize) {
        self.up.push_back(packet);
        if keep > 0 {
            while self.up.len() > keep {
                self.up.pop_front();
            }
        }
    }

    /// The latest `ts` recorded (0 when empty).
    pub fn last_ts(&self) -> i64 {
        let up = self.up.back().map_or(0, |p| p.ts);
        let down = self.down.last().map_or(0, |d| d.packet.ts);
        up.max(down)
    }

    /// The total number of rows matching `select` and the page it asks for,
    /// rendered as `data_list` rows with hex in upper or lower case.
    pub fn select(&self, select: &Select, upper: bool) -> (usize, Vec<Value>) {
        let in_range = |ts: i64| select.date_from.is_none_or(|f| ts >= f) && select.date_to.is_none_or(|t| ts <= t);
        let up: Box<dyn Iterator<Item = &Packet>> = if select.direction == Direction::Downlink {
            Box::new(std::iter::empty())
        } else {
            let from = select.date_from.map_or(0, |f| self.up.partition_point(|p| p.ts < f));
            let to = select.date_to.map_or(self.up.len(), |t| self.up.partition_point(|p| p.ts <= t));
            Box::new(self.up.range(from..to.max(from)))
        };
        let down: Box<dyn Iterator<Item = &Downlink>> = if select.direction == Direction::Uplink {
            Box::new(std::iter::empty())
        } else {
            Box::new(self.down.iter().filter(|d| in_range(d.packet.ts)))
        };
        let (mut up, mut down) = (up.peekable(), down.peekable());
        let (mut total, mut rows) = (0usize, Vec::new());
        loop {
            let take_up = match (up.peek(), down.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(u), Some(d)) => u.ts <= d.packet.ts,
            };
            let (packet, bytes) = if take_up {
                let Some(u) = up.next() else { break };
                (u, u.data.as_slice())
            } else {
                let Some(d) = down.next() else { break };
                (&d.packet, d.bytes.as_slice())
            };
            if select.port.is_some_and(|p| p != packet.port) {
                continue;
            }
            if total >= select.begin_index && rows.len() < select.limit {
                rows.push(packet.row(payloads::hex(bytes, upper)));
            }
            total += 1;
        }
        (total, rows)
    }
}
