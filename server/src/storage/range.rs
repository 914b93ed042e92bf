//! Byte ranges of a stored object: what a reader asks for (`ByteRange`, the forms of an HTTP
//! `Range: bytes=…` header) and which bytes it gets once the object's length is known (`Span`).

/// A requested range, before the object's length is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-last`, both inclusive.
    FromTo { first: u64, last: u64 },
    /// `bytes=first-`: from `first` to the end.
    From { first: u64 },
    /// `bytes=-n`: the last `n` bytes.
    Last { n: u64 },
}

/// The bytes actually served: `start..end`, end exclusive, within an object of `len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    pub fn whole(len: u64) -> Span {
        Span { start: 0, end: len }
    }

    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

impl ByteRange {
    /// Resolves the range against an object of `len` bytes as RFC 9110 §14.1.2 says: a last
    /// position past the end is clamped, a suffix longer than the object means all of it; `None`
    /// when no byte of the object is in the range (the reader answers 416).
    pub fn resolve(self, len: u64) -> Option<Span> {
        let span = match self {
            ByteRange::FromTo { first, last } => {
                Span { start: first, end: last.saturating_add(1).min(len) }
            }
            ByteRange::From { first } => Span { start: first, end: len },
            ByteRange::Last { n } => Span { start: len.saturating_sub(n), end: len },
        };
        (span.start < span.end).then_some(span)
    }

    /// The same range as an HTTP header value, for stores that take one (S3's GetObject).
    pub fn header_value(self) -> String {
        match self {
            ByteRange::FromTo { first, last } => format!("bytes={first}-{last}"),
            ByteRange::From { first } => format!("bytes={first}-"),
            ByteRange::Last { n } => format!("bytes=-{n}"),
        }
    }

    /// Parses a `Range` header with a single byte range (the grammar is `http-range-header`'s).
    /// Several ranges, other units and malformed values give `None`: RFC 9110 lets a server
    /// ignore such a header and send the whole object, which every client understands.
    pub fn parse_header(value: &str) -> Option<ByteRange> {
        use http_range_header::{EndPosition, StartPosition};
        let parsed = http_range_header::parse_range_header(value.trim()).ok()?;
        let [range] = parsed.ranges.as_slice() else { return None };
        match (range.start, range.end) {
            (StartPosition::FromLast(n), _) => Some(ByteRange::Last { n }),
            (StartPosition::Index(first), EndPosition::LastByte) => Some(ByteRange::From { first }),
            (StartPosition::Index(first), EndPosition::Index(last)) => {
                (first <= last).then_some(ByteRange::FromTo { first, last })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms_of_a_single_range_are_understood() {
        assert_eq!(
            ByteRange::parse_header("bytes=0-9"),
            Some(ByteRange::FromTo { first: 0, last: 9 })
        );
        assert_eq!(ByteRange::parse_header("bytes=500-"), Some(ByteRange::From { first: 500 }));
        assert_eq!(ByteRange::parse_header("bytes=-20"), Some(ByteRange::Last { n: 20 }));
        assert_eq!(
            ByteRange::parse_header(" bytes=3-4 "),
            Some(ByteRange::FromTo { first: 3, last: 4 })
        );
    }

    #[test]
    fn headers_a_server_may_ignore_are_ignored() {
        for ignored in [
            "bytes=0-1,4-5",
            "items=0-9",
            "bytes=9-3",
            "bytes=-",
            "bytes=a-b",
            "bytes=+1-2",
            "0-9",
            "bytes=99999999999999999999-",
            "bytes= 3-4",
            "bytes=-0",
        ] {
            assert_eq!(ByteRange::parse_header(ignored), None, "{ignored:?}");
        }
    }

    #[test]
    fn ranges_resolve_against_the_object_length() {
        assert_eq!(
            ByteRange::FromTo { first: 10, last: 19 }.resolve(100),
            Some(Span { start: 10, end: 20 })
        );
        assert_eq!(
            ByteRange::FromTo { first: 90, last: 1000 }.resolve(100),
            Some(Span { start: 90, end: 100 }),
            "clamped"
        );
        assert_eq!(ByteRange::From { first: 99 }.resolve(100), Some(Span { start: 99, end: 100 }));
        assert_eq!(ByteRange::Last { n: 5 }.resolve(100), Some(Span { start: 95, end: 100 }));
        assert_eq!(
            ByteRange::Last { n: 500 }.resolve(100),
            Some(Span::whole(100)),
            "a long suffix is everything"
        );
        assert_eq!(
            ByteRange::FromTo { first: 0, last: u64::MAX }.resolve(100),
            Some(Span::whole(100))
        );
    }

    #[test]
    fn ranges_outside_the_object_are_unsatisfiable() {
        assert_eq!(ByteRange::From { first: 100 }.resolve(100), None);
        assert_eq!(ByteRange::FromTo { first: 100, last: 200 }.resolve(100), None);
        assert_eq!(ByteRange::Last { n: 0 }.resolve(100), None);
        assert_eq!(
            ByteRange::Last { n: 5 }.resolve(0),
            None,
            "an empty object has no bytes to serve"
        );
    }
}
