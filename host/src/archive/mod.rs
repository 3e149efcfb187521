//! The archive (being written).
