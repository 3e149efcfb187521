//! JSON objects over WebSocket text frames: re-assembly of objects split
//! across frames or packed several to a frame (PROTOCOLS.md §1.2), used for
//! what clients send, and the `--frame-mode mixed` framing of what the
//! emulator sends.

use rand::Rng;
use rand::rngs::StdRng;

/// Largest object kept while waiting for its end; a longer one is dropped.
const MAX_PENDING: usize = 1 << 20;

/// Cuts a stream of text into top-level JSON objects by counting braces
/// outside strings; text between objects (whitespace, stray `}` or `]`,
/// anything else) is skipped.
#[derive(Debug, Default)]
pub struct Reassembler {
    pending: String,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Reassembler {
    /// Feed one frame's text; the objects it completes, in order.
    pub fn push(&mut self, text: &str) -> Vec<String> {
        let mut done = Vec::new();
        for c in text.chars() {
            if self.depth == 0 {
                if c == '{' {
                    self.depth = 1;
                    self.pending.clear();
                    self.pending.push(c);
                }
                continue;
            }
            self.pending.push(c);
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if c == '\\' {
                    self.escaped = true;
                } else if c == '"' {
                    self.in_string = false;
                }
                continue;
            }
            match c {
                '"' => self.in_string = true,
                '{' | '[' => self.depth += 1,
                '}' | ']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        done.push(std::mem::take(&mut self.pending));
                    }
                }
                _ => {}
            }
            if self.pending.len() > MAX_PENDING {
                self.pending.clear();
                self.depth = 0;
                self.in_string = false;
            }
        }
        done
    }

    /// Whether part of an object is waiting for the rest.
    pub fn is_partial(&self) -> bool {
        self.depth > 0
    }
}

/// How the emulator frames what it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrameMode {
    /// One JSON object per text frame.
    #[default]
    Single,
    /// Mostly one object per frame; sometimes two objects in one frame,
    /// sometimes one object split over two frames at a random byte.
    Mixed,
}

/// What to do with the next message in mixed mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Send it alone.
    Whole,
    /// Send it as two frames, split at this byte.
    Split(usize),
    /// Keep it and send it in one frame with the next message.
    Hold,
}

/// Probability of splitting a message, and of holding one for pairing.
const SPLIT_P: f64 = 0.1;
const HOLD_P: f64 = 0.1;

/// The framing of the next message of `len` bytes (`text` to find a char boundary).
pub fn framing(mode: FrameMode, text: &str, rng: &mut StdRng) -> Framing {
    if mode == FrameMode::Single || text.len() < 2 {
        return Framing::Whole;
    }
    let r: f64 = rng.random();
    if r < SPLIT_P {
        let mut at = rng.random_range(1..text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        if at == 0 { Framing::Whole } else { Framing::Split(at) }
    } else if r < SPLIT_P + HOLD_P {
        Framing::Hold
    } else {
        Framing::Whole
    }
}
