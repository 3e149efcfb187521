//! What a report is asked for: its kind, period, zone, scope and language,
//! parsed from a query string and checked field by field.

use std::collections::HashMap;

use jiff::ToSpan;
use jiff::civil::Date;
use meterhub_accounting::Period;
use meterhub_report::Lang;

use crate::accounting::Resource;

/// The reports there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Consumption per meter and group per day or month.
    Consumption,
    /// Register values at the period's boundaries, for billing.
    Boundaries,
    /// Module activity: silent, low battery, weak signal, lost uplinks.
    Activity,
    /// Readings received against expected, per meter and day, with gaps.
    Completeness,
}

impl Kind {
    /// Every kind, as the API names them.
    pub const NAMES: &'static str = "consumption, boundaries, activity, completeness";

    /// Parses a kind's name.
    pub fn parse(name: &str) -> Option<Kind> {
        match name {
            "consumption" => Some(Kind::Consumption),
            "boundaries" => Some(Kind::Boundaries),
            "activity" => Some(Kind::Activity),
            "completeness" => Some(Kind::Completeness),
            _ => None,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Consumption => "consumption",
            Kind::Boundaries => "boundaries",
            Kind::Activity => "activity",
            Kind::Completeness => "completeness",
        }
    }
}

/// A report's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRequest {
    /// Which report.
    pub kind: Kind,
    /// Days or months (the consumption report).
    pub period: Period,
    /// The first local date, inclusive.
    pub from: Date,
    /// The local date after the last, exclusive.
    pub to: Date,
    /// The zone every meter's days are counted in; each meter's own when
    /// `None`.
    pub zone: Option<String>,
    /// Only the meters of this site.
    pub site: Option<String>,
    /// Only the meters of this resource.
    pub resource: Option<Resource>,
    /// Only this meter.
    pub meter: Option<String>,
    /// Its language.
    pub lang: Lang,
}

/// The longest period a report covers.
pub const MAX_DAYS: i32 = 3 * 366;

/// The query parameters a report takes (with `format`, which the API reads).
pub const PARAMS: [&str; 10] = ["period", "from", "to", "month", "zone", "site", "resource", "meter", "lang", "format"];

fn date(name: &str, text: &str) -> Result<Date, String> {
    text.parse::<Date>().map_err(|_| format!("{name}: expected a date YYYY-MM-DD, got {text:?}"))
}

impl ReportRequest {
    /// Parses `params` for a report of `kind` asked on `today` (the
    /// activity report, of now, needs no dates); every error names the
    /// parameter.
    pub fn parse(kind: Kind, params: &HashMap<String, String>, today: Date) -> Result<ReportRequest, String> {
        if let Some(unknown) = params.keys().find(|k| !PARAMS.contains(&k.as_str())) {
            return Err(format!("{unknown}: unknown parameter (known: {})", PARAMS.join(", ")));
        }
        let period = match params.get("period").map(String::as_str) {
            None | Some("month") => Period::Month,
            Some("day") => Period::Day,
            Some(other) => return Err(format!("period: expected day or month, got {other:?}")),
        };
        let (from, to) = match (params.get("month"), params.get("from"), params.get("to")) {
            (Some(month), None, None) => {
                let first = date("month", &format!("{month}-01"))
                    .map_err(|_| format!("month: expected YYYY-MM, got {month:?}"))?;
                (first, first.checked_add(1.month()).map_err(|e| format!("month: {e}"))?)
            }
            (Some(_), _, _) => return Err("month: give either month or from and to".to_owned()),
            (None, Some(from), Some(to)) => (date("from", from)?, date("to", to)?),
            (None, None, None) if kind == Kind::Activity => (today, today.tomorrow().map_err(|e| e.to_string())?),
            (None, _, _) => {
                return Err("from, to: missing (local dates YYYY-MM-DD, to exclusive), or month=YYYY-MM".into());
            }
        };
        if from >= to {
            return Err(format!("to: must be after from ({from} .. {to})"));
        }
        if from.until(to).map_err(|e| e.to_string())?.get_days() > MAX_DAYS {
            return Err(format!("to: a report covers at most {MAX_DAYS} days"));
        }
        if kind == Kind::Consumption && period == Period::Month && (from.day() != 1 || to.day() != 1) {
            return Err("from, to: a monthly report runs from the first day of a month to the first of another".into());
        }
        let zone = match params.get("zone").map(String::as_str) {
            None | Some("") | Some("meter") => None,
            Some(zone) => {
                jiff::tz::TimeZone::get(zone).map_err(|_| format!("zone: {zone:?} is not an IANA time zone"))?;
                Some(zone.to_owned())
            }
        };
        let resource = match params.get("resource").filter(|r| !r.is_empty()) {
            Some(r) => {
                Some(Resource::parse(r).ok_or_else(|| format!("resource: {r:?} is not one of {}", Resource::NAMES))?)
            }
            None => None,
        };
        let lang = match params.get("lang") {
            Some(code) => Lang::parse(code).ok_or_else(|| format!("lang: expected ru or en, got {code:?}"))?,
            None => Lang::Ru,
        };
        let text = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
        Ok(ReportRequest { kind, period, from, to, zone, site: text("site"), resource, meter: text("meter"), lang })
    }

    /// The last date covered (the day before `to`).
    pub fn last_day(&self) -> Date {
        self.to.yesterday().unwrap_or(self.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: Kind, query: &[(&str, &str)]) -> Result<ReportRequest, String> {
        let today = jiff::civil::date(2026, 12, 7);
        ReportRequest::parse(kind, &query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(), today)
    }

    #[test]
    fn a_month_is_its_first_day_to_the_next_months() {
        let r = parse(Kind::Consumption, &[("month", "2026-02")]).unwrap();
        assert_eq!((r.from.to_string(), r.to.to_string()), ("2026-02-01".into(), "2026-03-01".into()));
        assert_eq!(r.last_day().to_string(), "2026-02-28");
        assert_eq!(r.period, Period::Month);
        assert_eq!(r.lang, Lang::Ru);
    }

    #[test]
    fn every_refusal_names_its_parameter() {
        let cases: [(&[(&str, &str)], &str); 7] = [
            (&[("from", "2026-03-01")], "from, to: missing"),
            (&[("from", "2026-03-05"), ("to", "2026-03-01"), ("period", "day")], "to: must be after"),
            (&[("from", "2026-03-05"), ("to", "2026-04-01")], "from, to: a monthly report"),
            (&[("month", "2026-13")], "month: expected YYYY-MM"),
            (&[("month", "2026-03"), ("zone", "Mars/Olympus")], "zone: \"Mars/Olympus\""),
            (&[("month", "2026-03"), ("resource", "steam")], "resource: \"steam\""),
            (&[("month", "2026-03"), ("colour", "red")], "colour: unknown parameter"),
        ];
        for (query, want) in cases {
            let got = parse(Kind::Consumption, query).unwrap_err();
            assert!(got.starts_with(want), "{query:?}: {got}");
        }
        assert!(parse(Kind::Completeness, &[("from", "2026-03-05"), ("to", "2026-03-07")]).is_ok());
        assert_eq!(parse(Kind::Activity, &[]).unwrap().from.to_string(), "2026-12-07");
    }
}
