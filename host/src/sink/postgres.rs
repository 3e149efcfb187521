//! The host's side of a PostgreSQL sink: the connection (the host owns it;
//! the plugin never gets a socket), the host's own tables in the sink's
//! schema (the position, the migrations that ran, the dead letters), the
//! plugin's migrations, and one transaction per batch that writes the
//! plugin's statements, the dead letters and the new position together.
//!
//! Failures are sorted by what to do about them ([`Failure`]): the database
//! is away (try again later), it refuses the sink's setup (try again later;
//! an operator must act), or it refuses the data of the batch (find the
//! record and put it on the dead-letter list).

use std::str::FromStr;
use std::time::Duration;

use meterhub_plugin_api::{Migration, SqlValue, Statement};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls};

use super::target::{DeadLetter, Failure, Log, Position};
use crate::config::{PasswordSource, PostgresTarget};

/// How long connecting may take before it counts as "unreachable".
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a resend of the dead letters did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Resent {
    /// Written now, and off the list.
    pub written: usize,
    /// Still refused by the plugin, on the list with the new reason.
    pub refused: usize,
}

/// One dead letter as the database keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredDeadLetter {
    /// The log it comes from.
    pub log: String,
    /// Its sequence number in that log.
    pub seq: u64,
    /// The record, JSON.
    pub record: serde_json::Value,
    /// Why it was left out.
    pub reason: String,
    /// When, ms since the epoch.
    pub at_ms: i64,
}

/// An open connection to a sink's database, set up: schema, the host's
/// tables, the plugin's migrations.
pub struct Connection {
    client: Client,
    sink: String,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Quote `name` as an SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Where a target is, for messages: `user@host:port/database`, never a password.
pub fn describe(target: &PostgresTarget) -> String {
    match tokio_postgres::Config::from_str(&target.url) {
        Ok(c) => {
            let host = c
                .get_hosts()
                .first()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(h) => h.clone(),
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .unwrap_or_else(|| "localhost".to_owned());
            let port = c.get_ports().first().copied().unwrap_or(5432);
            format!("{}@{host}:{port}/{}", c.get_user().unwrap_or("?"), c.get_dbname().unwrap_or("?"))
        }
        Err(_) => "an unreadable url".to_owned(),
    }
}

fn password(source: &PasswordSource) -> Result<String, Failure> {
    match source {
        PasswordSource::Env(var) => std::env::var(var)
            .map_err(|_| Failure::Setup(format!("the password's environment variable {var} is not set for the host"))),
        PasswordSource::File(path) => std::fs::read_to_string(path)
            .map(|text| text.lines().next().unwrap_or("").to_owned())
            .map_err(|e| Failure::Setup(format!("cannot read the password file {}: {e}", path.display()))),
    }
}

/// Whether the URL asks for TLS (`sslmode=require`, `verify-ca`, `verify-full`).
fn wants_tls(url: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| {
        query.split('&').any(|kv| matches!(kv, "sslmode=require" | "sslmode=verify-ca" | "sslmode=verify-full"))
    })
}

fn tls(target: &PostgresTarget) -> Result<tokio_postgres_rustls::MakeRustlsConnect, Failure> {
    let config = crate::tls::client_config(target.ca_file.as_deref()).map_err(Failure::Setup)?;
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Sort a database error by what to do about it, with a message that says
/// what happened and what to do.
pub fn classify(e: &tokio_postgres::Error, target: &PostgresTarget) -> Failure {
    let at = describe(target);
    let Some(db) = e.as_db_error() else {
        if e.is_closed() {
            return Failure::Unavailable(format!("the connection to {at} was closed"));
        }
        let text = e.to_string();
        // A parameter the plugin gave of another type than its statement
        // needs is the plugin's mistake, not the data's.
        if text.contains("error serializing parameter") {
            return Failure::Setup(format!("the sink's statement and its parameters disagree: {text}"));
        }
        let cause = std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_default();
        return Failure::Unavailable(format!(
            "cannot reach {at}: {text}{}",
            if cause.is_empty() { String::new() } else { format!(": {cause}") }
        ));
    };
    let code = db.code().code();
    let message = db.message();
    let detail = db.detail().map(|d| format!(" ({d})")).unwrap_or_default();
    match code {
        "28P01" | "28000" => Failure::Setup(format!(
            "{at} refused the login: {message}; check the user in the url and the password (password_env or password_file)"
        )),
        "3D000" => Failure::Setup(format!("{at}: {message}; create the database or fix the url")),
        "42501" => Failure::Setup(format!("{at}: {message}; grant the sink's user the right, or use another schema")),
        "42P07" => Failure::Setup(format!(
            "{at}: {message}: a table of someone else's is where the sink keeps its own; choose another `schema` for the sink or move that table away"
        )),
        _ if code.starts_with("08") || code.starts_with("53") || code.starts_with("57") || code.starts_with("58") => {
            Failure::Unavailable(format!("{at}: {message}{detail}"))
        }
        _ if code.starts_with("40") || code == "55P03" => Failure::Unavailable(format!("{at}: {message}{detail}")),
        _ if code.starts_with("22") || code.starts_with("23") => {
            Failure::Data(format!("{at} refused a value: {message}{detail} [{code}]"))
        }
        _ => Failure::Setup(format!(
            "{at}: {message}{detail} [{code}]; the sink's tables may not have the shape it expects"
        )),
    }
}

/// A statement parameter as tokio-postgres binds it.
#[derive(Debug)]
struct Param<'a>(&'a SqlValue);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self.0, ty) {
            (SqlValue::Null, _) => Ok(IsNull::Yes),
            (SqlValue::Bool(b), &Type::BOOL) => b.to_sql(ty, out),
            (SqlValue::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (SqlValue::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (SqlValue::Int(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (SqlValue::Text(t), &Type::TEXT | &Type::VARCHAR | &Type::BPCHAR | &Type::NAME | &Type::UNKNOWN) => {
                t.as_str().to_sql(ty, out)
            }
            (SqlValue::Json(j), &Type::JSON) => {
                out.extend_from_slice(j.as_bytes());
                Ok(IsNull::No)
            }
            (SqlValue::Json(j), &Type::JSONB) => {
                // jsonb's binary form: a version byte, then the text.
                out.extend_from_slice(&[1]);
                out.extend_from_slice(j.as_bytes());
                Ok(IsNull::No)
            }
            (value, ty) => Err(format!("a {} parameter where the statement takes {ty}", kind(value)).into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn kind(value: &SqlValue) -> &'static str {
    match value {
        SqlValue::Null => "null",
        SqlValue::Bool(_) => "boolean",
        SqlValue::Int(_) => "int",
        SqlValue::Text(_) => "text",
        SqlValue::Json(_) => "json",
    }
}

/// The host's tables in the sink's schema.
const HOST_TABLES: &str = "
CREATE TABLE IF NOT EXISTS meterhub_sink_position (
    sink text PRIMARY KEY,
    archive_seq bigint NOT NULL,
    accounting_rev bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE meterhub_sink_position ADD COLUMN IF NOT EXISTS accounting_rev bigint NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS meterhub_sink_migrations (
    plugin text NOT NULL,
    version integer NOT NULL,
    description text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plugin, version)
);
CREATE TABLE IF NOT EXISTS meterhub_sink_dead_letters (
    sink text NOT NULL,
    log text NOT NULL,
    seq bigint NOT NULL,
    record text NOT NULL,
    reason text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sink, log, seq)
);";

/// Run a sink's statements, in order, with their parameters.
async fn run(tx: &tokio_postgres::Transaction<'_>, statements: &[Statement]) -> Result<(), tokio_postgres::Error> {
    for statement in statements {
        let params: Vec<Param<'_>> = statement.params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        tx.execute(statement.sql.as_str(), &refs).await?;
    }
    Ok(())
}

impl Connection {
    /// Connect to `target` as sink `sink`, create its schema and the host's
    /// tables when missing, and set the schema as the search path.
    pub async fn open(sink: &str, target: &PostgresTarget) -> Result<Connection, Failure> {
        let mut config = tokio_postgres::Config::from_str(&target.url)
            .map_err(|e| Failure::Setup(format!("url is not a PostgreSQL URL: {e}")))?;
        if let Some(source) = &target.password {
            config.password(password(source)?);
        }
        config.connect_timeout(CONNECT_TIMEOUT);
        config.application_name(format!("meterhub sink {sink}"));
        let fail = |e: tokio_postgres::Error| classify(&e, target);
        let (client, driver) = if wants_tls(&target.url) {
            let (client, connection) = config.connect(tls(target)?).await.map_err(fail)?;
            (client, tokio::spawn(async move { drop(connection.await) }))
        } else {
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            let (client, connection) = config.connect(NoTls).await.map_err(fail)?;
            (client, tokio::spawn(async move { drop(connection.await) }))
        };
        let schema = ident(&target.schema);
        let setup = format!(
            "SET client_min_messages TO warning; CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}; SELECT pg_advisory_lock(hashtext('meterhub-sink-setup')); {HOST_TABLES} SELECT pg_advisory_unlock(hashtext('meterhub-sink-setup'));"
        );
        client.batch_execute(&setup).await.map_err(fail)?;
        Ok(Connection { client, sink: sink.to_owned(), driver })
    }

    /// Run the migrations of `plugin` that have not run in this schema, each
    /// in its own transaction with its record; the highest version that ran.
    pub async fn migrate(
        &mut self,
        plugin: &str,
        migrations: &[Migration],
        target: &PostgresTarget,
    ) -> Result<u32, Failure> {
        let fail = |e: tokio_postgres::Error| classify(&e, target);
        for (i, m) in migrations.iter().enumerate() {
            if m.version as usize != i + 1 {
                return Err(Failure::Setup(format!(
                    "plugin {plugin}: its migrations must be numbered 1, 2, ... without gaps; found {} at place {}",
                    m.version,
                    i + 1
                )));
            }
        }
        let mut highest = 0;
        for m in migrations {
            let tx = self.client.transaction().await.map_err(fail)?;
            tx.execute("SELECT pg_advisory_xact_lock(hashtext('meterhub-sink-migrations'))", &[])
                .await
                .map_err(fail)?;
            let done = tx
                .query_opt(
                    "SELECT 1 FROM meterhub_sink_migrations WHERE plugin = $1 AND version = $2",
                    &[&plugin, &(m.version as i32)],
                )
                .await
                .map_err(fail)?;
            if done.is_none() {
                for statement in &m.statements {
                    tx.batch_execute(statement).await.map_err(|e| match classify(&e, target) {
                        Failure::Setup(text) | Failure::Data(text) => Failure::Setup(format!(
                            "plugin {plugin}, migration {} ({}): {text}",
                            m.version, m.description
                        )),
                        other => other,
                    })?;
                }
                tx.execute(
                    "INSERT INTO meterhub_sink_migrations (plugin, version, description) VALUES ($1, $2, $3)",
                    &[&plugin, &(m.version as i32), &m.description],
                )
                .await
                .map_err(fail)?;
                tracing::info!(sink = %self.sink, plugin, version = m.version, description = %m.description, "sink migration applied");
            }
            tx.commit().await.map_err(fail)?;
            highest = m.version;
        }
        Ok(highest)
    }

    /// The sink's position as the database holds it (nothing delivered for
    /// a new sink, which is then recorded).
    pub async fn position(&self, target: &PostgresTarget) -> Result<Position, Failure> {
        let fail = |e: tokio_postgres::Error| classify(&e, target);
        self.client
            .execute(
                "INSERT INTO meterhub_sink_position (sink, archive_seq) VALUES ($1, 0) ON CONFLICT (sink) DO NOTHING",
                &[&self.sink],
            )
            .await
            .map_err(fail)?;
        let row = self
            .client
            .query_one("SELECT archive_seq, accounting_rev FROM meterhub_sink_position WHERE sink = $1", &[&self.sink])
            .await
            .map_err(fail)?;
        let (readings, accounting): (i64, i64) = (row.get(0), row.get(1));
        Ok(Position { readings: readings.max(0) as u64, accounting: accounting.max(0) as u64 })
    }

    /// Write `statements` and `dead` and move the position from `from` to
    /// `to`, in one transaction: all of it or nothing.
    pub async fn write(
        &mut self,
        statements: &[Statement],
        dead: &[DeadLetter],
        from: Position,
        to: Position,
        target: &PostgresTarget,
    ) -> Result<(), Failure> {
        let fail = |e: tokio_postgres::Error| classify(&e, target);
        let tx = self.client.transaction().await.map_err(fail)?;
        run(&tx, statements).await.map_err(fail)?;
        for d in dead {
            tx.execute(
                "INSERT INTO meterhub_sink_dead_letters (sink, log, seq, record, reason) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (sink, log, seq) DO UPDATE SET record = EXCLUDED.record, reason = EXCLUDED.reason, at = now()",
                &[&self.sink, &d.log.as_str(), &(d.seq as i64), &d.record, &d.reason],
            )
            .await
            .map_err(fail)?;
        }
        let moved = tx
            .execute(
                "UPDATE meterhub_sink_position SET archive_seq = $2, accounting_rev = $3, updated_at = now()
                 WHERE sink = $1 AND archive_seq = $4 AND accounting_rev = $5",
                &[
                    &self.sink,
                    &(to.readings as i64),
                    &(to.accounting as i64),
                    &(from.readings as i64),
                    &(from.accounting as i64),
                ],
            )
            .await
            .map_err(fail)?;
        if moved != 1 {
            return Err(Failure::Moved(format!(
                "the position of sink {} in {} is no longer {from:?}: another writer moved it (two hosts with one sink id?)",
                self.sink,
                describe(target)
            )));
        }
        tx.commit().await.map_err(fail)
    }

    /// Write `statements` (the plugin's for dead letters sent again), take
    /// the `written` letters off the list and give the `still` refused ones
    /// their new reason, in one transaction.
    pub async fn resend(
        &mut self,
        statements: &[Statement],
        written: &[(Log, u64)],
        still: &[DeadLetter],
        target: &PostgresTarget,
    ) -> Result<Resent, Failure> {
        let fail = |e: tokio_postgres::Error| classify(&e, target);
        let tx = self.client.transaction().await.map_err(fail)?;
        run(&tx, statements).await.map_err(fail)?;
        for (log, seq) in written {
            tx.execute(
                "DELETE FROM meterhub_sink_dead_letters WHERE sink = $1 AND log = $2 AND seq = $3",
                &[&self.sink, &log.as_str(), &(*seq as i64)],
            )
            .await
            .map_err(fail)?;
        }
        for d in still {
            tx.execute(
                "UPDATE meterhub_sink_dead_letters SET reason = $4, at = now() WHERE sink = $1 AND log = $2 AND seq = $3",
                &[&self.sink, &d.log.as_str(), &(d.seq as i64), &d.reason],
            )
            .await
            .map_err(fail)?;
        }
        tx.commit().await.map_err(fail)?;
        Ok(Resent { written: written.len(), refused: still.len() })
    }

    /// Up to `limit` dead letters of the sink, oldest first.
    pub async fn dead_letters(&self, limit: i64, target: &PostgresTarget) -> Result<Vec<StoredDeadLetter>, Failure> {
        let rows = self
            .client
            .query(
                "SELECT log, seq, record, reason, (extract(epoch FROM at) * 1000)::bigint
                 FROM meterhub_sink_dead_letters WHERE sink = $1 ORDER BY at, log, seq LIMIT $2",
                &[&self.sink, &limit],
            )
            .await
            .map_err(|e| classify(&e, target))?;
        Ok(rows
            .iter()
            .map(|row| {
                let record: String = row.get(2);
                StoredDeadLetter {
                    log: row.get(0),
                    seq: row.get::<_, i64>(1).max(0) as u64,
                    record: serde_json::from_str(&record).unwrap_or(serde_json::Value::String(record)),
                    reason: row.get(3),
                    at_ms: row.get(4),
                }
            })
            .collect())
    }
}
