//! [`Auth`]: the users-and-rights service the API holds: who a request is
//! ([`Auth::authorize`], the one access check), logins and logouts, user
//! administration with its audit, and the announcement of changed rights.
//! The command line uses the same service on the database when no host runs.

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use hyper::header::AUTHORIZATION;
use hyper::{HeaderMap, Method};
use serde::Serialize;
use tokio::sync::broadcast;

use super::cookie::CookiePolicy;
use super::error::AuthError;
use super::grant::GrantPattern;
use super::language::Language;
use super::password::PasswordHashing;
use super::principal::{Credential, LOCAL_ADMIN, Principal};
use super::rate_limit::LoginLimiter;
use super::rights::Access;
use super::role::Role;
use super::session::SessionPolicy;
use super::store::{AuditEntry, SessionRecord, UserRecord, UserStore};
use super::{csrf, local_token, token};

/// Milliseconds since the epoch; injectable for tests.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Longest user name, characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A change that open streams of a user must react to within a second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChange {
    /// The user's role or grants changed: re-check their subscriptions.
    RightsChanged {
        /// The user.
        user: String,
    },
    /// Every session of the user was revoked (password changed, disabled,
    /// removed): close their streams.
    SessionsRevoked {
        /// The user.
        user: String,
    },
    /// One session logged out: close its streams.
    LoggedOut {
        /// The user.
        user: String,
        /// The session id (SHA-256 of its token, hex).
        session: String,
    },
}

/// Why a request is not let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 401: no valid credentials. `first_run` when there is no user yet.
    LogIn {
        /// What to do.
        message: String,
        /// No user exists yet.
        first_run: bool,
    },
    /// 403: logged in, but not allowed (role, CSRF, Origin).
    Forbidden(String),
    /// 500: the user database failed.
    Failed(String),
}

/// Why a login failed.
#[derive(Debug)]
pub enum LoginError {
    /// Too many failures: try again in this many seconds (429).
    Throttled(u64),
    /// Wrong name or password, or a disabled user (401; the reason is only
    /// in the audit log).
    Refused,
    /// The user database failed.
    Store(AuthError),
}

impl From<AuthError> for LoginError {
    fn from(e: AuthError) -> Self {
        LoginError::Store(e)
    }
}

/// A successful login.
#[derive(Debug)]
pub struct LoggedIn {
    /// Who.
    pub principal: Principal,
    /// The session token for the cookie (never stored).
    pub token: String,
    /// The CSRF token of the session.
    pub csrf: String,
}

/// Who makes an administrative change, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    /// User name, or `cli:$USER` on the command line without a host.
    pub name: String,
    /// Client address, when over the network.
    pub address: Option<String>,
}

/// A user as the API and the command line show it (never the hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Grant patterns.
    pub grants: Vec<GrantPattern>,
    /// When added, RFC 3339.
    pub created: String,
    /// Whether the user may not log in.
    pub disabled: bool,
    /// Open sessions.
    pub sessions: usize,
}

/// Session and cookie settings (from `[web]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// Session lifetimes.
    pub sessions: SessionPolicy,
    /// Session cookie.
    pub cookie: CookiePolicy,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Most audit entries kept.
    pub audit_max_entries: usize,
}

impl AuthSettings {
    /// From the validated `[web]` section.
    pub fn of(web: &crate::config::WebConfig) -> AuthSettings {
        AuthSettings {
            sessions: SessionPolicy::new(web.session_idle_minutes, web.session_max_hours),
            cookie: CookiePolicy { secure: web.cookie_secure, max_age_s: i64::from(web.session_max_hours) * 3600 },
            trusted_proxies: web.trusted_proxies.clone(),
            audit_max_entries: web.audit_max_entries as usize,
        }
    }
}

/// The users-and-rights service. `Send + Sync`.
pub struct Auth {
    store: UserStore,
    hashing: PasswordHashing,
    settings: AuthSettings,
    local_token: Option<String>,
    limiter: Mutex<LoginLimiter>,
    changes: broadcast::Sender<UserChange>,
    clock: Clock,
    /// Serializes read-modify-write of user records.
    write_lock: Mutex<()>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// An admin who can log in.
fn active_admin(user: &UserRecord) -> bool {
    user.role == Role::Admin && !user.disabled
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The user database directory in `data_dir`.
pub fn users_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("users")
}

/// Checks a new user name: 1 to 64 letters, digits, `.`, `_`, `-`, `@`;
/// not the built-in `local`.
pub fn check_name(name: &str) -> Result<(), AuthError> {
    let count = name.chars().count();
    if count == 0 || count > MAX_NAME_CHARS {
        return Err(AuthError::Invalid(format!("user name {name:?}: 1 to {MAX_NAME_CHARS} characters")));
    }
    if !name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')) {
        return Err(AuthError::Invalid(format!("user name {name:?}: letters, digits, '.', '_', '-' or '@' only")));
    }
    if name == LOCAL_ADMIN {
        return Err(AuthError::Invalid(format!(
            "user name {LOCAL_ADMIN:?} is the built-in admin of the local admin token"
        )));
    }
    Ok(())
}

impl Auth {
    /// The service on the database `<data_dir>/users` with the OWASP hash
    /// parameters and the real clock; `local_token` is the host's local admin
    /// token (none on the command line).
    pub fn open(data_dir: &Path, settings: AuthSettings, local_token: Option<String>) -> Result<Auth, AuthError> {
        let store = UserStore::open(&users_dir(data_dir))?;
        Ok(Auth::with_parts(
            store,
            PasswordHashing::owasp(),
            settings,
            local_token,
            Arc::new(meterhub_storage::clock::now_ms),
        ))
    }

    /// The service from its parts (tests inject hashing and clock).
    pub fn with_parts(
        store: UserStore,
        hashing: PasswordHashing,
        settings: AuthSettings,
        local_token: Option<String>,
        clock: Clock,
    ) -> Auth {
        store.set_audit_limit(settings.audit_max_entries);
        Auth {
            store,
            hashing,
            settings,
            local_token,
            limiter: Mutex::new(LoginLimiter::default()),
            changes: broadcast::channel(1024).0,
            clock,
            write_lock: Mutex::new(()),
        }
    }

    /// Announcements of changed rights, revoked sessions and logouts.
    pub fn changes(&self) -> broadcast::Receiver<UserChange> {
        self.changes.subscribe()
    }

    fn announce(&self, change: UserChange) {
        // No receiver is fine: no stream is open.
        let _ = self.changes.send(change);
    }

    /// Session and cookie settings.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// The client's address: `peer`, or the one a trusted reverse proxy
    /// forwarded ([`super::client_address`]).
    pub fn client_address(&self, peer: IpAddr, headers: &hyper::HeaderMap) -> IpAddr {
        super::client_address::of(peer, headers, &self.settings.trusted_proxies)
    }

    /// Whether no user exists yet.
    pub fn first_run(&self) -> Result<bool, AuthError> {
        self.store.is_empty()
    }

    /// Damage found in the user database's files before it was opened.
    pub fn damage(&self) -> Option<&meterhub_storage::integrity::Damage> {
        self.store.damage()
    }

    /// Closes the user database for good at a clean stop and seals it.
    pub fn close(&self) {
        self.store.close();
    }

    /// Flushes the database.
    pub fn flush(&self) -> Result<(), AuthError> {
        self.store.flush()
    }

    fn log_in_first(&self, message: impl Into<String>) -> Refusal {
        Refusal::LogIn { message: message.into(), first_run: self.first_run().unwrap_or(false) }
    }

    /// The one access check of every API request: `method` on `path` needs
    /// `access` (from the API's route table), and this checks who the
    /// request is, their role, and the CSRF and Origin checks. `Ok(None)`
    /// for an open endpoint.
    pub fn authorize(
        &self,
        method: &Method,
        path: &str,
        access: Access,
        headers: &HeaderMap,
    ) -> Result<Option<Principal>, Refusal> {
        let needed = match access {
            Access::Open => {
                // The login form may only be posted from this host's pages.
                if !csrf::origin_matches_host(headers) {
                    return Err(Refusal::Forbidden("cross-origin request refused: Origin is not this host".into()));
                }
                return Ok(None);
            }
            Access::Role(role) => role,
            // Checked by the center's receiver against the site's token.
            Access::Site => return Ok(None),
        };
        let Some(principal) = self.authenticate(headers)? else {
            return Err(self.log_in_first("log in first (POST /api/v1/login)"));
        };
        if !principal.role.includes(needed) {
            return Err(Refusal::Forbidden(format!(
                "{method} {path} needs the {needed} role; {} is {}",
                principal.user, principal.role
            )));
        }
        csrf::check(method, headers, &principal).map_err(Refusal::Forbidden)?;
        Ok(Some(principal))
    }

    /// Who the request's credentials say it is: the local admin token or a
    /// live session cookie; `Ok(None)` without credentials.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>, Refusal> {
        if let Some(header) = headers.get(AUTHORIZATION) {
            let sent = header.to_str().ok().and_then(local_token::bearer);
            return match (sent, &self.local_token) {
                (Some(sent), Some(local)) if token::same(sent, local) => Ok(Some(Principal::local_admin())),
                _ => Err(self.log_in_first("the Authorization header is not this host's local admin token")),
            };
        }
        let Some(cookie) = self.settings.cookie.token(headers) else { return Ok(None) };
        let id = token::digest(&cookie);
        let failed = |e: AuthError| Refusal::Failed(e.to_string());
        let Some(mut session) = self.store.session(&id).map_err(failed)? else {
            return Err(self.log_in_first("the session has ended; log in again"));
        };
        let now = (self.clock)();
        if let Some(why) = self.settings.sessions.expired(&session, now) {
            self.store.remove_session(&id).map_err(failed)?;
            return Err(self.log_in_first(format!("{why}; log in again")));
        }
        let user = match self.store.user(&session.user).map_err(failed)? {
            Some(user) if !user.disabled => user,
            _ => {
                self.store.remove_session(&id).map_err(failed)?;
                return Err(self.log_in_first("the session's user was disabled or removed"));
            }
        };
        if self.settings.sessions.needs_touch(&session, now) {
            session.last_seen_ms = now;
            self.store.touch_session(&id, &session).map_err(failed)?;
        }
        Ok(Some(Principal {
            user: user.name,
            role: user.role,
            grants: user.grants,
            credential: Credential::Session { id, csrf: session.csrf },
        }))
    }

    /// The current rights of `user` proving itself with `credential` (a
    /// stream's user, rechecked): `None` when the user was disabled or
    /// removed.
    pub fn principal_of(&self, user: &str, credential: Credential) -> Result<Option<Principal>, AuthError> {
        if credential == Credential::LocalToken {
            return Ok(Some(Principal::local_admin()));
        }
        Ok(self.store.user(user)?.filter(|u| !u.disabled).map(|u| Principal {
            user: u.name,
            role: u.role,
            grants: u.grants,
            credential,
        }))
    }

    /// Whether session `id` (the token's digest) is still open.
    pub fn session_open(&self, id: &str) -> bool {
        matches!(self.store.session(id), Ok(Some(session)) if self.settings.sessions.expired(&session, (self.clock)()).is_none())
    }

    /// Logs `name` in with `password` from `address`: a new session. Slow
    /// (argon2): call it from a blocking thread. An unknown name costs what
    /// a wrong password costs.
    pub fn login(&self, name: &str, password: &str, address: IpAddr) -> Result<LoggedIn, LoginError> {
        let now = (self.clock)();
        if let Err(wait_s) = lock(&self.limiter).check(address, name, now) {
            tracing::warn!(user = %name, %address, retry_after_s = wait_s, "login refused: too many failures");
            return Err(LoginError::Throttled(wait_s));
        }
        let user = if check_name(name).is_ok() { self.store.user(name)? } else { None };
        let failure = match &user {
            None => {
                self.hashing.verify_dummy(password);
                Some("unknown user")
            }
            Some(u) if !self.hashing.verify(&u.password_hash, password) => Some("wrong password"),
            Some(u) if u.disabled => Some("user disabled"),
            Some(_) => None,
        };
        let actor = Actor { name: name.to_owned(), address: Some(address.to_string()) };
        if let Some(reason) = failure {
            lock(&self.limiter).failed(address, name, now);
            tracing::info!(user = %name, %address, reason, "login failed");
            self.audit(&actor, "login_failed", None, Some(reason.to_owned()))?;
            return Err(LoginError::Refused);
        }
        let Some(user) = user else { return Err(LoginError::Refused) };
        lock(&self.limiter).succeeded(address, name);
        let (session_token, csrf) = (token::random_token(), token::random_token());
        let id = token::digest(&session_token);
        let record = SessionRecord {
            user: user.name.clone(),
            csrf: csrf.clone(),
            created_ms: now,
            last_seen_ms: now,
            address: address.to_string(),
        };
        self.store.put_session(&id, &record)?;
        self.audit(&actor, "login", None, None)?;
        tracing::info!(user = %name, %address, "logged in");
        let principal = Principal {
            user: user.name,
            role: user.role,
            grants: user.grants,
            credential: Credential::Session { id, csrf: csrf.clone() },
        };
        Ok(LoggedIn { principal, token: session_token, csrf })
    }

    /// Ends `principal`'s session (nothing for the local admin token).
    pub fn logout(&self, principal: &Principal, address: Option<String>) -> Result<(), AuthError> {
        let Some(id) = principal.session_id() else { return Ok(()) };
        if self.store.remove_session(id)? {
            self.audit(&Actor { name: principal.user.clone(), address }, "logout", None, None)?;
            self.announce(UserChange::LoggedOut { user: principal.user.clone(), session: id.to_owned() });
        }
        Ok(())
    }

    fn audit(
        &self,
        actor: &Actor,
        action: &str,
        target: Option<&str>,
        detail: Option<String>,
    ) -> Result<(), AuthError> {
        self.store.audit(AuditEntry {
            seq: 0,
            at_ms: (self.clock)(),
            actor: actor.name.clone(),
            action: action.to_owned(),
            target: target.map(ToOwned::to_owned),
            address: actor.address.clone(),
            detail,
        })?;
        Ok(())
    }

    /// At most `limit` audit entries before sequence number `before`, newest first.
    pub fn audit_log(&self, limit: usize, before: Option<u64>) -> Result<Vec<AuditEntry>, AuthError> {
        self.store.audit_log(limit, before)
    }

    fn view(&self, user: UserRecord) -> Result<UserView, AuthError> {
        let sessions = self.store.sessions_of(&user.name)?.len();
        Ok(UserView {
            created: meterhub_plugin_api::time::format_rfc3339_ms(user.created_ms),
            name: user.name,
            role: user.role,
            grants: user.grants,
            disabled: user.disabled,
            sessions,
        })
    }

    /// Every user.
    pub fn users(&self) -> Result<Vec<UserView>, AuthError> {
        self.store.users()?.into_iter().map(|u| self.view(u)).collect()
    }

    /// One user.
    pub fn user(&self, name: &str) -> Result<UserView, AuthError> {
        let user = self.store.user(name)?.ok_or_else(|| AuthError::UnknownUser(name.to_owned()))?;
        self.view(user)
    }

    /// Adds a user. Slow (argon2).
    pub fn add_user(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        password: &str,
        grants: &[String],
    ) -> Result<UserView, AuthError> {
        check_name(name)?;
        PasswordHashing::check_new(password).map_err(AuthError::Invalid)?;
        let grants =
            grants.iter().map(|g| GrantPattern::parse(g).map_err(AuthError::Invalid)).collect::<Result<Vec<_>, _>>()?;
        let password_hash = self.hashing.hash(password).map_err(AuthError::Invalid)?;
        let _guard = lock(&self.write_lock);
        if self.store.user(name)?.is_some() {
            return Err(AuthError::UserExists(name.to_owned()));
        }
        let record = UserRecord {
            name: name.to_owned(),
            role,
            password_hash,
            grants,
            created_ms: (self.clock)(),
            disabled: false,
            language: Language::default(),
        };
        self.store.put_user(&record)?;
        let detail = Some(format!(
            "role {role}, grants [{}]",
            record.grants.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", ")
        ));
        self.audit(actor, "user_add", Some(name), detail)?;
        tracing::info!(user = %name, %role, actor = %actor.name, "user added");
        self.view(record)
    }

    /// Changes `name` under the write lock with `change`; returns the new record.
    fn change(
        &self,
        name: &str,
        change: impl FnOnce(&mut UserRecord) -> Result<(), AuthError>,
    ) -> Result<UserRecord, AuthError> {
        let _guard = lock(&self.write_lock);
        let mut user = self.store.user(name)?.ok_or_else(|| AuthError::UnknownUser(name.to_owned()))?;
        let was_admin = active_admin(&user);
        change(&mut user)?;
        if was_admin && !active_admin(&user) {
            self.refuse_losing_the_last_admin(name, "demoted or disabled")?;
        }
        self.store.put_user(&user)?;
        Ok(user)
    }

    /// Refuses a change that leaves no enabled admin (called under the
    /// write lock, with `name` an enabled admin about to stop being one).
    fn refuse_losing_the_last_admin(&self, name: &str, how: &str) -> Result<(), AuthError> {
        if self.store.users()?.iter().any(|u| u.name != name && active_admin(u)) {
            return Ok(());
        }
        Err(AuthError::Invalid(format!(
            "{name:?} is the last enabled admin and cannot be {how}: make another user admin first"
        )))
    }

    fn revoke_sessions(&self, name: &str) -> Result<(), AuthError> {
        for (id, _) in self.store.sessions_of(name)? {
            self.store.remove_session(&id)?;
        }
        self.announce(UserChange::SessionsRevoked { user: name.to_owned() });
        Ok(())
    }

    /// Sets a new password; every session of the user ends. Slow (argon2).
    pub fn set_password(&self, actor: &Actor, name: &str, password: &str) -> Result<UserView, AuthError> {
        PasswordHashing::check_new(password).map_err(AuthError::Invalid)?;
        let hash = self.hashing.hash(password).map_err(AuthError::Invalid)?;
        let user = self.change(name, |u| {
            u.password_hash = hash;
            Ok(())
        })?;
        self.revoke_sessions(name)?;
        self.audit(actor, "passwd", Some(name), None)?;
        self.view(user)
    }

    /// Sets the role; open sessions get the new rights at their next request.
    pub fn set_role(&self, actor: &Actor, name: &str, role: Role) -> Result<UserView, AuthError> {
        let user = self.change(name, |u| {
            u.role = role;
            Ok(())
        })?;
        self.announce(UserChange::RightsChanged { user: name.to_owned() });
        self.audit(actor, "role", Some(name), Some(role.to_string()))?;
        self.view(user)
    }

    /// Disables (every session ends) or enables a user.
    pub fn set_disabled(&self, actor: &Actor, name: &str, disabled: bool) -> Result<UserView, AuthError> {
        let user = self.change(name, |u| {
            u.disabled = disabled;
            Ok(())
        })?;
        if disabled {
            self.revoke_sessions(name)?;
        }
        self.audit(actor, if disabled { "disabled" } else { "enabled" }, Some(name), None)?;
        self.view(user)
    }

    /// Adds a grant (a pattern already granted is not added twice).
    pub fn grant(&self, actor: &Actor, name: &str, pattern: &str) -> Result<UserView, AuthError> {
        let pattern = GrantPattern::parse(pattern).map_err(AuthError::Invalid)?;
        let user = self.change(name, |u| {
            if !u.grants.contains(&pattern) {
                u.grants.push(pattern.clone());
            }
            Ok(())
        })?;
        self.announce(UserChange::RightsChanged { user: name.to_owned() });
        self.audit(actor, "grant", Some(name), Some(pattern.to_string()))?;
        self.view(user)
    }

    /// Removes a grant; refused when the user does not have it.
    pub fn revoke(&self, actor: &Actor, name: &str, pattern: &str) -> Result<UserView, AuthError> {
        let user = self.change(name, |u| {
            let before = u.grants.len();
            u.grants.retain(|g| g.as_str() != pattern);
            if u.grants.len() == before {
                let held: Vec<&str> = u.grants.iter().map(|g| g.as_str()).collect();
                return Err(AuthError::Invalid(format!(
                    "user {name:?} has no grant {pattern:?} (grants: [{}])",
                    held.join(", ")
                )));
            }
            Ok(())
        })?;
        self.announce(UserChange::RightsChanged { user: name.to_owned() });
        self.audit(actor, "revoke", Some(name), Some(pattern.to_owned()))?;
        self.view(user)
    }

    /// The UI language `principal` chose; the default for the local admin
    /// token, which has no user record.
    pub fn language(&self, principal: &Principal) -> Result<Language, AuthError> {
        if principal.credential == Credential::LocalToken {
            return Ok(Language::default());
        }
        Ok(self.store.user(&principal.user)?.map(|u| u.language).unwrap_or_default())
    }

    /// Sets the UI language of `principal`'s own user (any role may; not
    /// a change of rights, so neither audited nor announced).
    pub fn set_language(&self, principal: &Principal, language: Language) -> Result<Language, AuthError> {
        if principal.credential == Credential::LocalToken {
            return Err(AuthError::Invalid(format!(
                "the local admin token ({LOCAL_ADMIN}) has no user record to keep a language in"
            )));
        }
        Ok(self
            .change(&principal.user, |u| {
                u.language = language;
                Ok(())
            })?
            .language)
    }

    /// Removes a user and their sessions.
    pub fn remove_user(&self, actor: &Actor, name: &str) -> Result<(), AuthError> {
        {
            let _guard = lock(&self.write_lock);
            match self.store.user(name)? {
                None => return Err(AuthError::UnknownUser(name.to_owned())),
                Some(user) if active_admin(&user) => self.refuse_losing_the_last_admin(name, "removed")?,
                Some(_) => {}
            }
            self.store.remove_user(name)?;
        }
        self.announce(UserChange::SessionsRevoked { user: name.to_owned() });
        self.audit(actor, "user_remove", Some(name), None)?;
        Ok(())
    }
}
