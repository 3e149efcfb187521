//! `[reports]`: the schedules, each field checked where it is written.

use toml::Spanned;

use super::Validator;
use crate::raw::{RawReports, RawSchedule};
use crate::reports::{DEFAULT_KEEP, Every, FORMATS, REPORTS, RESOURCES, ReportsConfig, Schedule};

impl Validator<'_> {
    /// The schedules of `[reports]`.
    pub(super) fn reports(&mut self, raw: Option<&RawReports>) -> ReportsConfig {
        let Some(raw) = raw else { return ReportsConfig::default() };
        let keep = match &raw.keep {
            Some(k) if *k.get_ref() == 0 || *k.get_ref() > 10_000 => {
                self.error(k, "keep is 1 to 10000 results per schedule");
                DEFAULT_KEEP
            }
            Some(k) => *k.get_ref() as usize,
            None => DEFAULT_KEEP,
        };
        let mut schedules = Vec::new();
        for (id, spanned) in &raw.schedules {
            let name = id.get_ref();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                self.error(id, "a schedule id is letters, digits, '-' and '_'");
                continue;
            }
            schedules.extend(self.schedule(name, spanned.get_ref()));
        }
        ReportsConfig { keep, schedules }
    }

    fn one_of(&mut self, value: &Spanned<String>, allowed: &[&str], what: &str) -> Option<String> {
        if allowed.contains(&value.get_ref().as_str()) {
            Some(value.get_ref().clone())
        } else {
            self.error(value, format!("{what} is one of {}", allowed.join(", ")));
            None
        }
    }

    fn schedule(&mut self, id: &str, r: &RawSchedule) -> Option<Schedule> {
        let before = self.diagnostics.len();
        let report = self.one_of(&r.report, &REPORTS, "report");
        let every = match r.every.get_ref().as_str() {
            "day" => Some(Every::Day),
            "month" => Some(Every::Month),
            _ => {
                self.error(&r.every, "every is day or month");
                None
            }
        };
        let at = match &r.at {
            Some(at) => {
                let parsed = at.get_ref().split_once(':').and_then(|(h, m)| {
                    let (h, m) = (h.parse::<u8>().ok()?, m.parse::<u8>().ok()?);
                    (h < 24 && m < 60 && at.get_ref().len() == 5).then_some((h, m))
                });
                if parsed.is_none() {
                    self.error(at, "at is a local time HH:MM (00:00 to 23:59)");
                }
                parsed
            }
            None => Some((1, 0)),
        };
        let period = r.period.as_ref().and_then(|p| self.one_of(p, &["day", "month"], "period"));
        if let (Some(p), Some(report)) = (&r.period, &report)
            && report != "consumption"
        {
            self.error(p, "period is for the consumption report (the others follow every)");
        }
        if let Some(zone) = &r.zone
            && meterhub_accounting::MeterSpec::new(zone.get_ref(), None, vec![]).is_err()
        {
            self.error(zone, format!("{:?} is not an IANA time zone", zone.get_ref()));
        }
        let resource = r.resource.as_ref().and_then(|res| self.one_of(res, &RESOURCES, "resource"));
        let lang = match &r.lang {
            Some(lang) => self.one_of(lang, &["ru", "en"], "lang"),
            None => Some("ru".to_owned()),
        };
        let formats = match &r.formats {
            Some(list) if list.get_ref().is_empty() => {
                self.error(list, "formats names at least one of csv, xlsx, pdf");
                Vec::new()
            }
            Some(list) => list.get_ref().iter().filter_map(|f| self.one_of(f, &FORMATS, "a format")).collect(),
            None => vec!["xlsx".to_owned(), "pdf".to_owned()],
        };
        if self.diagnostics.len() > before {
            return None;
        }
        Some(Schedule {
            id: id.to_owned(),
            report: report?,
            every: every?,
            at: at?,
            period,
            zone: r.zone.as_ref().map(|z| z.get_ref().clone()),
            site: r.site.as_ref().map(|s| s.get_ref().clone()),
            resource,
            meter: r.meter.as_ref().map(|m| m.get_ref().clone()),
            lang: lang?,
            formats,
        })
    }
}
