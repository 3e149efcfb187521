//! The registry's records: meters (registered from their first reading,
//! with editable metadata), communication modules, and the history of every
//! metadata change.

use std::collections::{BTreeMap, BTreeSet};

use meterhub_accounting::{Decimal, MeterSpec, RegisterEvent};
use serde::{Deserialize, Serialize};

use super::error::AccountingError;
use crate::auth::MeterPath;

/// What a meter measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// Gas.
    Gas,
    /// Electricity.
    Electricity,
    /// Heat.
    Heat,
    /// Cold water.
    ColdWater,
    /// Hot water.
    HotWater,
}

impl Resource {
    /// The names accepted, for error messages.
    pub const NAMES: &'static str = "gas, electricity, heat, cold_water, hot_water";

    /// Its name, as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Gas => "gas",
            Resource::Electricity => "electricity",
            Resource::Heat => "heat",
            Resource::ColdWater => "cold_water",
            Resource::HotWater => "hot_water",
        }
    }

    /// Parses a resource name.
    pub fn parse(name: &str) -> Option<Resource> {
        serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
    }
}

/// A channel of a meter as first seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    /// `cumulative`, `instantaneous` or `state`; only cumulative channels get
    /// deltas.
    pub kind: String,
    /// Unit of its values.
    pub unit: String,
}

/// The editable metadata of a meter. Every field is optional; absent means
/// not set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterMetadata {
    /// A name for people.
    #[serde(default)]
    pub name: Option<String>,
    /// Where it is installed.
    #[serde(default)]
    pub address: Option<String>,
    /// What it measures.
    #[serde(default)]
    pub resource: Option<Resource>,
    /// The consumer account it is billed to.
    #[serde(default)]
    pub consumer_account: Option<String>,
    /// A free-text group (building, district) consumption is summed over.
    #[serde(default)]
    pub site: Option<String>,
    /// The meter's model (type), as the operator knows it.
    #[serde(default)]
    pub model: Option<String>,
    /// IANA time zone its days and months are counted in; the configured
    /// `[accounting] time_zone` when absent.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Units of the meter per pulse: the deltas of a channel named `pulses`
    /// (consumption, start and end values) are multiplied by it, so they are
    /// in the meter's unit; its capacity and events stay in pulses.
    #[serde(default)]
    pub pulse_weight: Option<Decimal>,
    /// The register value at which it wraps to zero (rollover).
    #[serde(default)]
    pub register_capacity: Option<Decimal>,
    /// The register value when the meter was put into service, at
    /// `installed_at_ms`: counted as a reading (sequence 0), so consumption
    /// from the installation to the first reading is booked. Set together
    /// with `installed_at_ms`.
    #[serde(default)]
    pub initial_value: Option<Decimal>,
    /// When the meter was put into service, ms since the epoch.
    #[serde(default)]
    pub installed_at_ms: Option<i64>,
    /// The channel consumption per group counts for this meter when no
    /// channel is asked for; its only cumulative channel when absent.
    #[serde(default)]
    pub billing_channel: Option<String>,
}

/// The metadata fields, in the order the API lists them.
pub const METADATA_FIELDS: [&str; 12] = [
    "name",
    "address",
    "resource",
    "consumer_account",
    "site",
    "model",
    "time_zone",
    "pulse_weight",
    "register_capacity",
    "initial_value",
    "installed_at",
    "billing_channel",
];

/// The metadata fields whose change recomputes the meter's deltas.
pub const RECOMPUTING_FIELDS: [&str; 5] =
    ["time_zone", "pulse_weight", "register_capacity", "initial_value", "installed_at"];

/// The channel whose deltas the pulse weight multiplies.
pub const PULSES_CHANNEL: &str = "pulses";

/// A registered meter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterRecord {
    /// Meter identity (the readings' `device`).
    pub id: String,
    /// Source (driver instance) of the last readings seen.
    pub source: String,
    /// Its channels as seen in readings.
    pub channels: BTreeMap<String, ChannelInfo>,
    /// The communication module it is read through, when known.
    pub module: Option<String>,
    /// The model its codec reports (the operator's `metadata.model` is
    /// theirs to set), when known.
    #[serde(default)]
    pub model: Option<String>,
    /// Earliest device timestamp seen, ms since the epoch.
    pub first_seen_ms: i64,
    /// Latest device timestamp seen, ms since the epoch.
    pub last_seen_ms: i64,
    /// When the registry learned of it (host clock), ms since the epoch.
    pub registered_at_ms: i64,
    /// Editable metadata.
    pub metadata: MeterMetadata,
    /// Replacement and reset events of its register, in time order.
    pub events: Vec<RegisterEvent>,
}

impl MeterRecord {
    /// A meter first seen now.
    pub fn new(id: &str, source: &str, ts_ms: i64, now_ms: i64) -> MeterRecord {
        MeterRecord {
            id: id.to_owned(),
            source: source.to_owned(),
            channels: BTreeMap::new(),
            module: None,
            model: None,
            first_seen_ms: ts_ms,
            last_seen_ms: ts_ms,
            registered_at_ms: now_ms,
            metadata: MeterMetadata::default(),
            events: Vec::new(),
        }
    }

    /// Where it sits in the registry tree that grants are written over.
    pub fn path(&self) -> MeterPath {
        MeterPath {
            resource: self.metadata.resource.map(|r| r.as_str().to_owned()),
            site: self.metadata.site.clone(),
            module: self.module.clone(),
            meter: Some(self.id.clone()),
        }
    }

    /// The accounting spec of its register: its zone (or `default_zone`),
    /// capacity and events.
    pub fn spec(&self, default_zone: &str) -> Result<MeterSpec, AccountingError> {
        let zone = self.metadata.time_zone.as_deref().unwrap_or(default_zone);
        MeterSpec::new(zone, self.metadata.register_capacity, self.events.clone())
            .map_err(|e| AccountingError::invalid("time_zone", e.to_string()))
    }

    /// The installation reading (sequence 0): the initial value at the
    /// installation time, when both are set.
    pub fn installation(&self) -> Option<(i64, Decimal)> {
        Some((self.metadata.installed_at_ms?, self.metadata.initial_value?))
    }

    /// The channel its consumption counts in a group total when none is
    /// named: the billing channel, else its only cumulative channel; an
    /// error saying why when there is none or several.
    pub fn billing_channel(&self) -> Result<&str, String> {
        if let Some(channel) = &self.metadata.billing_channel {
            return Ok(channel);
        }
        let cumulative: Vec<&str> = self.cumulative_channels().collect();
        match cumulative.as_slice() {
            [one] => Ok(one),
            [] => Err("no cumulative channel".to_owned()),
            several => Err(format!(
                "several cumulative channels ({}); set its billing_channel or name a channel",
                several.join(", ")
            )),
        }
    }

    /// Its cumulative channels, the ones with deltas.
    pub fn cumulative_channels(&self) -> impl Iterator<Item = &str> {
        self.channels.iter().filter(|(_, info)| info.kind == "cumulative").map(|(name, _)| name.as_str())
    }

    /// What a delta value of `channel` is multiplied by (the pulse weight for
    /// the pulses channel, else 1).
    pub fn scale(&self, channel: &str) -> Decimal {
        match self.metadata.pulse_weight {
            Some(weight) if channel == PULSES_CHANNEL => weight,
            _ => Decimal::ONE,
        }
    }
}

/// A registered communication module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleRecord {
    /// Module identity.
    pub id: String,
    /// The meters read through it.
    pub meters: BTreeSet<String>,
    /// When the registry learned of it (host clock), ms since the epoch.
    pub registered_at_ms: i64,
    /// The period between its uplinks an operator expects, ms: it decides
    /// when the module is silent instead of the period learned from its
    /// traffic.
    #[serde(default)]
    pub expected_period_ms: Option<i64>,
    /// Who set `expected_period_ms` last, and when (host clock, ms).
    #[serde(default)]
    pub expected_period_set: Option<(String, i64)>,
}

impl ModuleRecord {
    /// A module the registry learns of now.
    pub fn new(id: &str, now_ms: i64) -> ModuleRecord {
        ModuleRecord {
            id: id.to_owned(),
            meters: BTreeSet::new(),
            registered_at_ms: now_ms,
            expected_period_ms: None,
            expected_period_set: None,
        }
    }
}

/// One change of a meter's metadata or events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Position in the meter's history, from 1.
    pub seq: u64,
    /// When (host clock), ms since the epoch.
    pub at_ms: i64,
    /// Who, as the API caller said.
    pub actor: String,
    /// The field changed, or `event` for an added register event.
    pub field: String,
    /// The value before (`null` when unset).
    pub old: serde_json::Value,
    /// The value after (`null` when cleared).
    pub new: serde_json::Value,
}
