//! [`Random`]: a fixed stream of pseudo-random numbers for robustness
//! tests (random payloads must never panic), so that a failure repeats.

/// xorshift64*, seeded by the test.
#[derive(Debug, Clone)]
pub struct Random(pub u64);

impl Random {
    /// The next number of the stream.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}
