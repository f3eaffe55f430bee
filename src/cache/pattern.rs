//! Key → pattern classification, the Redis counterpart of a query
//! fingerprint: the parts of a key that vary per entity (numeric ids, UUIDs,
//! hex hashes and tokens, dates and timestamps) become placeholders so that
//! `customer:17` and `customer:42` both read `customer:{id}`.
//!
//! Pure and allocation-light: inspect calls it once per scanned key.
//!
//! Rules, applied per segment (segments are split on `:` `/` `|` `#` `,`
//! `;` `=` whitespace and the hash-tag braces `{` `}`, which are kept):
//! - a whole segment that is a UUID (8-4-4-4-12 hex) → `{uuid}`;
//! - a date or timestamp (`2024-05-01`, `20240501`, `2024-05`,
//!   `2024-05-01T10:00:00Z` — the colons of a time are kept inside the
//!   segment — `2024-05-01 10:00`) → `{date}`;
//! - digits only (optionally signed) → `{id}`. A bare Unix timestamp is
//!   indistinguishable from a numeric id and reads `{id}`, which keeps one
//!   pattern per key kind instead of splitting it by value range;
//! - 12+ hex characters with at least one digit, or 16+ letters-and-digits
//!   mixing both (session tokens, base64-ish digests) → `{hash}`;
//! - otherwise the segment is split again on `-` `_` `.` and each piece is
//!   classified the same way; a word followed by two or more digits
//!   (`user1000`) becomes `user{id}`, a single trailing digit (`v2`, `s3`)
//!   stays, as it is usually a version or shard name, not an id.

/// Placeholders produced by [`classify`]. A pattern given to `cache
/// invalidate` containing one of these is matched by classification.
pub const PLACEHOLDERS: [&str; 4] = ["{id}", "{uuid}", "{hash}", "{date}"];

/// The pattern of a key, e.g. `customer:{id}` for `customer:42`.
pub fn classify(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    classify_into(key, &mut out);
    out
}

/// [`classify`] into a reused buffer (cleared first): the scan loop calls
/// this once per key without allocating.
pub fn classify_into(key: &str, out: &mut String) {
    out.clear();
    let bytes = key.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if is_segment_sep(b) {
            // A time inside an ISO timestamp (`2024-05-01T10:00:00`) keeps
            // its colons: extend the segment when it is a date so far.
            if b == b':' && date_continues(&key[start..i], &key[i..]) {
                i += 1;
                continue;
            }
            classify_segment(&key[start..i], out);
            out.push(b as char);
            start = i + 1;
        }
        i += 1;
    }
    classify_segment(&key[start..], out);
}

/// Whether a pattern string contains one of our placeholders, i.e. it is a
/// pattern as `cache inspect` prints it rather than a Redis glob.
pub fn has_placeholder(pattern: &str) -> bool {
    PLACEHOLDERS.iter().any(|p| pattern.contains(p))
}

/// The Redis `SCAN MATCH` glob that selects a superset of the keys of a
/// pattern: placeholders become `*`, glob metacharacters in the literal
/// parts are escaped.
pub fn pattern_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    'outer: while !rest.is_empty() {
        for p in PLACEHOLDERS {
            if let Some(tail) = rest.strip_prefix(p) {
                if !out.ends_with('*') {
                    out.push('*');
                }
                rest = tail;
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

fn is_segment_sep(b: u8) -> bool {
    matches!(
        b,
        b':' | b'/' | b'|' | b'#' | b',' | b';' | b'=' | b' ' | b'\t' | b'{' | b'}'
    )
}

/// `seg` is a date with a time following (`2024-05-01T10` + `:00`).
fn date_continues(seg: &str, rest: &str) -> bool {
    let r = rest.as_bytes();
    r.len() >= 3
        && r[1].is_ascii_digit()
        && r[2].is_ascii_digit()
        && seg.len() >= 13
        && is_date_prefix(seg)
        && matches!(seg.as_bytes()[10], b'T' | b't' | b' ' | b'_')
}

fn classify_segment(seg: &str, out: &mut String) {
    if seg.is_empty() {
        return;
    }
    if let Some(p) = whole_token(seg) {
        out.push_str(p);
        return;
    }
    // Split on the softer separators and classify the pieces.
    let mut start = 0;
    for (i, b) in seg.bytes().enumerate() {
        if matches!(b, b'-' | b'_' | b'.') {
            classify_piece(&seg[start..i], out);
            out.push(b as char);
            start = i + 1;
        }
    }
    classify_piece(&seg[start..], out);
}

fn classify_piece(piece: &str, out: &mut String) {
    if piece.is_empty() {
        return;
    }
    if let Some(p) = whole_token(piece) {
        out.push_str(p);
        return;
    }
    // word + trailing digits: `user1000` → `user{id}`, `v2` stays.
    let digits = piece.bytes().rev().take_while(u8::is_ascii_digit).count();
    let head = &piece[..piece.len() - digits];
    if digits >= 2 && head.bytes().all(|b| b.is_ascii_alphabetic()) {
        out.push_str(head);
        out.push_str("{id}");
    } else {
        out.push_str(piece);
    }
}

/// Placeholder for a token that is entirely an id, uuid, date or hash.
fn whole_token(s: &str) -> Option<&'static str> {
    if is_uuid(s) {
        Some("{uuid}")
    } else if is_date(s) {
        Some("{date}")
    } else if is_number(s) {
        Some("{id}")
    } else if is_hash(s) {
        Some("{hash}")
    } else {
        None
    }
}

fn is_number(s: &str) -> bool {
    let d = s.strip_prefix('-').unwrap_or(s);
    !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() == 36 {
        b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
    } else {
        false
    }
}

fn two(b: &[u8]) -> Option<u32> {
    if b.len() == 2 && b.iter().all(u8::is_ascii_digit) {
        Some(u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0'))
    } else {
        None
    }
}

fn year_ok(b: &[u8]) -> bool {
    b.len() == 4
        && b.iter().all(u8::is_ascii_digit)
        && (b[0] == b'1' && b[1] == b'9' || b[0] == b'2')
}

fn month_ok(b: &[u8]) -> bool {
    two(b).is_some_and(|m| (1..=12).contains(&m))
}

fn day_ok(b: &[u8]) -> bool {
    two(b).is_some_and(|d| (1..=31).contains(&d))
}

/// `YYYY-MM-DD` at the start of `s`.
fn is_date_prefix(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && year_ok(&b[0..4])
        && b[4] == b'-'
        && month_ok(&b[5..7])
        && b[7] == b'-'
        && day_ok(&b[8..10])
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    match b.len() {
        // 2024-05
        7 => year_ok(&b[0..4]) && b[4] == b'-' && month_ok(&b[5..7]),
        // 20240501
        8 => year_ok(&b[0..4]) && month_ok(&b[4..6]) && day_ok(&b[6..8]),
        // 2024-05-01
        10 => is_date_prefix(s),
        // 2024-05-01T10:00[:00[.123]][Z|+02:00], 2024-05-01 10, 2024-05-01-13
        n if n > 10 => {
            is_date_prefix(s)
                && matches!(b[10], b'T' | b't' | b' ' | b'_' | b'-')
                && b[11..].iter().all(|c| {
                    c.is_ascii_digit() || matches!(c, b':' | b'.' | b'Z' | b'z' | b'+' | b'-')
                })
                && b[11..].first().is_some_and(u8::is_ascii_digit)
        }
        _ => false,
    }
}

fn is_hash(s: &str) -> bool {
    let b = s.as_bytes();
    let has_digit = b.iter().any(u8::is_ascii_digit);
    if !has_digit {
        return false;
    }
    if b.len() >= 12 && b.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    b.len() >= 16
        && b.iter().all(u8::is_ascii_alphanumeric)
        && b.iter().any(u8::is_ascii_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_uuids_hashes_dates() {
        let cases = [
            ("customer:42", "customer:{id}"),
            ("customer:1234567890", "customer:{id}"),
            ("churn:7", "churn:{id}"),
            (
                "session:3f2b1c9e-8a7d-4e6f-9b0a-1c2d3e4f5a6b",
                "session:{uuid}",
            ),
            (
                "cache:sql:5d41402abc4b2a76b9719d911017c592",
                "cache:sql:{hash}",
            ),
            ("report:2024-05-01", "report:{date}"),
            ("report:20240501:daily", "report:{date}:daily"),
            ("metrics:2024-05-01T10:00:00Z:cpu", "metrics:{date}:cpu"),
            ("metrics:2024-05-01T10:00:00.123+02:00", "metrics:{date}"),
            ("month:2024-05", "month:{date}"),
            ("tenant:3:customer:99", "tenant:{id}:customer:{id}"),
            ("user1000", "user{id}"),
            ("api:v2:user:5", "api:v2:user:{id}"),
            ("order-123", "order-{id}"),
            ("{user:42}:cart", "{user:{id}}:cart"),
            ("tok:AbCdEf0123456789xyz", "tok:{hash}"),
            ("plain", "plain"),
            ("", ""),
            ("config:feature_flags", "config:feature_flags"),
            ("rate:-5", "rate:{id}"),
            ("img/photo.png", "img/photo.png"),
            ("deadbeef", "deadbeef"),
        ];
        for (key, want) in cases {
            assert_eq!(classify(key), want, "key {key:?}");
        }
    }

    #[test]
    fn non_dates_stay_numbers() {
        // 13th month is not a date.
        assert_eq!(classify("x:20241301"), "x:{id}");
        assert_eq!(classify("x:2024-13"), "x:{id}-{id}");
    }

    #[test]
    fn unicode_keys_do_not_panic() {
        assert_eq!(classify("clé:é:12"), "clé:é:{id}");
        assert_eq!(classify("ключ:١٢"), "ключ:١٢");
    }

    #[test]
    fn glob_from_pattern() {
        assert_eq!(pattern_to_glob("customer:{id}"), "customer:*");
        assert_eq!(pattern_to_glob("t:{id}:c:{uuid}"), "t:*:c:*");
        assert_eq!(pattern_to_glob("a*b:{id}"), "a\\*b:*");
        assert_eq!(pattern_to_glob("{id}{id}"), "*");
        assert!(has_placeholder("x:{date}"));
        assert!(!has_placeholder("x:*"));
    }

    #[test]
    fn classification_is_idempotent_on_examples() {
        for k in [
            "customer:42",
            "session:3f2b1c9e-8a7d-4e6f-9b0a-1c2d3e4f5a6b",
            "user1000",
        ] {
            let p = classify(k);
            assert_eq!(classify(&p), p);
        }
    }
}
