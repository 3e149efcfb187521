//! Users, sessions and rights end to end: the first run, `meterhub user`
//! through the running host and on the database without one, cookie logins,
//! CSRF and Origin refusals, roles, login throttling, logout, a new password
//! revoking sessions, the audit log, security headers, and a restart that
//! keeps users and sessions.

use serde_json::{Value, json};

use meterhub_testkit::{
    APPLY_DEADLINE, Host, LineClient, Response, add_user, browser, default_config, login, login_ok, plugins_dir,
    reading, request, wait_for,
};

fn error(r: &Response) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_owned()
}

fn assert_security_headers(r: &Response, hsts: bool) {
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{:?}", r.headers);
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let csp = r.header("content-security-policy").expect("a CSP");
    assert!(csp.starts_with("default-src 'self';") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(r.header("strict-transport-security").is_some(), hsts, "{:?}", r.headers);
}

#[test]
fn users_log_in_with_cookies_and_every_request_passes_the_access_check() {
    let mut host = Host::start();
    let api = host.api;

    // First run: the log says how to make the first admin; the API wants a login.
    let log = host.log();
    assert!(log.contains("no users yet: create the first admin with `meterhub user add <name> --role admin"), "{log}");
    let r = request(api, "GET", "/api/v1/session", &[], b"");
    assert_eq!((r.status, r.json()["first_run"].as_bool()), (401, Some(true)), "{}", r.json());
    assert_security_headers(&r, true);
    let r = request(api, "GET", "/api/v1/meters", &[], b"");
    assert_eq!(r.status, 401);
    assert!(error(&r).starts_with("log in first"), "{}", r.json());
    let health = request(api, "GET", "/api/v1/health", &[], b"");
    assert_eq!(health.status, 200, "the health check stays open");
    assert_security_headers(&health, true);

    // The first admin, through the running host (the CLI's local admin token).
    let short = host.cli_with_stdin(&["user", "add", "admin", "--role", "admin", "--password-stdin"], "short\n");
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("at least 10"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
    add_user(&host, &["admin", "--role", "admin"], "admin password one");
    assert_eq!(request(api, "GET", "/api/v1/session", &[], b"").json()["first_run"], false);

    let admin = login_ok(api, "admin", "admin password one");
    let r = login(api, "admin", "admin password one");
    let set_cookie = r.header("set-cookie").unwrap();
    for attribute in ["__Host-meterhub_session=", "; Secure", "; HttpOnly", "; SameSite=Strict", "; Path=/"] {
        assert!(set_cookie.contains(attribute), "{attribute} in {set_cookie}");
    }
    let me = browser(api, &admin, "GET", "/api/v1/session", false, "");
    assert_eq!(me.status, 200);
    assert_eq!((me.json()["user"].as_str(), me.json()["role"].as_str()), (Some("admin"), Some("admin")));
    assert_eq!(me.json()["csrf"].as_str(), Some(admin.csrf.as_str()));
    assert_security_headers(&me, true);

    // A meter to change.
    let mut device = LineClient::connect(host.driver("tcp-in"));
    device.send(reading("gas-1", "volume", 1_772_323_200_000, "\"10\"").as_bytes());
    assert_eq!(device.answer().expect("an answer")["ok"], true);
    wait_for("the meter to be registered", APPLY_DEADLINE, || {
        (host.get("/api/v1/meters/gas-1").0 == 200).then_some(())
    });

    // CSRF: a cookie alone cannot change anything; the token can; a foreign Origin cannot.
    let patch = r#"{"actor":"admin","site":"Kazan-1"}"#;
    let r = browser(api, &admin, "PATCH", "/api/v1/meters/gas-1", false, patch);
    assert_eq!(r.status, 403);
    assert!(error(&r).contains("X-CSRF-Token"), "{}", r.json());
    let r = browser(api, &admin, "PATCH", "/api/v1/meters/gas-1", true, patch);
    assert_eq!(r.status, 200, "{}", r.json());
    let evil =
        [("Cookie", admin.cookie.as_str()), ("Origin", "http://evil.example"), ("X-CSRF-Token", admin.csrf.as_str())];
    let r = request(api, "PATCH", "/api/v1/meters/gas-1", &evil, patch.as_bytes());
    assert_eq!(r.status, 403);
    assert!(error(&r).starts_with("cross-origin request refused"), "{}", r.json());
    let r = request(api, "POST", "/api/v1/login", &[("Origin", "http://evil.example")], b"{}");
    assert_eq!(r.status, 403, "no login form posted from elsewhere");

    // A viewer, added by the admin in the browser, reads data but nothing more.
    let vera = json!({ "name": "vera", "role": "viewer", "password": "vera's password", "grants": ["gas/Kazan-1"] });
    let r = browser(api, &admin, "POST", "/api/v1/users", true, &vera.to_string());
    assert_eq!(r.status, 201, "{}", r.json());
    let r = browser(api, &admin, "POST", "/api/v1/users/vera/grants", true, r#"{"pattern":"gas//"}"#);
    assert_eq!(r.status, 400);
    assert!(error(&r).starts_with("grant pattern \"gas//\""), "{}", r.json());
    let viewer = login_ok(api, "vera", "vera's password");
    assert_eq!(browser(api, &viewer, "GET", "/api/v1/meters", false, "").status, 200);
    let r = browser(api, &viewer, "GET", "/api/v1/status", false, "");
    assert_eq!(r.status, 403);
    assert_eq!(error(&r), "GET /api/v1/status needs the dispatcher role; vera is viewer");
    let r = browser(api, &viewer, "POST", "/api/v1/redecode", true, r#""quarantined""#);
    assert_eq!(r.status, 403);
    assert!(error(&r).contains("needs the operator role"), "{}", r.json());
    assert_eq!(browser(api, &viewer, "GET", "/api/v1/users", false, "").status, 403);

    // Six wrong passwords: the sixth is throttled, with Retry-After.
    for attempt in 1..=5 {
        let r = login(api, "vera", "not her password");
        assert_eq!(r.status, 401, "attempt {attempt}: {}", r.json());
        assert_eq!(error(&r), "wrong user name or password");
    }
    let r = login(api, "vera", "vera's password");
    assert_eq!(r.status, 429, "{}", r.json());
    let retry: u64 = r.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!((1..=900).contains(&retry), "{retry}");
    let r = login(api, "nobody-at-all", "whatever password");
    assert_eq!(r.status, 401, "an unknown name is refused like a wrong password");
    assert_eq!(error(&r), "wrong user name or password");

    // Logging out makes the cookie useless.
    assert_eq!(browser(api, &viewer, "POST", "/api/v1/logout", true, "").status, 200);
    let r = browser(api, &viewer, "GET", "/api/v1/meters", false, "");
    assert_eq!(r.status, 401);
    assert!(error(&r).contains("log in again"), "{}", r.json());

    // A new password (through the CLI) ends the admin's sessions.
    let other_admin = login_ok(api, "admin", "admin password one");
    let out = host.cli_with_stdin(&["user", "passwd", "admin", "--password-stdin"], "admin password two\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for session in [&admin, &other_admin] {
        assert_eq!(browser(api, session, "GET", "/api/v1/session", false, "").status, 401);
    }
    assert_eq!(login(api, "admin", "admin password one").status, 401);
    let admin = login_ok(api, "admin", "admin password two");

    // The CLI's other commands.
    let out = host.cli(&["user", "grant", "vera", "*/*/mod-17"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = host.cli(&["user", "revoke", "vera", "gas/Kazan-1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = host.cli(&["user", "list", "--json"]);
    let users: Value = serde_json::from_slice(&out.stdout).expect("user list --json prints JSON");
    assert_eq!(users[1]["name"], "vera", "{users}");
    assert_eq!(users[1]["grants"], json!(["*/*/mod-17"]), "{users}");
    let out = host.cli(&["user", "revoke", "vera", "gas"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no grant \"gas\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The audit log has seen all of it, newest first.
    let audit = browser(api, &admin, "GET", "/api/v1/audit?limit=1000", false, "");
    assert_eq!(audit.status, 200);
    let entries = audit.json();
    let seen: Vec<(String, String, String)> = entries
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_owned();
            (s("action"), s("actor"), s("target") + &s("detail"))
        })
        .collect();
    let has = |action: &str, actor: &str, what: &str| {
        assert!(
            seen.iter().any(|(a, b, c)| a == action && b == actor && c.contains(what)),
            "{action} by {actor} ({what}) in {seen:#?}"
        );
    };
    has("user_add", "local", "admin");
    has("login", "admin", "");
    has("user_add", "admin", "vera");
    has("login_failed", "vera", "wrong password");
    has("login_failed", "nobody-at-all", "unknown user");
    has("logout", "vera", "");
    has("passwd", "local", "admin");
    has("grant", "local", "*/*/mod-17");
    has("revoke", "local", "gas/Kazan-1");
    assert_eq!(entries[0]["action"], "revoke");
    assert!(entries[0]["at"].as_str().is_some_and(|t| t.ends_with('Z')), "{}", entries[0]);
    let older = browser(api, &admin, "GET", &format!("/api/v1/audit?limit=1&before={}", entries[0]["seq"]), false, "");
    assert_eq!(older.json()[0], entries[1]);
    assert_eq!(browser(api, &viewer, "GET", "/api/v1/audit", false, "").status, 401);

    // A restart keeps users and sessions; without a host the CLI works on the database.
    host.stop();
    add_user(&host, &["olga", "--role", "operator", "--grant", "*"], "olga's password");
    host.restart();
    let api = host.api;
    let me = browser(api, &admin, "GET", "/api/v1/session", false, "");
    assert_eq!(me.status, 200, "the session from before the restart: {}", me.json());
    assert_eq!(
        browser(api, &admin, "PATCH", "/api/v1/meters/gas-1", true, r#"{"actor":"admin","site":"Kazan-2"}"#).status,
        200
    );
    let olga = login_ok(api, "olga", "olga's password");
    assert_eq!(browser(api, &olga, "GET", "/api/v1/config", false, "").status, 200, "an operator reads the config");
    login_ok(api, "admin", "admin password two");
    let audit = host.get_ok("/api/v1/audit");
    assert!(
        audit.as_array().unwrap().iter().any(|e| e["action"] == "user_add"
            && e["target"] == "olga"
            && e["actor"].as_str().is_some_and(|a| a.starts_with("cli:"))),
        "{audit}"
    );
}

#[test]
fn cookie_secure_false_drops_the_host_prefix_secure_and_hsts() {
    let config = default_config(&plugins_dir("wasm")) + "\n[web]\ncookie_secure = false\nsession_idle_minutes = 30\n";
    let host = Host::start_with(&config);
    assert!(host.log().contains("cookie_secure = false"), "a warning at start");
    add_user(&host, &["ann", "--role", "viewer"], "ann's password");
    let r = login(host.api, "ann", "ann's password");
    assert_eq!(r.status, 200, "{}", r.json());
    let set_cookie = r.header("set-cookie").unwrap();
    assert!(set_cookie.starts_with("meterhub_session="), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    assert_security_headers(&r, false);
}
