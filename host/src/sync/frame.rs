//! A center decodes its sites' frames itself: a frame of source
//! `sync:<site>` is a batch as the site sent it (`wire.rs`), and its
//! readings are archived under the site's namespace, `<site>/<meter>`, so
//! two sites with the same meter ids stay apart and the navigation tree,
//! rights and deltas work per site. The readings keep the meter's own
//! time: one replicated late shows as late, not as new.

use meterhub_plugin_api::{Decoded, RawFrame};

use super::center::SOURCE_PREFIX;
use super::wire;

/// The center's name of a site's meter.
pub fn meter(site: &str, meter: &str) -> String {
    format!("{site}/{meter}")
}

/// Whether `frame` is a site's batch.
pub fn is_sync(frame: &RawFrame) -> bool {
    frame.source.starts_with(SOURCE_PREFIX)
}

/// The readings of a site's batch, in the center's namespace.
pub fn decode(frame: &RawFrame) -> Result<Decoded, String> {
    let site = frame.source.strip_prefix(SOURCE_PREFIX).unwrap_or(&frame.source);
    // Within the receiver's bound, whatever the batch's compression ratio.
    let batch = wire::decode(&frame.payload, wire::MAX_INFLATED_BYTES)?;
    if batch.site != site {
        return Err(format!("the batch is of site {}, its frame of site {site}", batch.site));
    }
    let readings = batch
        .readings
        .into_iter()
        .map(|archived| {
            let mut reading = archived.reading;
            reading.device = meter(site, &reading.device);
            reading
        })
        .collect();
    Ok(Decoded { readings, telemetry: Vec::new(), fields: None })
}
