//! `meterhub sim listener`: a small generator of device traffic for demos
//! and manual checks. It speaks the listener's TCP line protocol: each
//! simulated meter sends a cumulative volume register and a temperature
//! every interval, and every answer is checked.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rand::Rng;

/// Options of the listener simulator.
#[derive(Debug, Clone)]
pub struct Options {
    /// Address of a listener driver instance on TCP.
    pub tcp: String,
    /// Number of simulated meters.
    pub devices: u32,
    /// Time between two rounds of readings, milliseconds.
    pub interval_ms: u64,
    /// Stop after this many rounds (forever when absent).
    pub rounds: Option<u64>,
}

/// Run the simulator until `rounds` are done (or forever).
pub fn run(sim: &Options) -> ExitCode {
    let mut rng = rand::rng();
    let mut registers: Vec<f64> = (0..sim.devices).map(|_| rng.random_range(100.0..5000.0)).collect();
    let (mut acked, mut refused) = (0u64, 0u64);
    let mut last_report = Instant::now();
    let mut round = 0u64;
    loop {
        let stream = match TcpStream::connect(&sim.tcp) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("sim: cannot connect to {}: {e}; retrying", sim.tcp);
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        let mut writer = stream.try_clone().expect("a TCP stream can be cloned");
        let mut reader = BufReader::new(stream);
        loop {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
            let mut batch = String::new();
            for (i, register) in registers.iter_mut().enumerate() {
                *register += rng.random_range(0.0..0.05);
                let temperature: f64 = rng.random_range(15.0..25.0);
                batch.push_str(&format!(
                    "{{\"device\":\"demo-{i:03}\",\"channel\":\"volume\",\"ts\":{now},\"value\":\"{register:.3}\",\"unit\":\"m3\",\"kind\":\"cumulative\"}}\n\
                     {{\"device\":\"demo-{i:03}\",\"channel\":\"temperature\",\"ts\":{now},\"value\":\"{temperature:.1}\",\"unit\":\"degC\",\"kind\":\"instantaneous\"}}\n"
                ));
            }
            if writer.write_all(batch.as_bytes()).is_err() {
                break;
            }
            let mut broken = false;
            for _ in 0..registers.len() * 2 {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => {
                        broken = true;
                        break;
                    }
                    Ok(_) if line.contains("\"ok\":true") => acked += 1,
                    Ok(_) => {
                        refused += 1;
                        eprintln!("sim: refused: {}", line.trim());
                    }
                }
            }
            if broken {
                break;
            }
            round += 1;
            if last_report.elapsed() >= Duration::from_secs(10) {
                println!("sim: {acked} readings acknowledged, {refused} refused");
                last_report = Instant::now();
            }
            if sim.rounds.is_some_and(|r| round >= r) {
                println!("sim: done: {acked} readings acknowledged, {refused} refused");
                return if refused == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE };
            }
            std::thread::sleep(Duration::from_millis(sim.interval_ms));
        }
        eprintln!("sim: connection to {} lost; reconnecting", sim.tcp);
        std::thread::sleep(Duration::from_secs(1));
    }
}
