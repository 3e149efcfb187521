//! Dispatcher reports (`docs/reports.md`): what a user may see of the
//! registry, the deltas, the board and the archive, gathered for one
//! [`ReportRequest`] and handed to the pure builders of `meterhub-report`,
//! which make the table every format renders. `api/reports.rs` serves them.

pub mod request;
pub mod scheduled;

use std::collections::HashSet;

use jiff::civil::Date;
use meterhub_accounting::{Decimal, Delta, MeterSpec, Period, period_at};
use meterhub_report::{Header, Lang, LeftOut, MeterDeltas, MeterReadings, ModuleLine, Report};
use meterhub_storage::archive::Archive;

use crate::accounting::{Accounting, AccountingError, MeterRecord, deltas_in_zone, reading_instants};
use crate::api::visibility::Visibility;
use crate::board::Board;
pub use request::{Kind, ReportRequest};

/// Where a report's data comes from.
pub struct Sources<'a> {
    /// The archive (readings, for completeness).
    pub archive: &'a dyn Archive,
    /// The registry and the deltas.
    pub accounting: &'a Accounting,
    /// Every meter and module with its state.
    pub board: &'a Board,
    /// The alarm rules in effect (the activity report's limits).
    pub alarms: &'a crate::config::alarms::AlarmsConfig,
}

/// The activity report's limits: those of the battery and signal alarm
/// rules in effect, the shipped ones where a rule is off.
fn limits(alarms: &crate::config::alarms::AlarmsConfig) -> meterhub_report::Limits {
    use crate::config::alarms::AlarmKind;
    let mut limits = meterhub_report::Limits::default();
    for rule in &alarms.rules {
        match rule.kind {
            AlarmKind::Battery { below_pct } => limits.battery_low_pct = Decimal::from(below_pct),
            AlarmKind::Signal { below_dbm } => limits.weak_rssi_dbm = Decimal::from(below_dbm),
            _ => {}
        }
    }
    limits
}

/// The first instant of local date `date` in `zone`.
fn date_start(zone: &str, date: Date) -> Result<i64, AccountingError> {
    let invalid = |why: String| AccountingError::invalid("zone", why);
    let spec = MeterSpec::new(zone, None, vec![]).map_err(|e| invalid(e.to_string()))?;
    let tz = jiff::tz::TimeZone::get(zone).map_err(|e| invalid(e.to_string()))?;
    let noon = date.at(12, 0, 0, 0).to_zoned(tz).map_err(|e| invalid(e.to_string()))?;
    period_at(&spec, Period::Day, noon.timestamp().as_millisecond())
        .map(|day| day.start_ms)
        .ok_or_else(|| invalid(format!("{date} is beyond the calendar")))
}

/// The meters of the request's scope that `seen` may see, by id.
fn meters_in_scope(
    sources: &Sources,
    seen: &Visibility,
    req: &ReportRequest,
) -> Result<Vec<MeterRecord>, AccountingError> {
    Ok(sources
        .accounting
        .store
        .meters()?
        .into_iter()
        .filter(|m| seen.record(m))
        .filter(|m| req.site.as_ref().is_none_or(|s| m.metadata.site.as_ref() == Some(s)))
        .filter(|m| req.resource.is_none_or(|r| m.metadata.resource == Some(r)))
        .filter(|m| req.meter.as_ref().is_none_or(|id| &m.id == id))
        .collect())
}

/// What the header says: the period, zone, scope, when and by whom.
fn header(sources: &Sources, req: &ReportRequest, actor: &str, now_ms: i64) -> Header {
    let lang = req.lang;
    let default_zone = &sources.accounting.default_zone;
    let zone_name = req.zone.clone().unwrap_or_else(|| default_zone.clone());
    let zone = jiff::tz::TimeZone::get(&zone_name).unwrap_or(jiff::tz::TimeZone::UTC);
    let day = |d: Date| lang.period(&d.to_string());
    let mut parameters = vec![(
        lang.pick("Период", "Period").to_owned(),
        match req.kind {
            Kind::Activity => lang.pick("на момент отчёта", "as of the report's time").to_owned(),
            _ => format!("{} – {}", day(req.from), day(req.last_day())),
        },
    )];
    parameters.push((
        lang.pick("Часовой пояс", "Time zone").to_owned(),
        match &req.zone {
            Some(zone) => zone.clone(),
            None => match lang {
                Lang::Ru => format!("у каждого счётчика свой (по умолчанию {default_zone}); время — {default_zone}"),
                Lang::En => format!("each meter's own (default {default_zone}); times in {default_zone}"),
            },
        },
    ));
    if let Some(site) = &req.site {
        parameters.push((lang.pick("Объект", "Site").to_owned(), site.clone()));
    }
    if let Some(resource) = req.resource {
        parameters.push((lang.pick("Ресурс", "Resource").to_owned(), lang.resource(resource.as_str())));
    }
    if let Some(meter) = &req.meter {
        parameters.push((lang.pick("Счётчик", "Meter").to_owned(), meter.clone()));
    }
    parameters.push((
        lang.pick("Сформирован", "Made").to_owned(),
        format!("{} ({zone_name}), {actor}", lang.time(now_ms, &zone)),
    ));
    Header { parameters, zone }
}

/// The unit a channel's deltas are in (the pulse weight makes a pulses
/// channel's deltas the meter's unit, which the registry does not know).
pub fn delta_unit(meter: &MeterRecord, channel: &str) -> String {
    let unit = meter.channels.get(channel).map_or("", |c| c.unit.as_str());
    if meter.scale(channel) == Decimal::ONE { unit.to_owned() } else { format!("{unit} x pulse_weight") }
}

/// Each meter's billing channel with its deltas of `period` over the
/// request's dates; meters without one, or on hold, left out with why.
fn meter_deltas(
    sources: &Sources,
    seen: &Visibility,
    req: &ReportRequest,
    period: Period,
) -> Result<(Vec<MeterDeltas>, Vec<LeftOut>), AccountingError> {
    let lang = req.lang;
    let store = &sources.accounting.store;
    let (mut lines, mut left_out) = (Vec::new(), Vec::new());
    for m in meters_in_scope(sources, seen, req)? {
        let channel = match m.billing_channel() {
            Ok(channel) => channel.to_owned(),
            Err(why) => {
                left_out.push(LeftOut { meter: m.id.clone(), reason: why });
                continue;
            }
        };
        if let Some(hold) = store.hold(&m.id)? {
            let reason = format!("{}: {}", lang.pick("учёт приостановлен", "deltas held"), hold.reason);
            left_out.push(LeftOut { meter: m.id.clone(), reason });
            continue;
        }
        let own_zone = m.metadata.time_zone.clone().unwrap_or_else(|| sources.accounting.default_zone.clone());
        let zone = req.zone.clone().unwrap_or_else(|| own_zone.clone());
        let (from_ms, to_ms) = (date_start(&zone, req.from)?, date_start(&zone, req.to)?);
        let deltas: Vec<Delta> = if zone == own_zone {
            store.deltas(&m.id, Some(&channel), period, from_ms, to_ms)?.into_iter().map(|(_, d)| d).collect()
        } else {
            deltas_in_zone(sources.archive, &m, &channel, &zone, period, from_ms, to_ms)?
        };
        lines.push(MeterDeltas {
            meter: m.id.clone(),
            name: m.metadata.name.clone(),
            site: m.metadata.site.clone(),
            resource: m.metadata.resource.map(|r| r.as_str().to_owned()),
            account: m.metadata.consumer_account.clone(),
            unit: delta_unit(&m, &channel),
            channel,
            deltas,
        });
    }
    Ok((lines, left_out))
}

/// The modules reading a meter of the request's scope that `seen` may see.
fn module_lines(sources: &Sources, seen: &Visibility, req: &ReportRequest) -> Result<Vec<ModuleLine>, AccountingError> {
    let meters = meters_in_scope(sources, seen, req)?;
    let scoped = req.site.is_some() || req.resource.is_some() || req.meter.is_some();
    let wanted: HashSet<&str> = meters.iter().filter_map(|m| m.module.as_deref()).collect();
    let names = |module: &str| -> Vec<String> {
        meters
            .iter()
            .filter(|m| m.module.as_deref() == Some(module))
            .map(|m| m.metadata.name.clone().map_or_else(|| m.id.clone(), |n| format!("{n} ({})", m.id)))
            .collect()
    };
    let decimal = |v: f32| Decimal::from_f32_retain(v).map(|d| d.round_dp(1));
    Ok(sources
        .board
        .modules
        .values()
        .filter(|m| {
            let id = m.activity.latest.module.as_str();
            wanted.contains(id) || (seen.everything() && !scoped)
        })
        .map(|m| {
            let t = &m.activity.latest;
            ModuleLine {
                module: t.module.clone(),
                meters: names(&t.module),
                state: m.state.as_str().to_owned(),
                last_heard_ms: Some(m.activity.last_received_at_ms),
                battery_pct: t.battery_pct.map(Decimal::from),
                rssi_dbm: t.rssi_dbm.map(Decimal::from),
                snr_db: t.snr_db.and_then(decimal),
                lost_uplinks: m.activity.counter.lost(),
            }
        })
        .collect())
}

/// Each meter's reading instants over the request's dates (its billing
/// channel, and the last one before), with its period.
fn meter_readings(
    sources: &Sources,
    seen: &Visibility,
    req: &ReportRequest,
) -> Result<Vec<MeterReadings>, AccountingError> {
    let mut out = Vec::new();
    for m in meters_in_scope(sources, seen, req)? {
        let Ok(channel) = m.billing_channel().map(str::to_owned) else { continue };
        let zone_name = req.zone.clone().or_else(|| m.metadata.time_zone.clone());
        let zone_name = zone_name.unwrap_or_else(|| sources.accounting.default_zone.clone());
        let zone = jiff::tz::TimeZone::get(&zone_name).map_err(|e| AccountingError::invalid("zone", e.to_string()))?;
        let (from_ms, to_ms) = (date_start(&zone_name, req.from)?, date_start(&zone_name, req.to)?);
        let at = reading_instants(sources.archive, &m, &channel, from_ms, to_ms)?;
        let period_ms = sources.board.meters.get(&m.id).and_then(|b| b.heard.period_ms).filter(|p| *p > 0);
        out.push(MeterReadings {
            meter: m.id.clone(),
            name: m.metadata.name.clone(),
            site: m.metadata.site.clone(),
            period_ms,
            zone,
            readings_ms: at,
            from_ms,
            to_ms,
        });
    }
    Ok(out)
}

/// The report `req` asks for, of what `seen` may see, made by `actor` at
/// `now_ms`.
pub fn build(
    sources: &Sources,
    seen: &Visibility,
    req: &ReportRequest,
    actor: &str,
    now_ms: i64,
) -> Result<Report, AccountingError> {
    let header = header(sources, req, actor, now_ms);
    let lang = req.lang;
    Ok(match req.kind {
        Kind::Consumption => {
            let (lines, left_out) = meter_deltas(sources, seen, req, req.period)?;
            meterhub_report::consumption(lang, req.period, header, &lines, &left_out)
        }
        Kind::Boundaries => {
            let whole_months = req.from.day() == 1 && req.to.day() == 1;
            let period = if whole_months { Period::Month } else { Period::Day };
            let (lines, left_out) = meter_deltas(sources, seen, req, period)?;
            meterhub_report::boundaries(lang, header, &lines, &left_out)
        }
        Kind::Activity => {
            let modules = module_lines(sources, seen, req)?;
            meterhub_report::activity(lang, header, &modules, &limits(sources.alarms))
        }
        Kind::Completeness => {
            let meters = meter_readings(sources, seen, req)?;
            meterhub_report::completeness(lang, header, &meters, now_ms)
        }
    })
}
