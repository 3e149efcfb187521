//! A headless Chromium driven through `chromedriver` (Debian's `chromium`
//! and `chromium-driver`; `scripts/install-browser` installs both), for the
//! UI tests and the diagram bench: WebGL2 on the CPU (SwiftShader), as on a
//! machine without a GPU.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};

use fantoccini::{Client, ClientBuilder};
use serde_json::json;

use crate::{START_DEADLINE, request, wait_for};

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Its WebDriver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// `chromedriver` on a free loopback port; killed on drop.
pub struct Chromedriver {
    child: Child,
    /// Where it listens.
    pub url: String,
}

impl Chromedriver {
    /// Starts it and waits until it is ready.
    pub fn start() -> Chromedriver {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "{CHROMIUM} and {CHROMEDRIVER} are needed: run scripts/install-browser (scripts/test does)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        // Its own process group, so that dropping it also ends the
        // Chromium it started, even when a test panicked mid-session.
        let child = Command::new(CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut driver = Chromedriver { child, url: format!("http://{addr}") };
        wait_for("chromedriver to listen", START_DEADLINE, || {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!("chromedriver exited with {status}");
            }
            TcpStream::connect(addr).ok()?;
            let ready = request(addr, "GET", "/status", &[], b"").json()["value"]["ready"] == true;
            ready.then_some(())
        });
        driver
    }

    /// A new headless Chromium session, its window `width`×`height`, in Russian.
    pub async fn session(&self, width: u32, height: u32) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-background-networking",
                         "--disable-component-update", "--disable-dev-shm-usage",
                         format!("--window-size={width},{height}"), "--lang=ru-RU",
                         // WebGL2 on the CPU (SwiftShader), as on a machine without a GPU.
                         "--enable-unsafe-swiftshader"],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a Chromium session through chromedriver")
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every Chromium process it started.
        // `--` first: procps' kill reads a bare `-<pgid>` as an option.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-s", "KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
