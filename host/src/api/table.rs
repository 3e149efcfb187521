//! The one route table of the API: every method and path it serves, the
//! endpoint that serves it and the access it needs. Dispatch
//! (`routes.rs`), the access check (`Auth::authorize`) and the 405 answers
//! (with `Allow`) all read it, so a route is written once.
//!
//! Deny by default: a method and path not in the table needs an admin (so a
//! new endpoint nobody put here is not open to viewers by accident), and is
//! answered 405 when the path is known, 404 when it is not.

use hyper::Method;

use super::alarms::AlarmsEndpoint;
use super::commands::CommandsEndpoint;
use super::forms::FormsEndpoint;
use super::pages::PagesEndpoint;
use crate::auth::Access;
use crate::auth::Role::{Admin, Dispatcher, Operator, Viewer};

/// What serves a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// The dispatcher UI's files.
    Ui,
    /// `GET /api/v1/health`.
    Health,
    /// `GET /api/v1/plugins`.
    Plugins,
    /// `GET /api/v1/drivers`.
    Drivers,
    /// `GET /api/v1/config`.
    Config,
    /// `GET /api/v1/devices`.
    Devices,
    /// `GET /api/v1/devices/{id}/latest`.
    DeviceLatest,
    /// `GET /api/v1/board`: meters and modules per state.
    Board,
    /// `GET /api/v1/reports/{kind}`: a report, as JSON or a file.
    Report,
    /// `GET /api/v1/report-runs`: the scheduled reports' results.
    ReportRuns,
    /// `GET /api/v1/report-runs/{schedule}/{file}`: one result's file.
    ReportRunFile,
    /// `GET /api/v1/modules`.
    Modules,
    /// `GET /api/v1/modules/{id}`.
    Module,
    /// `PATCH /api/v1/modules/{id}`.
    ModulePatch,
    /// `GET /api/v1/readings`.
    Readings,
    /// `GET /api/v1/quarantine`.
    Quarantine,
    /// `GET /api/v1/rejections`.
    Rejections,
    /// `GET /api/v1/stats`.
    Stats,
    /// `GET /api/v1/status`.
    Status,
    /// `GET /metrics`.
    Metrics,
    /// `POST /api/v1/instances/{driver}/{role}/{action}`.
    InstanceAction,
    /// `POST /api/v1/redecode`.
    Redecode,
    /// `GET /api/v1/sinks`.
    Sinks,
    /// `GET /api/v1/sinks/{id}/dead-letters`.
    SinkDeadLetters,
    /// `POST /api/v1/sinks/{id}/dead-letters/resend`.
    SinkResend,
    /// `GET /api/v1/sync`.
    Sync,
    /// `GET /api/v1/sync/sites/{site}/position` (a site's token).
    SyncPosition,
    /// `POST /api/v1/sync/sites/{site}/batches` (a site's token).
    SyncBatches,
    /// `POST /api/v1/sync/sites/{site}/check` (a site's token).
    SyncSiteCheck,
    /// `POST /api/v1/sync/check`: check a link with its center.
    SyncCheck,
    /// Login, session, users, audit (`api/auth.rs`).
    Auth(AuthEndpoint),
    /// Live streams (`api/stream.rs`).
    Stream(StreamEndpoint),
    /// Meters, deltas, consumption (`api/accounting.rs`).
    Accounting(AccountingEndpoint),
    /// Commands for a driver's devices (`api/commands.rs`).
    Commands(CommandsEndpoint),
    /// Alarms and the event log (`api/alarms.rs`).
    Alarms(AlarmsEndpoint),
    /// `GET /api/v1/diagrams`.
    Diagrams,
    /// `GET /api/v1/diagrams/{name}`.
    Diagram,
    /// `GET /api/v1/diagram-images/{file}`.
    DiagramImage,
    /// Saved forms and inspection notes (`api/forms.rs`).
    Forms(FormsEndpoint),
    /// Personal pages (`api/pages.rs`).
    Pages(PagesEndpoint),
}

/// The endpoints of `api/auth.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthEndpoint {
    /// `POST /api/v1/login`.
    Login,
    /// `POST /api/v1/logout`.
    Logout,
    /// `GET /api/v1/session`.
    Session,
    /// `PATCH /api/v1/session`.
    SessionPatch,
    /// `GET /api/v1/users`.
    Users,
    /// `POST /api/v1/users`.
    UserAdd,
    /// `PATCH /api/v1/users/{name}`.
    UserPatch,
    /// `DELETE /api/v1/users/{name}`.
    UserRemove,
    /// `POST /api/v1/users/{name}/grants`.
    GrantAdd,
    /// `DELETE /api/v1/users/{name}/grants`.
    GrantRemove,
    /// `GET /api/v1/audit`.
    Audit,
}

/// The endpoints of `api/stream.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEndpoint {
    /// `GET /api/v1/stream`: Server-Sent Events.
    Sse,
    /// `GET /api/v1/stream/ws`: WebSocket.
    WebSocket,
    /// `POST /api/v1/stream/{id}/control`.
    Control,
}

/// The endpoints of `api/accounting.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountingEndpoint {
    /// `GET /api/v1/meters`.
    Meters,
    /// `GET /api/v1/meters/{id}`.
    Meter,
    /// `PATCH /api/v1/meters/{id}`.
    MeterPatch,
    /// `POST /api/v1/meters/{id}/events`.
    MeterEvent,
    /// `POST /api/v1/meters/{id}/recompute`.
    MeterRecompute,
    /// `GET /api/v1/meters/{id}/history`.
    MeterHistory,
    /// `GET /api/v1/deltas`.
    Deltas,
    /// `GET /api/v1/consumption`.
    Consumption,
}

/// One piece of a path pattern.
#[derive(Debug, Clone, Copy)]
enum Seg {
    /// This segment exactly.
    Is(&'static str),
    /// Any one segment (an id).
    Any,
    /// Any segments, none included, to the end.
    Rest,
}

use Seg::{Any, Is, Rest};

/// One row: `method` on `path` is served by `endpoint` for `access`.
struct Route {
    method: &'static str,
    path: &'static [Seg],
    endpoint: Endpoint,
    access: Access,
}

const fn route(method: &'static str, path: &'static [Seg], endpoint: Endpoint, access: Access) -> Route {
    Route { method, path, endpoint, access }
}

const OPEN: Access = Access::Open;
const VIEWER: Access = Access::Role(Viewer);
const DISPATCHER: Access = Access::Role(Dispatcher);
const OPERATOR: Access = Access::Role(Operator);
const ADMIN: Access = Access::Role(Admin);
const SITE: Access = Access::Site;

const COMMANDS_LIST: Endpoint = Endpoint::Commands(CommandsEndpoint::List);
const COMMAND_QUEUE: Endpoint = Endpoint::Commands(CommandsEndpoint::Queue);
const COMMAND: Endpoint = Endpoint::Commands(CommandsEndpoint::One);
const COMMAND_CANCEL: Endpoint = Endpoint::Commands(CommandsEndpoint::Cancel);

const V1: Seg = Is("api");

/// The table. Meter data is filtered by grants in the handlers, so viewers
/// may ask for it; the plant is for dispatchers; changing things for
/// operators; users and the audit log for admins.
const ROUTES: &[Route] = &[
    // Open: load balancers, the login, the UI's files (the page asks the API for the rest).
    route("GET", &[V1, Is("v1"), Is("health")], Endpoint::Health, OPEN),
    route("POST", &[V1, Is("v1"), Is("login")], Endpoint::Auth(AuthEndpoint::Login), OPEN),
    route("GET", &[], Endpoint::Ui, OPEN),
    route("HEAD", &[], Endpoint::Ui, OPEN),
    route("GET", &[Is("ui"), Rest], Endpoint::Ui, OPEN),
    route("HEAD", &[Is("ui"), Rest], Endpoint::Ui, OPEN),
    // Anyone logged in: who am I, their language, log out.
    route("GET", &[V1, Is("v1"), Is("session")], Endpoint::Auth(AuthEndpoint::Session), VIEWER),
    route("PATCH", &[V1, Is("v1"), Is("session")], Endpoint::Auth(AuthEndpoint::SessionPatch), VIEWER),
    route("POST", &[V1, Is("v1"), Is("logout")], Endpoint::Auth(AuthEndpoint::Logout), VIEWER),
    // Live streams (filtered by grants) and their control requests.
    route("GET", &[V1, Is("v1"), Is("stream")], Endpoint::Stream(StreamEndpoint::Sse), VIEWER),
    route("GET", &[V1, Is("v1"), Is("stream"), Is("ws")], Endpoint::Stream(StreamEndpoint::WebSocket), VIEWER),
    route("POST", &[V1, Is("v1"), Is("stream"), Any, Is("control")], Endpoint::Stream(StreamEndpoint::Control), VIEWER),
    // Meter data, filtered by grants.
    route("GET", &[V1, Is("v1"), Is("meters")], Endpoint::Accounting(AccountingEndpoint::Meters), VIEWER),
    route("GET", &[V1, Is("v1"), Is("meters"), Any], Endpoint::Accounting(AccountingEndpoint::Meter), VIEWER),
    route(
        "GET",
        &[V1, Is("v1"), Is("meters"), Any, Is("history")],
        Endpoint::Accounting(AccountingEndpoint::MeterHistory),
        VIEWER,
    ),
    route("GET", &[V1, Is("v1"), Is("deltas")], Endpoint::Accounting(AccountingEndpoint::Deltas), VIEWER),
    route("GET", &[V1, Is("v1"), Is("consumption")], Endpoint::Accounting(AccountingEndpoint::Consumption), VIEWER),
    route("GET", &[V1, Is("v1"), Is("devices")], Endpoint::Devices, VIEWER),
    route("GET", &[V1, Is("v1"), Is("devices"), Any, Is("latest")], Endpoint::DeviceLatest, VIEWER),
    route("GET", &[V1, Is("v1"), Is("readings")], Endpoint::Readings, VIEWER),
    route("GET", &[V1, Is("v1"), Is("board")], Endpoint::Board, VIEWER),
    route("GET", &[V1, Is("v1"), Is("reports"), Any], Endpoint::Report, VIEWER),
    route("GET", &[V1, Is("v1"), Is("report-runs")], Endpoint::ReportRuns, VIEWER),
    route("GET", &[V1, Is("v1"), Is("report-runs"), Any, Any], Endpoint::ReportRunFile, VIEWER),
    route("GET", &[V1, Is("v1"), Is("modules")], Endpoint::Modules, VIEWER),
    route("GET", &[V1, Is("v1"), Is("modules"), Any], Endpoint::Module, VIEWER),
    // Alarms (filtered by grants: a meter's alarm is seen with its meter)
    // and the event log (alarms by grants, the plant's events for
    // dispatchers, logins for admins); acknowledged by dispatchers.
    route("GET", &[V1, Is("v1"), Is("alarms")], Endpoint::Alarms(AlarmsEndpoint::List), VIEWER),
    route("GET", &[V1, Is("v1"), Is("alarms"), Any], Endpoint::Alarms(AlarmsEndpoint::One), VIEWER),
    route("POST", &[V1, Is("v1"), Is("alarms"), Any, Is("ack")], Endpoint::Alarms(AlarmsEndpoint::Ack), DISPATCHER),
    route("GET", &[V1, Is("v1"), Is("events")], Endpoint::Alarms(AlarmsEndpoint::Events), VIEWER),
    // Mimic diagrams (their values come over the streams, by grants).
    route("GET", &[V1, Is("v1"), Is("diagrams")], Endpoint::Diagrams, VIEWER),
    route("GET", &[V1, Is("v1"), Is("diagrams"), Any], Endpoint::Diagram, VIEWER),
    route("GET", &[V1, Is("v1"), Is("diagram-images"), Any], Endpoint::DiagramImage, VIEWER),
    // Saved forms: anyone keeps their own values; shared values, manual
    // readings and notes are checked for a dispatcher by the handler.
    route("GET", &[V1, Is("v1"), Is("forms")], Endpoint::Forms(FormsEndpoint::List), VIEWER),
    route("GET", &[V1, Is("v1"), Is("forms"), Any], Endpoint::Forms(FormsEndpoint::One), VIEWER),
    route("POST", &[V1, Is("v1"), Is("forms"), Any], Endpoint::Forms(FormsEndpoint::Submit), VIEWER),
    route("GET", &[V1, Is("v1"), Is("notes")], Endpoint::Forms(FormsEndpoint::Notes), VIEWER),
    // A user's own start page; the pages published to roles are an admin's.
    route("GET", &[V1, Is("v1"), Is("page")], Endpoint::Pages(PagesEndpoint::Mine), VIEWER),
    route("PUT", &[V1, Is("v1"), Is("page")], Endpoint::Pages(PagesEndpoint::Save), VIEWER),
    route("DELETE", &[V1, Is("v1"), Is("page")], Endpoint::Pages(PagesEndpoint::Reset), VIEWER),
    // The plant: plugins, drivers, counters, what failed.
    route("GET", &[V1, Is("v1"), Is("plugins")], Endpoint::Plugins, DISPATCHER),
    route("GET", &[V1, Is("v1"), Is("drivers")], Endpoint::Drivers, DISPATCHER),
    route("GET", &[V1, Is("v1"), Is("drivers"), Any, Is("commands")], COMMANDS_LIST, DISPATCHER),
    route("GET", &[V1, Is("v1"), Is("drivers"), Any, Is("commands"), Any], COMMAND, DISPATCHER),
    route("GET", &[V1, Is("v1"), Is("stats")], Endpoint::Stats, DISPATCHER),
    route("GET", &[V1, Is("v1"), Is("status")], Endpoint::Status, DISPATCHER),
    route("GET", &[V1, Is("v1"), Is("quarantine")], Endpoint::Quarantine, DISPATCHER),
    route("GET", &[V1, Is("v1"), Is("rejections")], Endpoint::Rejections, DISPATCHER),
    route("GET", &[Is("metrics")], Endpoint::Metrics, DISPATCHER),
    route("GET", &[V1, Is("v1"), Is("sinks")], Endpoint::Sinks, DISPATCHER),
    route("GET", &[V1, Is("v1"), Is("sinks"), Any, Is("dead-letters")], Endpoint::SinkDeadLetters, DISPATCHER),
    // Changing things, and the configuration.
    route("GET", &[V1, Is("v1"), Is("config")], Endpoint::Config, OPERATOR),
    route("PATCH", &[V1, Is("v1"), Is("meters"), Any], Endpoint::Accounting(AccountingEndpoint::MeterPatch), OPERATOR),
    route(
        "POST",
        &[V1, Is("v1"), Is("meters"), Any, Is("events")],
        Endpoint::Accounting(AccountingEndpoint::MeterEvent),
        OPERATOR,
    ),
    route(
        "POST",
        &[V1, Is("v1"), Is("meters"), Any, Is("recompute")],
        Endpoint::Accounting(AccountingEndpoint::MeterRecompute),
        OPERATOR,
    ),
    route("PATCH", &[V1, Is("v1"), Is("modules"), Any], Endpoint::ModulePatch, OPERATOR),
    route("POST", &[V1, Is("v1"), Is("instances"), Any, Any, Any], Endpoint::InstanceAction, OPERATOR),
    route("POST", &[V1, Is("v1"), Is("redecode")], Endpoint::Redecode, OPERATOR),
    route("POST", &[V1, Is("v1"), Is("drivers"), Any, Is("commands")], COMMAND_QUEUE, OPERATOR),
    route("DELETE", &[V1, Is("v1"), Is("drivers"), Any, Is("commands"), Any], COMMAND_CANCEL, OPERATOR),
    route("POST", &[V1, Is("v1"), Is("sinks"), Any, Is("dead-letters"), Is("resend")], Endpoint::SinkResend, OPERATOR),
    // Sync to a monitoring center: the links at a glance; a center's
    // receiver, which answers to a site's token only.
    route("GET", &[V1, Is("v1"), Is("sync")], Endpoint::Sync, DISPATCHER),
    route("GET", &[V1, Is("v1"), Is("sync"), Is("sites"), Any, Is("position")], Endpoint::SyncPosition, SITE),
    route("POST", &[V1, Is("v1"), Is("sync"), Is("sites"), Any, Is("batches")], Endpoint::SyncBatches, SITE),
    route("POST", &[V1, Is("v1"), Is("sync"), Is("sites"), Any, Is("check")], Endpoint::SyncSiteCheck, SITE),
    route("POST", &[V1, Is("v1"), Is("sync"), Is("check")], Endpoint::SyncCheck, DISPATCHER),
    // Users and the audit log.
    route("GET", &[V1, Is("v1"), Is("users")], Endpoint::Auth(AuthEndpoint::Users), ADMIN),
    route("POST", &[V1, Is("v1"), Is("users")], Endpoint::Auth(AuthEndpoint::UserAdd), ADMIN),
    route("PATCH", &[V1, Is("v1"), Is("users"), Any], Endpoint::Auth(AuthEndpoint::UserPatch), ADMIN),
    route("DELETE", &[V1, Is("v1"), Is("users"), Any], Endpoint::Auth(AuthEndpoint::UserRemove), ADMIN),
    route("POST", &[V1, Is("v1"), Is("users"), Any, Is("grants")], Endpoint::Auth(AuthEndpoint::GrantAdd), ADMIN),
    route("DELETE", &[V1, Is("v1"), Is("users"), Any, Is("grants")], Endpoint::Auth(AuthEndpoint::GrantRemove), ADMIN),
    route("GET", &[V1, Is("v1"), Is("audit")], Endpoint::Auth(AuthEndpoint::Audit), ADMIN),
    route("GET", &[V1, Is("v1"), Is("pages"), Is("roles"), Any], Endpoint::Pages(PagesEndpoint::Role), ADMIN),
    route("PUT", &[V1, Is("v1"), Is("pages"), Is("roles"), Any], Endpoint::Pages(PagesEndpoint::Publish), ADMIN),
    route("DELETE", &[V1, Is("v1"), Is("pages"), Is("roles"), Any], Endpoint::Pages(PagesEndpoint::Unpublish), ADMIN),
];

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Served by `endpoint` for `access`.
    Found {
        /// The endpoint.
        endpoint: Endpoint,
        /// What the caller needs.
        access: Access,
    },
    /// The path is served, but not with this method: 405 with these in `Allow`.
    WrongMethod(Vec<&'static str>),
    /// No such path: 404.
    NotFound,
}

impl Lookup {
    /// What the request needs: the route's access, an admin for anything
    /// the table does not serve.
    pub fn access(&self) -> Access {
        match self {
            Lookup::Found { access, .. } => *access,
            Lookup::WrongMethod(_) | Lookup::NotFound => ADMIN,
        }
    }
}

fn matches(pattern: &[Seg], segments: &[&str]) -> bool {
    match (pattern.split_first(), segments.split_first()) {
        (None, None) | (Some((Rest, _)), _) => true,
        (Some((Is(want), pattern)), Some((got, segments))) if want == got => matches(pattern, segments),
        (Some((Any, pattern)), Some((_, segments))) => matches(pattern, segments),
        _ => false,
    }
}

/// Where `method` on the path `segments` (`["api", "v1", ...]`) goes.
pub fn lookup(method: &Method, segments: &[&str]) -> Lookup {
    let mut allowed = Vec::new();
    for route in ROUTES.iter().filter(|r| matches(r.path, segments)) {
        if route.method == method.as_str() {
            return Lookup::Found { endpoint: route.endpoint, access: route.access };
        }
        allowed.push(route.method);
    }
    if allowed.is_empty() { Lookup::NotFound } else { Lookup::WrongMethod(allowed) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup_path(method: Method, path: &str) -> Lookup {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        lookup(&method, &segments)
    }

    #[test]
    fn the_table_gives_each_endpoint_its_role() {
        let open = Access::Open;
        let role = Access::Role;
        let table = [
            (Method::GET, "/api/v1/health", open),
            (Method::POST, "/api/v1/login", open),
            (Method::GET, "/api/v1/login", role(Admin)),
            (Method::POST, "/api/v1/health", role(Admin)),
            (Method::GET, "/", open),
            (Method::GET, "/ui/app.js", open),
            (Method::HEAD, "/ui/js/views/live.js", open),
            (Method::POST, "/ui/app.js", role(Admin)),
            (Method::GET, "/api/v1/stream", role(Viewer)),
            (Method::GET, "/api/v1/stream/ws", role(Viewer)),
            (Method::POST, "/api/v1/stream/s-1/control", role(Viewer)),
            (Method::GET, "/api/v1/stream/s-1/control", role(Admin)),
            (Method::GET, "/api/v1/session", role(Viewer)),
            (Method::PATCH, "/api/v1/session", role(Viewer)),
            (Method::POST, "/api/v1/logout", role(Viewer)),
            (Method::GET, "/api/v1/meters", role(Viewer)),
            (Method::GET, "/api/v1/meters/gas-1/history", role(Viewer)),
            (Method::GET, "/api/v1/deltas", role(Viewer)),
            (Method::GET, "/api/v1/consumption", role(Viewer)),
            (Method::GET, "/api/v1/devices/d1/latest", role(Viewer)),
            (Method::GET, "/api/v1/readings", role(Viewer)),
            (Method::GET, "/api/v1/modules/m1", role(Viewer)),
            (Method::GET, "/api/v1/forms", role(Viewer)),
            (Method::POST, "/api/v1/forms/manual-reading", role(Viewer)),
            (Method::DELETE, "/api/v1/forms/manual-reading", role(Admin)),
            (Method::GET, "/api/v1/notes", role(Viewer)),
            (Method::PUT, "/api/v1/page", role(Viewer)),
            (Method::PUT, "/api/v1/pages/roles/viewer", role(Admin)),
            (Method::PATCH, "/api/v1/modules/m1", role(Operator)),
            (Method::GET, "/api/v1/plugins", role(Dispatcher)),
            (Method::GET, "/api/v1/drivers", role(Dispatcher)),
            (Method::GET, "/api/v1/drivers/meters/commands", role(Dispatcher)),
            (Method::GET, "/api/v1/drivers/meters/commands/7", role(Dispatcher)),
            (Method::POST, "/api/v1/drivers/meters/commands", role(Operator)),
            (Method::DELETE, "/api/v1/drivers/meters/commands/7", role(Operator)),
            (Method::PUT, "/api/v1/drivers/meters/commands/7", role(Admin)),
            (Method::GET, "/api/v1/stats", role(Dispatcher)),
            (Method::GET, "/api/v1/status", role(Dispatcher)),
            (Method::GET, "/api/v1/quarantine", role(Dispatcher)),
            (Method::GET, "/api/v1/rejections", role(Dispatcher)),
            (Method::GET, "/metrics", role(Dispatcher)),
            (Method::GET, "/api/v1/sinks", role(Dispatcher)),
            (Method::GET, "/api/v1/sinks/pg/dead-letters", role(Dispatcher)),
            (Method::POST, "/api/v1/sinks/pg/dead-letters/resend", role(Operator)),
            (Method::GET, "/api/v1/config", role(Operator)),
            (Method::PATCH, "/api/v1/meters/gas-1", role(Operator)),
            (Method::POST, "/api/v1/meters/gas-1/events", role(Operator)),
            (Method::POST, "/api/v1/meters/gas-1/recompute", role(Operator)),
            (Method::POST, "/api/v1/instances/tcp-in/codec/restart", role(Operator)),
            (Method::POST, "/api/v1/redecode", role(Operator)),
            (Method::GET, "/api/v1/users", role(Admin)),
            (Method::POST, "/api/v1/users", role(Admin)),
            (Method::PATCH, "/api/v1/users/ann", role(Admin)),
            (Method::DELETE, "/api/v1/users/ann/grants", role(Admin)),
            (Method::GET, "/api/v1/audit", role(Admin)),
            (Method::GET, "/api/v1/something-new", role(Admin)),
            (Method::DELETE, "/api/v1/readings", role(Admin)),
            (Method::GET, "/nothing-here", role(Admin)),
        ];
        for (method, path, want) in table {
            assert_eq!(lookup_path(method.clone(), path).access(), want, "{method} {path}");
        }
    }

    #[test]
    fn a_known_path_with_another_method_names_the_allowed_ones_and_an_unknown_path_is_not_found() {
        assert_eq!(lookup_path(Method::DELETE, "/api/v1/readings"), Lookup::WrongMethod(vec!["GET"]));
        assert_eq!(lookup_path(Method::PUT, "/api/v1/users/ann"), Lookup::WrongMethod(vec!["PATCH", "DELETE"]));
        assert_eq!(lookup_path(Method::GET, "/api/v1/meters/a/b/c"), Lookup::NotFound);
        assert_eq!(lookup_path(Method::GET, "/api/v1/readings/x"), Lookup::NotFound);
        assert_eq!(
            lookup_path(Method::GET, "/api/v1/devices/d%201/latest"),
            Lookup::Found { endpoint: Endpoint::DeviceLatest, access: VIEWER }
        );
    }

    #[test]
    fn every_path_has_one_route_per_method() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                let same_path = a.path.len() == b.path.len()
                    && a.path.iter().zip(b.path).all(|(x, y)| match (x, y) {
                        (Is(x), Is(y)) => x == y,
                        (Any, Any) | (Rest, Rest) => true,
                        _ => false,
                    });
                assert!(!(same_path && a.method == b.method), "{} {:?} twice", a.method, a.path);
            }
        }
    }
}
