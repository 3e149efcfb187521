//! A buffered reader that counts lines as they are read, so an offset the
//! parser reports is a `line:col` without a second read of the file. The
//! parser asks for offsets in increasing order, so only the line starts
//! after the last one asked for are kept: memory follows the longest tag,
//! not the file.

use std::collections::VecDeque;
use std::io::{BufRead, Read};

/// `inner`, counting its lines.
#[derive(Debug)]
pub struct Lines<R> {
    inner: R,
    /// Byte offsets of line starts not yet passed by a question.
    starts: VecDeque<u64>,
    /// Line starts passed and forgotten (line 1's start is not one).
    passed: u32,
    /// The last of them (0: line 1's).
    last_passed: u64,
    /// Bytes consumed so far.
    consumed: u64,
}

impl<R: BufRead> Lines<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Lines<R> {
        Lines { inner, starts: VecDeque::new(), passed: 0, last_passed: 0, consumed: 0 }
    }
}

impl<R> Lines<R> {
    /// The 1-based line and column (in bytes) of byte `offset`, which must
    /// have been read, and not be before an offset asked for earlier.
    pub fn position(&mut self, offset: u64) -> (u32, u32) {
        while self.starts.len() >= 2 && self.starts[1] <= offset {
            self.last_passed = self.starts.pop_front().unwrap_or(0);
            self.passed += 1;
        }
        let within = self.starts.iter().take_while(|start| **start <= offset).count();
        let line_start = if within == 0 { self.last_passed } else { self.starts[within - 1] };
        (self.passed + within as u32 + 1, (offset - line_start) as u32 + 1)
    }
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' {
                self.starts.push_back(self.consumed + i as u64 + 1);
            }
        }
        self.consumed += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Lines<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            for (i, b) in buf[..amount.min(buf.len())].iter().enumerate() {
                if *b == b'\n' {
                    self.starts.push_back(self.consumed + i as u64 + 1);
                }
            }
        }
        self.consumed += amount as u64;
        self.inner.consume(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_lines_and_columns() {
        let mut r = Lines::new(std::io::BufReader::with_capacity(3, "ab\ncd\n\nef".as_bytes()));
        let mut all = String::new();
        r.read_to_string(&mut all).unwrap();
        assert_eq!(r.position(0), (1, 1));
        assert_eq!(r.position(1), (1, 2));
        assert_eq!(r.position(3), (2, 1));
        assert_eq!(r.position(6), (3, 1));
        assert_eq!(r.position(8), (4, 2));
    }
}
