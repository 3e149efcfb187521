//! A cursor over the bytes of a request APDU, for the meter's side of the
//! command exchange ([`super::acse`], [`super::xdlms`]): fixed-size
//! fields, the X.690 definite length that both BER (ACSE) and A-XDR
//! (xDLMS) use, and BER tag-length-value elements. Every read checks its
//! bounds and answers `None` past the end, so a truncated or lying
//! request is refused as malformed, never read out of bounds.

/// A read position in `bytes`.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    bytes: &'a [u8],
}

/// One BER element: its tag (a single byte, or the first of a high tag
/// number) and its contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    /// The identifier octet (class, constructed bit, tag number; high tag
    /// numbers keep only this first octet, which no known element uses).
    pub tag: u8,
    /// The contents octets.
    pub contents: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.bytes.len() {
            return None;
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Some(head)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    /// A big-endian u16.
    pub fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    /// An X.690 definite length: one byte below 0x80, else 0x81-0x84 and
    /// that many big-endian bytes (the indefinite form 0x80 is refused).
    pub fn length(&mut self) -> Option<usize> {
        let first = self.u8()?;
        if first < 0x80 {
            return Some(usize::from(first));
        }
        let count = usize::from(first & 0x7F);
        if !(1..=4).contains(&count) {
            return None;
        }
        let bytes = self.take(count)?;
        Some(bytes.iter().fold(0usize, |len, b| len << 8 | usize::from(*b)))
    }

    /// A length, then that many bytes.
    pub fn counted(&mut self) -> Option<&'a [u8]> {
        let len = self.length()?;
        self.take(len)
    }

    /// The next BER element (tag, length, contents). A high tag number
    /// (low five bits all set) has its further octets skipped.
    pub fn element(&mut self) -> Option<Element<'a>> {
        let tag = self.u8()?;
        if tag & 0x1F == 0x1F {
            while self.u8()? & 0x80 != 0 {}
        }
        let contents = self.counted()?;
        Some(Element { tag, contents })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_short_or_long_form_and_bounded() {
        assert_eq!(Cursor::new(&[0x05]).length(), Some(5));
        assert_eq!(Cursor::new(&[0x81, 0x80]).length(), Some(128));
        assert_eq!(Cursor::new(&[0x82, 0x01, 0x00]).length(), Some(256));
        assert_eq!(Cursor::new(&[0x80]).length(), None, "indefinite");
        assert_eq!(Cursor::new(&[0x82, 0x01]).length(), None, "truncated");
        assert_eq!(Cursor::new(&[0x03, 1, 2]).counted(), None, "fewer bytes than the length");
    }

    #[test]
    fn elements_skip_high_tag_numbers() {
        let mut c = Cursor::new(&[0x5F, 0x1F, 0x02, 0xAA, 0xBB, 0xA1, 0x00]);
        assert_eq!(c.element(), Some(Element { tag: 0x5F, contents: &[0xAA, 0xBB] }));
        assert_eq!(c.element(), Some(Element { tag: 0xA1, contents: &[] }));
        assert!(c.is_empty());
        assert_eq!(c.element(), None);
    }
}
