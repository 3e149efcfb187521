//! The service as a whole: logins, sessions against an injected clock, the
//! access check, revocation and its announcements.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use hyper::{HeaderMap, Method};

use super::cookie::CookiePolicy;
use super::password::PasswordHashing;
use super::session::SessionPolicy;
use super::store::UserStore;
use super::*;

const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
const HOUR: i64 = 3_600_000;

struct Fixture {
    _dir: tempfile::TempDir,
    auth: Auth,
    now: Arc<AtomicI64>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = UserStore::open(&dir.path().join("users")).unwrap();
    let now = Arc::new(AtomicI64::new(1_000 * HOUR));
    let clock = now.clone();
    let settings = AuthSettings {
        sessions: SessionPolicy::default(),
        cookie: CookiePolicy { secure: true, max_age_s: 7 * 24 * 3600 },
        trusted_proxies: Vec::new(),
        audit_max_entries: 1000,
    };
    let auth = Auth::with_parts(
        store,
        PasswordHashing::cheap(),
        settings,
        Some("local-secret".into()),
        Arc::new(move || clock.load(Ordering::SeqCst)),
    );
    Fixture { _dir: dir, auth, now }
}

fn admin() -> Actor {
    Actor { name: "root-admin".into(), address: None }
}

fn cookie(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("cookie", format!("__Host-meterhub_session={token}").parse().unwrap());
    h.insert("host", "127.0.0.1:8080".parse().unwrap());
    h
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').skip(1).collect()
}

fn authorize(auth: &Auth, method: Method, path: &str, headers: &HeaderMap) -> Result<Option<Principal>, Refusal> {
    // The access each path needs comes from the API's one route table.
    let access = crate::api::table::lookup(&method, &segments(path)).access();
    auth.authorize(&method, path, access, headers)
}

#[test]
fn a_session_is_open_until_it_expires_or_logs_out() {
    let f = fixture();
    f.auth.add_user(&admin(), "ann", Role::Viewer, "ann's long password", &[]).unwrap();
    let first = f.auth.login("ann", "ann's long password", IP).unwrap();
    let second = f.auth.login("ann", "ann's long password", IP).unwrap();
    let id = |p: &Principal| p.session_id().expect("a session").to_owned();
    assert!(f.auth.session_open(&id(&first.principal)));
    f.auth.logout(&first.principal, None).unwrap();
    assert!(!f.auth.session_open(&id(&first.principal)), "logged out");
    assert!(f.auth.session_open(&id(&second.principal)));
    f.now.fetch_add(8 * 24 * HOUR, Ordering::SeqCst);
    assert!(!f.auth.session_open(&id(&second.principal)), "past the absolute lifetime");
    assert!(!f.auth.session_open("no-such-session"));
}

#[test]
fn a_login_makes_a_session_that_the_cookie_carries_until_logout() {
    let f = fixture();
    assert!(f.auth.first_run().unwrap());
    let refusal = authorize(&f.auth, Method::GET, "/api/v1/session", &HeaderMap::new()).unwrap_err();
    assert_eq!(refusal, Refusal::LogIn { message: "log in first (POST /api/v1/login)".into(), first_run: true });
    f.auth.add_user(&admin(), "ann", Role::Viewer, "ann's long password", &["gas".into()]).unwrap();
    assert!(!f.auth.first_run().unwrap());

    assert!(matches!(f.auth.login("ann", "wrong password!", IP), Err(LoginError::Refused)));
    assert!(matches!(f.auth.login("nobody", "ann's long password", IP), Err(LoginError::Refused)));
    let logged_in = f.auth.login("ann", "ann's long password", IP).unwrap();
    assert_eq!(logged_in.principal.grants, vec![GrantPattern::parse("gas").unwrap()]);
    let headers = cookie(&logged_in.token);
    let me = authorize(&f.auth, Method::GET, "/api/v1/readings", &headers).unwrap().unwrap();
    assert_eq!((me.user.as_str(), me.role), ("ann", Role::Viewer));
    assert_eq!(me.credential, logged_in.principal.credential);

    // A viewer may not read the plant's status, nor change anything.
    let Refusal::Forbidden(why) = authorize(&f.auth, Method::GET, "/api/v1/status", &headers).unwrap_err() else {
        panic!("expected 403")
    };
    assert_eq!(why, "GET /api/v1/status needs the dispatcher role; ann is viewer");

    let mut changes = f.auth.changes();
    f.auth.logout(&me, None).unwrap();
    assert_eq!(
        changes.try_recv().unwrap(),
        UserChange::LoggedOut { user: "ann".into(), session: me.session_id().unwrap().into() }
    );
    let after = authorize(&f.auth, Method::GET, "/api/v1/readings", &headers).unwrap_err();
    assert!(matches!(after, Refusal::LogIn { first_run: false, .. }), "{after:?}");

    let log = f.auth.audit_log(10, None).unwrap();
    let actions: Vec<(&str, Option<&str>)> = log.iter().map(|e| (e.action.as_str(), e.detail.as_deref())).collect();
    assert_eq!(
        actions,
        [
            ("logout", None),
            ("login", None),
            ("login_failed", Some("unknown user")),
            ("login_failed", Some("wrong password")),
            ("user_add", Some("role viewer, grants [gas]")),
        ]
    );
    assert_eq!(log[1].address.as_deref(), Some("127.0.0.1"));
}

#[test]
fn sessions_expire_idle_and_at_their_maximum_age() {
    let f = fixture();
    f.auth.add_user(&admin(), "ann", Role::Viewer, "ann's long password", &[]).unwrap();
    let token = f.auth.login("ann", "ann's long password", IP).unwrap().token;
    let headers = cookie(&token);
    // Used every 11 hours: never idle for 12, but 7 days is the end.
    for _ in 0..15 {
        f.now.fetch_add(11 * HOUR, Ordering::SeqCst);
        assert!(authorize(&f.auth, Method::GET, "/api/v1/meters", &headers).is_ok());
    }
    f.now.fetch_add(11 * HOUR, Ordering::SeqCst);
    let Refusal::LogIn { message, .. } = authorize(&f.auth, Method::GET, "/api/v1/meters", &headers).unwrap_err()
    else {
        panic!("expected 401")
    };
    assert_eq!(message, "the session reached its maximum age; log in again");

    let token = f.auth.login("ann", "ann's long password", IP).unwrap().token;
    f.now.fetch_add(12 * HOUR, Ordering::SeqCst);
    let Refusal::LogIn { message, .. } =
        authorize(&f.auth, Method::GET, "/api/v1/meters", &cookie(&token)).unwrap_err()
    else {
        panic!("expected 401")
    };
    assert_eq!(message, "the session was idle too long; log in again");
}

#[test]
fn state_changes_by_cookie_need_the_csrf_token_and_the_local_token_does_not() {
    let f = fixture();
    f.auth.add_user(&admin(), "olga", Role::Operator, "olga's long password", &["*".into()]).unwrap();
    let logged_in = f.auth.login("olga", "olga's long password", IP).unwrap();
    let mut headers = cookie(&logged_in.token);
    let refused = authorize(&f.auth, Method::PATCH, "/api/v1/meters/gas-1", &headers).unwrap_err();
    assert!(
        matches!(&refused, Refusal::Forbidden(m) if m.starts_with("PATCH needs the X-CSRF-Token header")),
        "{refused:?}"
    );
    headers.insert("x-csrf-token", logged_in.csrf.parse().unwrap());
    assert!(authorize(&f.auth, Method::PATCH, "/api/v1/meters/gas-1", &headers).is_ok());
    headers.insert("origin", "http://evil.example".parse().unwrap());
    assert!(matches!(
        authorize(&f.auth, Method::PATCH, "/api/v1/meters/gas-1", &headers),
        Err(Refusal::Forbidden(m)) if m.starts_with("cross-origin request refused")
    ));

    let mut bearer = HeaderMap::new();
    bearer.insert("authorization", "Bearer local-secret".parse().unwrap());
    let local = authorize(&f.auth, Method::DELETE, "/api/v1/users/olga", &bearer).unwrap().unwrap();
    assert_eq!((local.user.as_str(), local.role), ("local", Role::Admin));
    bearer.insert("authorization", "Bearer guess".parse().unwrap());
    assert!(matches!(authorize(&f.auth, Method::GET, "/api/v1/meters", &bearer), Err(Refusal::LogIn { .. })));
    // Open endpoints need nothing, and a stale cookie does not get in the way.
    assert_eq!(authorize(&f.auth, Method::GET, "/api/v1/health", &HeaderMap::new()), Ok(None));
    assert_eq!(authorize(&f.auth, Method::POST, "/api/v1/login", &cookie("stale")), Ok(None));
}

#[test]
fn a_new_password_or_removal_revokes_sessions_and_a_new_role_applies_at_once() {
    let f = fixture();
    f.auth.add_user(&admin(), "ann", Role::Viewer, "ann's long password", &[]).unwrap();
    let mut changes = f.auth.changes();
    let first = cookie(&f.auth.login("ann", "ann's long password", IP).unwrap().token);
    let second = cookie(&f.auth.login("ann", "ann's long password", IP).unwrap().token);
    assert_eq!(f.auth.user("ann").unwrap().sessions, 2);

    f.auth.set_role(&admin(), "ann", Role::Dispatcher).unwrap();
    assert_eq!(changes.try_recv().unwrap(), UserChange::RightsChanged { user: "ann".into() });
    assert!(authorize(&f.auth, Method::GET, "/api/v1/status", &first).is_ok(), "the new role, same session");
    f.auth.grant(&admin(), "ann", "*/Kazan-1").unwrap();
    assert_eq!(changes.try_recv().unwrap(), UserChange::RightsChanged { user: "ann".into() });
    let me = authorize(&f.auth, Method::GET, "/api/v1/meters", &first).unwrap().unwrap();
    assert!(me.may_see(&MeterPath { site: Some("Kazan-1".into()), ..MeterPath::default() }));
    let e = f.auth.revoke(&admin(), "ann", "gas").unwrap_err().to_string();
    assert_eq!(e, "user \"ann\" has no grant \"gas\" (grants: [*/Kazan-1])");
    f.auth.revoke(&admin(), "ann", "*/Kazan-1").unwrap();
    let _ = changes.try_recv();

    f.auth.set_password(&admin(), "ann", "a brand new password").unwrap();
    assert_eq!(changes.try_recv().unwrap(), UserChange::SessionsRevoked { user: "ann".into() });
    for headers in [&first, &second] {
        assert!(matches!(authorize(&f.auth, Method::GET, "/api/v1/meters", headers), Err(Refusal::LogIn { .. })));
    }
    assert!(matches!(f.auth.login("ann", "ann's long password", IP), Err(LoginError::Refused)));
    let third = cookie(&f.auth.login("ann", "a brand new password", IP).unwrap().token);
    f.auth.set_disabled(&admin(), "ann", true).unwrap();
    assert!(matches!(authorize(&f.auth, Method::GET, "/api/v1/meters", &third), Err(Refusal::LogIn { .. })));
    assert!(matches!(f.auth.login("ann", "a brand new password", IP), Err(LoginError::Refused)));
    f.auth.remove_user(&admin(), "ann").unwrap();
    assert!(f.auth.users().unwrap().is_empty());
    assert!(matches!(f.auth.remove_user(&admin(), "ann"), Err(AuthError::UnknownUser(_))));
}

#[test]
fn bad_users_are_refused_saying_why() {
    let f = fixture();
    let add = |name: &str, password: &str, grants: &[String]| {
        f.auth.add_user(&admin(), name, Role::Viewer, password, grants).unwrap_err().to_string()
    };
    assert_eq!(add("ann", "short", &[]), "the password is too short: 5 characters, at least 10");
    assert!(add("local", "long enough password", &[]).contains("built-in admin"));
    assert!(add("a b", "long enough password", &[]).contains("letters, digits"));
    assert!(add("ann", "long enough password", &["gas//x".into()]).starts_with("grant pattern \"gas//x\""));
    f.auth.add_user(&admin(), "ann", Role::Viewer, "long enough password", &[]).unwrap();
    assert_eq!(add("ann", "long enough password", &[]), "user \"ann\" exists already");
}

#[test]
fn repeated_failures_throttle_the_name_and_success_resets_it() {
    let f = fixture();
    f.auth.add_user(&admin(), "ann", Role::Viewer, "ann's long password", &[]).unwrap();
    for _ in 0..4 {
        assert!(matches!(f.auth.login("ann", "wrong password", IP), Err(LoginError::Refused)));
    }
    f.auth.login("ann", "ann's long password", IP).unwrap();
    for _ in 0..5 {
        assert!(matches!(f.auth.login("ann", "wrong password", IP), Err(LoginError::Refused)));
    }
    assert!(matches!(f.auth.login("ann", "ann's long password", IP), Err(LoginError::Throttled(30))));
    f.now.fetch_add(30_000, Ordering::SeqCst);
    f.auth.login("ann", "ann's long password", IP).unwrap();
}

#[test]
fn each_user_keeps_the_language_they_chose_across_sessions() {
    let f = fixture();
    f.auth.add_user(&admin(), "ann", Role::Viewer, "ann's long password", &[]).unwrap();
    f.auth.add_user(&admin(), "bob", Role::Viewer, "bob's long password", &[]).unwrap();
    let logged_in = f.auth.login("ann", "ann's long password", IP).unwrap();
    let mut headers = cookie(&logged_in.token);
    assert!(
        matches!(authorize(&f.auth, Method::PATCH, "/api/v1/session", &headers), Err(Refusal::Forbidden(_))),
        "a cookie alone may not change it"
    );
    headers.insert("x-csrf-token", logged_in.csrf.parse().unwrap());
    let ann = authorize(&f.auth, Method::PATCH, "/api/v1/session", &headers).unwrap().expect("a viewer may");
    assert_eq!(f.auth.language(&ann).unwrap(), Language::Ru, "Russian by default");
    assert_eq!(f.auth.set_language(&ann, Language::En).unwrap(), Language::En);
    let again = f.auth.login("ann", "ann's long password", IP).unwrap().principal;
    assert_eq!(f.auth.language(&again).unwrap(), Language::En, "a new session has it too");
    let bob = f.auth.login("bob", "bob's long password", IP).unwrap().principal;
    assert_eq!(f.auth.language(&bob).unwrap(), Language::Ru, "another user's is their own");
    assert!(f.auth.audit_log(100, None).unwrap().iter().all(|e| e.action != "language"), "not an admin change");

    let local = Principal::local_admin();
    assert_eq!(f.auth.language(&local).unwrap(), Language::Ru);
    let e = f.auth.set_language(&local, Language::En).unwrap_err().to_string();
    assert!(e.contains("no user record"), "{e}");
}

#[test]
fn the_last_enabled_admin_cannot_be_removed_demoted_or_disabled() {
    let f = fixture();
    f.auth.add_user(&admin(), "ann", Role::Admin, "ann's long password", &[]).unwrap();
    f.auth.add_user(&admin(), "bob", Role::Operator, "bob's long password", &[]).unwrap();
    let refused = |result: Result<(), AuthError>| match result {
        Err(AuthError::Invalid(message)) => assert!(message.contains("last enabled admin"), "{message}"),
        other => panic!("not refused: {other:?}"),
    };
    refused(f.auth.remove_user(&admin(), "ann"));
    refused(f.auth.set_role(&admin(), "ann", Role::Operator).map(drop));
    refused(f.auth.set_disabled(&admin(), "ann", true).map(drop));
    assert_eq!(f.auth.user("ann").unwrap().role, Role::Admin, "unchanged");
    // With a second admin, either may go.
    f.auth.set_role(&admin(), "bob", Role::Admin).unwrap();
    f.auth.set_disabled(&admin(), "ann", true).unwrap();
    refused(f.auth.remove_user(&admin(), "bob"));
    f.auth.set_disabled(&admin(), "ann", false).unwrap();
    f.auth.remove_user(&admin(), "bob").unwrap();
    // Other users are never held back.
    f.auth.add_user(&admin(), "cid", Role::Viewer, "cid's long password", &[]).unwrap();
    f.auth.remove_user(&admin(), "cid").unwrap();
}
