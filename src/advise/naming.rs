//! Deterministic, readable index names: `<table>_<cols>_idx`, within
//! PostgreSQL's 63-byte limit. A name that must be cut gets a short hash of
//! the full name so two different long definitions never collide.

/// PostgreSQL truncates identifiers to NAMEDATALEN-1 bytes.
pub const MAX_IDENT_BYTES: usize = 63;

/// `<table>_<col1>_<col2>[_<suffix>]_idx`. Column parts are reduced to
/// `[a-z0-9_]` so expressions and quoted names give readable names.
pub fn index_name(table: &str, columns: &[String], extra: &[&str]) -> String {
    let mut parts: Vec<String> = vec![sanitize(table)];
    parts.extend(columns.iter().map(|c| sanitize(c)));
    parts.extend(extra.iter().map(|e| sanitize(e)));
    parts.retain(|p| !p.is_empty());
    let full = format!("{}_idx", parts.join("_"));
    if full.len() <= MAX_IDENT_BYTES {
        return full;
    }
    let hash = format!("{:08x}", xxhash_rust::xxh3::xxh3_64(full.as_bytes()) as u32);
    // `<head>_<hash>_idx` within the limit, cut on a char boundary.
    let room = MAX_IDENT_BYTES - hash.len() - "__idx".len();
    let mut head = String::new();
    for ch in full.trim_end_matches("_idx").chars() {
        if head.len() + ch.len_utf8() > room {
            break;
        }
        head.push(ch);
    }
    format!("{}_{hash}_idx", head.trim_end_matches('_'))
}

fn sanitize(s: &str) -> String {
    let mut out = String::new();
    let mut last_us = false;
    for ch in s.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            out.push(ch);
            last_us = false;
        } else if !last_us && !out.is_empty() {
            out.push('_');
            last_us = true;
        }
    }
    out.trim_end_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_names() {
        assert_eq!(
            index_name(
                "bookings",
                &["customer_id".into(), "event_date".into()],
                &[]
            ),
            "bookings_customer_id_event_date_idx"
        );
        assert_eq!(
            index_name(
                "Orders",
                &["Customer Id".into(), "lower(email)".into()],
                &[]
            ),
            "orders_customer_id_lower_email_idx"
        );
        assert_eq!(
            index_name("bookings", &["event_date".into()], &["partial"]),
            "bookings_event_date_partial_idx"
        );
    }

    #[test]
    fn long_names_are_cut_with_a_hash_and_never_collide() {
        let cols_a: Vec<String> = (0..10)
            .map(|i| format!("a_rather_long_column_name_{i}"))
            .collect();
        let mut cols_b = cols_a.clone();
        cols_b[9] = "a_rather_long_column_name_x".into();
        let a = index_name("some_table", &cols_a, &[]);
        let b = index_name("some_table", &cols_b, &[]);
        assert!(a.len() <= MAX_IDENT_BYTES && b.len() <= MAX_IDENT_BYTES);
        assert_ne!(a, b);
        assert!(a.ends_with("_idx") && a.starts_with("some_table_a_rather"));
        assert_eq!(a, index_name("some_table", &cols_a, &[]), "deterministic");
    }
}
