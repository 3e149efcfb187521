//! The input envelope: the APDU is meta `frame.content` (hex) when the
//! driver gives it (`rbgu` does: the wrapper or HDLC frame stays the
//! payload, as it came), else the payload itself; meta
//! `dlms.system_title` (16 hex digits) names the sender when the driver
//! learned it; meta `device.pending` = `1` marks a frame of a device the
//! driver did not know, which waits until the device is in the secrets
//! file. Any content type. Errors name the meta key.

use meterhub_plugin_api::{DecodeError, RawFrame, hex};

/// The meta key of the sender's system title.
pub const META_SYSTEM_TITLE: &str = "dlms.system_title";
/// The meta key of what a framed payload carries, hex.
pub const META_CONTENT: &str = "frame.content";

/// The meta key the driver sets (to `1`) on a frame of a device it did not
/// know.
pub const META_PENDING: &str = "device.pending";

/// Whether the driver marked `frame` as from a device it did not know.
pub fn pending(frame: &RawFrame) -> bool {
    frame.meta(META_PENDING) == Some("1")
}

/// The APDU of `frame`: meta [`META_CONTENT`] when present, else the
/// payload.
pub fn apdu(frame: &RawFrame) -> Result<std::borrow::Cow<'_, [u8]>, DecodeError> {
    match frame.meta(META_CONTENT) {
        None => Ok(std::borrow::Cow::Borrowed(&frame.payload)),
        Some(text) => hex::decode(text.trim())
            .map(std::borrow::Cow::Owned)
            .map_err(|e| DecodeError::new(format!("meta {META_CONTENT:?}: {e}"))),
    }
}

/// The system title the driver gave `frame`, if it gave one.
pub fn system_title(frame: &RawFrame) -> Result<Option<[u8; 8]>, DecodeError> {
    let Some(text) = frame.meta(META_SYSTEM_TITLE) else { return Ok(None) };
    let bytes = hex::decode(text.trim()).ok().and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok());
    bytes.map(Some).ok_or_else(|| {
        DecodeError::new(format!("meta {META_SYSTEM_TITLE:?}: {text:?} is not a system title (16 hex digits)"))
    })
}

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::testing::FrameBuilder;

    use super::*;

    #[test]
    fn the_apdu_is_the_framed_content_when_the_driver_gives_it() {
        let plain = FrameBuilder::new(vec![0x0f, 0x01]).build();
        assert_eq!(apdu(&plain).unwrap().as_ref(), [0x0f, 0x01]);
        let framed = FrameBuilder::new(vec![0x00, 0x01, 0x0f]).meta(META_CONTENT, "0F02").build();
        assert_eq!(apdu(&framed).unwrap().as_ref(), [0x0f, 0x02]);
        let bad = FrameBuilder::new(vec![0x00]).meta(META_CONTENT, "0F0").build();
        assert!(apdu(&bad).unwrap_err().reason.starts_with("meta \"frame.content\": "));
    }

    #[test]
    fn the_meta_system_title() {
        let frame = |v: &str| FrameBuilder::new(vec![0x0f]).meta(META_SYSTEM_TITLE, v).build();
        assert_eq!(
            system_title(&frame("2F19229199164103")).unwrap(),
            Some([0x2f, 0x19, 0x22, 0x91, 0x99, 0x16, 0x41, 0x03])
        );
        assert_eq!(system_title(&frame("2f19229199164103")).unwrap().map(|t| t[0]), Some(0x2f));
        assert_eq!(system_title(&FrameBuilder::new(vec![0x0f]).build()).unwrap(), None);
        assert_eq!(
            system_title(&frame("2F1922")).unwrap_err().reason,
            "meta \"dlms.system_title\": \"2F1922\" is not a system title (16 hex digits)"
        );
    }
}
