//! The one table of rights: which role a request needs, by method and path.
//! `api::routes` asks [`required`] before any handler runs; nothing else
//! decides who may call what.
//!
//! Deny by default: a path not in the table needs an admin (so a new
//! endpoint nobody put here is not open to viewers by accident).

use hyper::Method;

use super::role::Role;

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing: `GET /api/v1/health` (load balancers) and the login.
    Open,
    /// A logged-in user whose role includes this one.
    Role(Role),
}

/// What `method` on the path `segments` (`["api", "v1", ...]`) needs.
pub fn required(method: &Method, segments: &[&str]) -> Access {
    use Role::*;
    let read = *method == Method::GET || *method == Method::HEAD;
    let needs = match (read, segments) {
        (true, ["api", "v1", "health"]) => return Access::Open,
        (false, ["api", "v1", "login"]) if *method == Method::POST => return Access::Open,
        // The dispatcher UI's files (the page asks the API for everything else).
        (true, [] | ["ui", ..]) => return Access::Open,
        // Live streams (filtered by grants) and their control requests.
        (true, ["api", "v1", "stream"] | ["api", "v1", "stream", "ws"]) => Viewer,
        (false, ["api", "v1", "stream", _, "control"]) if *method == Method::POST => Viewer,
        // Anyone logged in: who am I, log out.
        (_, ["api", "v1", "session" | "logout"]) => Viewer,
        // Meter data, filtered by grants.
        (true, ["api", "v1", "meters" | "deltas" | "consumption" | "devices" | "readings" | "modules", ..]) => Viewer,
        // The plant: plugins, drivers, counters, what failed.
        (
            true,
            ["api", "v1", "plugins" | "drivers" | "stats" | "status" | "quarantine" | "rejections"] | ["metrics"],
        ) => Dispatcher,
        // Changing things, and the configuration.
        (true, ["api", "v1", "config"]) => Operator,
        (
            false,
            ["api", "v1", "meters", ..]
            | ["api", "v1", "modules", _]
            | ["api", "v1", "instances", ..]
            | ["api", "v1", "redecode"],
        ) => Operator,
        // Users and the audit log; and anything not listed above.
        _ => Admin,
    };
    Access::Role(needs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(method: Method, path: &str) -> Access {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        required(&method, &segments)
    }

    #[test]
    fn the_table_gives_each_endpoint_its_role() {
        use Role::*;
        let open = Access::Open;
        let role = Access::Role;
        let table = [
            (Method::GET, "/api/v1/health", open),
            (Method::POST, "/api/v1/login", open),
            (Method::GET, "/api/v1/login", role(Admin)),
            (Method::POST, "/api/v1/health", role(Admin)),
            (Method::GET, "/", open),
            (Method::GET, "/ui/app.js", open),
            (Method::POST, "/ui/app.js", role(Admin)),
            (Method::GET, "/api/v1/stream", role(Viewer)),
            (Method::GET, "/api/v1/stream/ws", role(Viewer)),
            (Method::POST, "/api/v1/stream/s-1/control", role(Viewer)),
            (Method::GET, "/api/v1/stream/s-1/control", role(Admin)),
            (Method::GET, "/api/v1/session", role(Viewer)),
            (Method::POST, "/api/v1/logout", role(Viewer)),
            (Method::GET, "/api/v1/meters", role(Viewer)),
            (Method::GET, "/api/v1/meters/gas-1/history", role(Viewer)),
            (Method::GET, "/api/v1/deltas", role(Viewer)),
            (Method::GET, "/api/v1/consumption", role(Viewer)),
            (Method::GET, "/api/v1/devices/d1/latest", role(Viewer)),
            (Method::GET, "/api/v1/readings", role(Viewer)),
            (Method::GET, "/api/v1/modules/m1", role(Viewer)),
            (Method::PATCH, "/api/v1/modules/m1", role(Operator)),
            (Method::GET, "/api/v1/plugins", role(Dispatcher)),
            (Method::GET, "/api/v1/drivers", role(Dispatcher)),
            (Method::GET, "/api/v1/stats", role(Dispatcher)),
            (Method::GET, "/api/v1/status", role(Dispatcher)),
            (Method::GET, "/api/v1/quarantine", role(Dispatcher)),
            (Method::GET, "/api/v1/rejections", role(Dispatcher)),
            (Method::GET, "/metrics", role(Dispatcher)),
            (Method::GET, "/api/v1/config", role(Operator)),
            (Method::PATCH, "/api/v1/meters/gas-1", role(Operator)),
            (Method::POST, "/api/v1/meters/gas-1/events", role(Operator)),
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
            assert_eq!(needs(method.clone(), path), want, "{method} {path}");
        }
    }
}
