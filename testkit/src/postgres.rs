//! PostgreSQL for tests: a schema of its own on the machine's shared
//! database (`127.0.0.1:5432`, database `test`, trust auth), dropped
//! afterwards, or a throwaway cluster of its own (`initdb`, `pg_ctl`) on a
//! free port that a test may stop and start. The shared server is never
//! stopped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::wait::wait_for;

/// The blocking client the helpers here return.
pub use ::postgres::Client;

/// The machine's shared PostgreSQL: host, port, database.
pub const SHARED: (&str, u16, &str) = ("127.0.0.1", 5432, "test");

/// A blocking client of `url`.
pub fn client(url: &str) -> Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

/// The user the tests connect as on the shared server (trust auth takes
/// any existing role; the process's user is one).
fn shared_user() -> String {
    std::env::var("PGUSER").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "postgres".to_owned())
}

/// A schema of a test's own on the shared database; dropped with its tables
/// when this goes away.
pub struct Schema {
    /// Its name.
    pub name: String,
    /// The URL of the shared database (no password: trust auth).
    pub url: String,
}

impl Schema {
    /// A new, unique schema name (not created: the sink under test does).
    pub fn new(prefix: &str) -> Schema {
        let (host, port, db) = SHARED;
        let name = format!("{prefix}_{}_{}", std::process::id(), crate::now_ms() % 1_000_000_000);
        Schema { name, url: format!("postgres://{}@{host}:{port}/{db}", shared_user()) }
    }

    /// A client of the shared database with this schema first in its path.
    pub fn client(&self) -> Client {
        let mut c = client(&self.url);
        c.batch_execute(&format!("SET search_path TO \"{}\"", self.name)).expect("search_path");
        c
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name));
        }
    }
}

/// A PostgreSQL cluster of a test's own, on a free port; stopped and
/// removed when this goes away.
pub struct Cluster {
    dir: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
    running: bool,
}

/// Run a PostgreSQL tool, as the `postgres` user when this process is root
/// (initdb and postgres refuse to run as root).
fn tool(program: &str, args: &[&str]) -> Command {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", program]).args(args);
        c
    } else {
        let mut c = Command::new(program);
        c.args(args);
        c
    }
}

pub(crate) fn run(mut command: Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Cluster {
    /// Make and start a cluster whose superuser is `meterhub` (trust auth).
    pub fn start() -> Cluster {
        Cluster::make(false)
    }

    /// The same, serving TLS with a server certificate for 127.0.0.1 signed
    /// by a test CA of its own ([`Cluster::ca_file`]).
    pub fn start_with_tls() -> Cluster {
        Cluster::make(true)
    }

    /// The PEM file of the CA that signed its server certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A CA and a server certificate for 127.0.0.1 in `dir`, readable by
    /// the `postgres` user the cluster runs as.
    fn certificates(dir: &Path) {
        crate::tls::certificates(dir);
        for file in ["server.key", "server.pem", "ca.pem"] {
            let _ = Command::new("chown").args(["postgres:postgres", &dir.join(file).display().to_string()]).output();
        }
    }

    fn make(tls: bool) -> Cluster {
        let dir = std::env::temp_dir().join(format!("meterhub-pg-{}-{}", std::process::id(), crate::now_ms()));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        // The server runs as `postgres` when the tests run as root.
        let _ = Command::new("chown").args(["postgres:postgres", &dir.display().to_string()]).output();
        let data = dir.join("data");
        run(
            tool("initdb", &["-D", &data.display().to_string(), "-U", "meterhub", "-A", "trust", "--no-sync"]),
            "initdb",
        );
        if tls {
            Cluster::certificates(&dir);
            let conf =
                format!("ssl = on\nssl_cert_file = '{0}/server.pem'\nssl_key_file = '{0}/server.key'\n", dir.display());
            let mut text = std::fs::read_to_string(data.join("postgresql.conf")).expect("postgresql.conf");
            text.push_str(&conf);
            std::fs::write(data.join("postgresql.conf"), text).expect("postgresql.conf");
        }
        let mut cluster = Cluster { dir, port: crate::free_port(), running: false };
        cluster.resume();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://meterhub@127.0.0.1:{}/postgres", self.port)
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Start it again (after [`Cluster::stop`]), waiting until it accepts
    /// connections.
    pub fn resume(&mut self) {
        let options = format!("-p {} -c listen_addresses=127.0.0.1 -k {}", self.port, self.dir.display());
        let log = self.dir.join("server.log").display().to_string();
        run(
            tool("pg_ctl", &["-D", &self.data().display().to_string(), "-o", &options, "-l", &log, "-w", "start"]),
            "pg_ctl start",
        );
        self.running = true;
        let url = self.url();
        wait_for("the cluster to accept connections", Duration::from_secs(30), || {
            postgres::Client::connect(&url, postgres::NoTls).ok().map(drop)
        });
    }

    /// Stop it at once (`-m immediate`: like a crash of the server; what
    /// it committed stays).
    pub fn stop(&mut self) {
        run(
            tool("pg_ctl", &["-D", &self.data().display().to_string(), "-m", "immediate", "-w", "stop"]),
            "pg_ctl stop",
        );
        self.running = false;
    }

    /// A role `name` that logs in with `password` only (scram-sha-256;
    /// every other role keeps trust) and may create schemas in `postgres`.
    pub fn add_password_role(&self, name: &str, password: &str) {
        let mut c = self.client();
        c.batch_execute(&format!(
            "CREATE ROLE \"{name}\" LOGIN PASSWORD '{}'; GRANT CREATE ON DATABASE postgres TO \"{name}\"",
            password.replace('\'', "''")
        ))
        .expect("role");
        let hba = self.data().join("pg_hba.conf");
        let text = std::fs::read_to_string(&hba).expect("pg_hba.conf");
        std::fs::write(&hba, format!("host all \"{name}\" 127.0.0.1/32 scram-sha-256\n{text}")).expect("pg_hba.conf");
        c.batch_execute("SELECT pg_reload_conf()").expect("reload");
    }

    /// A client of its `postgres` database.
    pub fn client(&self) -> Client {
        client(&self.url())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.running {
            let _ =
                tool("pg_ctl", &["-D", &self.data().display().to_string(), "-m", "immediate", "-w", "stop"]).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
