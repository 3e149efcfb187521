//! The report's language: numbers, dates and times as a dispatcher reads
//! them (the UI's `format.js` rules: a narrow no-break space between
//! thousands and a decimal comma in Russian), and the names of resources,
//! channels and units (the UI's own table, `ui/js/names.js`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use serde::Deserialize;

/// A language a report is made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Russian, the dispatchers' language.
    #[default]
    Ru,
    /// English.
    En,
}

impl Lang {
    /// `ru` or `en`.
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Its code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    /// `ru` in Russian, `en` in English.
    pub fn pick<'a>(self, ru: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Ru => ru,
            Lang::En => en,
        }
    }

    /// An exact decimal with every digit kept: `3 644,50` (narrow no-break
    /// spaces) in Russian, `3,644.50` in English, a real minus sign.
    pub fn decimal(self, value: Decimal) -> String {
        let text = value.to_string();
        let (sign, digits) = match text.strip_prefix('-') {
            Some(rest) => ("\u{2212}", rest),
            None => ("", text.as_str()),
        };
        let (whole, fraction) = match digits.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (digits, None),
        };
        let (group, mark) = match self {
            Lang::Ru => ('\u{202f}', ','),
            Lang::En => (',', '.'),
        };
        let mut out = String::from(sign);
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                out.push(group);
            }
            out.push(ch);
        }
        if let Some(fraction) = fraction {
            out.push(mark);
            out.push_str(fraction);
        }
        out
    }

    /// A count, grouped like a decimal.
    pub fn count(self, value: u64) -> String {
        self.decimal(Decimal::from(value))
    }

    /// An instant in `zone`: `05.12.2026 14:03:07` in Russian,
    /// `05/12/2026 14:03:07` in English.
    pub fn time(self, ms: i64, zone: &TimeZone) -> String {
        match Timestamp::from_millisecond(ms) {
            Ok(at) => {
                let format = self.pick("%d.%m.%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S");
                at.to_zoned(zone.clone()).strftime(format).to_string()
            }
            Err(_) => ms.to_string(),
        }
    }

    /// A period named by its local date (`YYYY-MM-DD` or `YYYY-MM`, as the
    /// deltas name it): `05.12.2026` or `декабрь 2026`.
    pub fn period(self, start: &str) -> String {
        let parts: Vec<&str> = start.split('-').collect();
        match parts.as_slice() {
            [y, m, d] => match self {
                Lang::Ru => format!("{d}.{m}.{y}"),
                Lang::En => format!("{d}/{m}/{y}"),
            },
            [y, m] => match m.parse::<usize>().ok().filter(|m| (1..=12).contains(m)) {
                Some(month) => format!("{} {y}", self.month_name(month)),
                None => start.to_owned(),
            },
            _ => start.to_owned(),
        }
    }

    fn month_name(self, month: usize) -> &'static str {
        const RU: [&str; 12] = [
            "январь",
            "февраль",
            "март",
            "апрель",
            "май",
            "июнь",
            "июль",
            "август",
            "сентябрь",
            "октябрь",
            "ноябрь",
            "декабрь",
        ];
        const EN: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        match self {
            Lang::Ru => RU[month - 1],
            Lang::En => EN[month - 1],
        }
    }

    /// A resource (`gas`, `cold_water`, ...) by name.
    pub fn resource(self, resource: &str) -> String {
        let (ru, en) = match resource {
            "gas" => ("Газ", "Gas"),
            "electricity" => ("Электроэнергия", "Electricity"),
            "heat" => ("Тепло", "Heat"),
            "cold_water" => ("Холодная вода", "Cold water"),
            "hot_water" => ("Горячая вода", "Hot water"),
            other => (other, other),
        };
        self.pick(ru, en).to_owned()
    }

    /// A channel's display name; a name the table does not know as it is.
    pub fn channel(self, channel: &str) -> String {
        let names = names();
        if let Some(known) = names.channels.get(channel) {
            return known.pick(self).to_owned();
        }
        let suffixed = |sep: &str, template: &Named, valid: &dyn Fn(&str) -> bool| {
            let (base, n) = channel.rsplit_once(sep)?;
            let known = names.channels.get(base).filter(|_| valid(n))?;
            Some(template.pick(self).replace("{base}", known.pick(self)).replace("{n}", &n.to_uppercase()))
        };
        let digit = |max: char| move |n: &str| n.len() == 1 && ('1'..=max).contains(&n.chars().next().unwrap_or('0'));
        suffixed("-t", &names.suffixes.tariff, &digit('8'))
            .or_else(|| suffixed("-l", &names.suffixes.phase, &digit('3')))
            .or_else(|| suffixed("-", &names.suffixes.phase_letter, &|n| matches!(n, "a" | "b" | "c")))
            .unwrap_or_else(|| channel.to_owned())
    }

    /// A unit's display form; a unit the table does not know as it is.
    pub fn unit(self, unit: &str) -> String {
        names().units.get(unit).map_or_else(|| unit.to_owned(), |u| u.pick(self).to_owned())
    }
}

#[derive(Debug, Deserialize)]
struct Named {
    ru: String,
    en: String,
}

impl Named {
    fn pick(&self, lang: Lang) -> &str {
        lang.pick(&self.ru, &self.en)
    }
}

#[derive(Debug, Deserialize)]
struct Suffixes {
    tariff: Named,
    phase: Named,
    phase_letter: Named,
}

#[derive(Debug, Deserialize)]
struct Names {
    channels: BTreeMap<String, Named>,
    suffixes: Suffixes,
    units: BTreeMap<String, Named>,
}

/// The UI's table of names: what follows `export default` is JSON.
const NAMES_JS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/js/names.js"));

fn names() -> &'static Names {
    static NAMES: OnceLock<Names> = OnceLock::new();
    NAMES.get_or_init(|| {
        let json = NAMES_JS.split_once("\nexport default").map_or("", |(_, rest)| rest).trim().trim_end_matches(';');
        // A broken table is caught by this crate's tests; the product then
        // shows machine names rather than failing a report.
        serde_json::from_str(json).unwrap_or(Names {
            channels: BTreeMap::new(),
            suffixes: Suffixes {
                tariff: Named { ru: "{base}-t{n}".into(), en: "{base}-t{n}".into() },
                phase: Named { ru: "{base}-l{n}".into(), en: "{base}-l{n}".into() },
                phase_letter: Named { ru: "{base}-{n}".into(), en: "{base}-{n}".into() },
            },
            units: BTreeMap::new(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_every_digit_in_each_language() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(Lang::Ru.decimal(d("3644.50")), "3\u{202f}644,50");
        assert_eq!(Lang::En.decimal(d("3644.50")), "3,644.50");
        assert_eq!(Lang::Ru.decimal(d("-1234567.125")), "\u{2212}1\u{202f}234\u{202f}567,125");
        assert_eq!(Lang::En.decimal(d("999")), "999");
        assert_eq!(Lang::Ru.decimal(d("0.000")), "0,000");
    }

    #[test]
    fn the_uis_table_of_names_is_read() {
        let table: serde_json::Result<Names> =
            serde_json::from_str(NAMES_JS.split_once("\nexport default").unwrap().1.trim().trim_end_matches(';'));
        assert!(table.is_ok(), "ui/js/names.js is not JSON after `export default`: {table:?}");
        assert_eq!(Lang::Ru.unit("m3"), "м³");
        assert_eq!(Lang::Ru.unit("kWh"), "кВт·ч");
        assert_eq!(Lang::Ru.channel("volume"), "Объём");
        assert_eq!(Lang::Ru.channel("energy-import-t1"), "Энергия (приём), тариф 1");
        assert_eq!(Lang::En.channel("voltage-l2"), "Voltage, phase L2");
        assert_eq!(Lang::En.channel("no-such"), "no-such");
    }

    #[test]
    fn periods_and_times_in_each_language() {
        assert_eq!(Lang::Ru.period("2026-03-29"), "29.03.2026");
        assert_eq!(Lang::Ru.period("2026-02"), "февраль 2026");
        assert_eq!(Lang::En.period("2026-02"), "February 2026");
        let moscow = TimeZone::get("Europe/Moscow").unwrap();
        assert_eq!(Lang::Ru.time(1_772_312_400_000, &moscow), "01.03.2026 00:00:00");
    }
}
