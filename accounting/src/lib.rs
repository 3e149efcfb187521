//! Consumption deltas of meter registers (work in progress).
