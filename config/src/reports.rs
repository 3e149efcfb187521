//! `[reports]`: scheduled reports (`docs/reports.md`, "Scheduled
//! reports"): which report, how often, at what local time, in which zone,
//! of which meters, in which formats; and how many of each are kept.

/// The reports a schedule may make.
pub const REPORTS: [&str; 4] = ["consumption", "boundaries", "activity", "completeness"];

/// The formats a schedule may write.
pub const FORMATS: [&str; 3] = ["csv", "xlsx", "pdf"];

/// The resources a scope may name.
pub const RESOURCES: [&str; 5] = ["gas", "electricity", "heat", "cold_water", "hot_water"];

/// How often a scheduled report is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    /// The report of each day, made the next day.
    Day,
    /// The report of each month, made on the first of the next.
    Month,
}

/// One schedule (`[reports.schedules.<id>]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Its id: the results' folder.
    pub id: String,
    /// `consumption`, `boundaries`, `activity` or `completeness`.
    pub report: String,
    /// Day or month.
    pub every: Every,
    /// The local time it is made at, `HH:MM`.
    pub at: (u8, u8),
    /// Days or months (the consumption report); as `every` when unset.
    pub period: Option<String>,
    /// The zone of its time and periods; `[accounting] time_zone` when
    /// unset (the meters' own zones for their days).
    pub zone: Option<String>,
    /// Only the meters of this site.
    pub site: Option<String>,
    /// Only the meters of this resource.
    pub resource: Option<String>,
    /// Only this meter.
    pub meter: Option<String>,
    /// `ru` or `en`.
    pub lang: String,
    /// The formats written, in order.
    pub formats: Vec<String>,
}

/// `[reports]` in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportsConfig {
    /// Results kept per schedule, the newest.
    pub keep: usize,
    /// The schedules, by id order.
    pub schedules: Vec<Schedule>,
}

/// Results kept per schedule when `keep` is not written.
pub const DEFAULT_KEEP: usize = 36;

impl Default for ReportsConfig {
    fn default() -> ReportsConfig {
        ReportsConfig { keep: DEFAULT_KEEP, schedules: Vec::new() }
    }
}
