//! The traffic: what the simulated network server sends, in order,
//! independent of any transport (so tests read it without sending).
//!
//! - [`Traffic::joins`]: one join per device, at the start (`--joins`);
//! - [`Traffic::slot`]: a device's next uplink, then what the behaviours
//!   add after it:
//!   - `repeat_every` K: every K-th uplink, counted over all devices, is
//!     sent again: odd repeats as the very same body (a retried push),
//!     even ones as the same uplink heard by another gateway a few
//!     milliseconds later (new ids, its own `rxInfo`);
//!   - `status_every` K: after every K-th uplink of each device, its
//!     status event (battery, margin);
//!   - `faults_every` K: after every K-th uplink, counted over all
//!     devices, a fault made of it: malformed body, unknown event kind,
//!     bad base64, in turn.

use rand::Rng;

use super::bodies::{self, Kind, Network, Outgoing};
use super::clock::Stamp;
use super::devices::Device;
use super::options::Options;

/// The generator of events.
#[derive(Debug)]
pub struct Traffic {
    net: Network,
    devices: Vec<Device>,
    repeat_every: u64,
    status_every: u64,
    faults_every: u64,
    uplinks: u64,
    repeats: u64,
    faults: usize,
}

impl Traffic {
    /// The devices and network of `options` (all derived from its seed).
    pub fn new(options: &Options) -> Traffic {
        Traffic {
            net: Network::new(options),
            devices: (0..options.devices).map(|i| Device::new(options.seed, i, options.joins)).collect(),
            repeat_every: options.repeat_every,
            status_every: options.status_every,
            faults_every: options.faults_every,
            uplinks: 0,
            repeats: 0,
            faults: 0,
        }
    }

    /// The simulated network's names and ids.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The devices, in index order, as they are now.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// Uplinks generated so far (repeats not counted).
    pub fn uplinks(&self) -> u64 {
        self.uplinks
    }

    /// One join event per device, device `i` at `at` + `i` ms.
    pub fn joins(&mut self, at: Stamp) -> Vec<Outgoing> {
        let net = &self.net;
        self.devices
            .iter_mut()
            .map(|device| {
                let when = at.plus_ms(i64::from(device.index));
                bodies::join(net, device, when)
            })
            .collect()
    }

    /// Device `index`'s next uplink, received at `at` (plus a random part
    /// of a millisecond), and what the behaviours send after it. An index
    /// past the devices gives nothing.
    pub fn slot(&mut self, index: u32, at: Stamp) -> Vec<Outgoing> {
        let net = &self.net;
        let Some(device) = self.devices.get_mut(index as usize) else { return Vec::new() };
        let at = at.plus_nanos(device.rng().random_range(0..1_000_000));
        let uplink = device.uplink(at);
        self.uplinks += 1;
        let n = self.uplinks;
        let mut out: Vec<Outgoing> = bodies::render(net, device, &uplink, Kind::Up).into_iter().collect();
        if self.repeat_every > 0 && n.is_multiple_of(self.repeat_every) {
            self.repeats += 1;
            if self.repeats % 2 == 1 {
                if let Some(first) = out.first() {
                    out.push(Outgoing { kind: Kind::Repeat, ..first.clone() });
                }
            } else {
                let elsewhere = device.heard_elsewhere(&uplink);
                out.extend(bodies::render(net, device, &elsewhere, Kind::Repeat));
            }
        }
        if self.status_every > 0 && device.uplinks.is_multiple_of(self.status_every) {
            out.extend(bodies::render(net, device, &uplink, Kind::Status));
        }
        if self.faults_every > 0 && n.is_multiple_of(self.faults_every) {
            let kind = Kind::FAULTS[self.faults % Kind::FAULTS.len()];
            self.faults += 1;
            out.extend(bodies::render(net, device, &uplink, kind));
        }
        out
    }
}
