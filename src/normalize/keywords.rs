//! The words the normalized text upper-cases. It is PostgreSQL's keyword
//! list minus the non-reserved words people commonly use as column names
//! (`value`, `type`, `level`, …) and the type names (`bigint`, `text`, …),
//! which stay lower-case like any identifier. The list is part of the
//! normalized text's definition (docs/fingerprint.md): changing it changes
//! normalized texts and, through them, fingerprints.

/// Sorted (checked by a test) for binary search.
pub(crate) const KEYWORDS: &[&str] = &[
    "abort",
    "absolute",
    "access",
    "add",
    "after",
    "aggregate",
    "all",
    "also",
    "alter",
    "always",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "at",
    "attach",
    "authorization",
    "begin",
    "between",
    "binary",
    "both",
    "breadth",
    "by",
    "cache",
    "call",
    "called",
    "cascade",
    "cascaded",
    "case",
    "cast",
    "chain",
    "characteristics",
    "check",
    "checkpoint",
    "class",
    "close",
    "cluster",
    "coalesce",
    "collate",
    "collation",
    "column",
    "columns",
    "commit",
    "committed",
    "concurrently",
    "configuration",
    "conflict",
    "connection",
    "constraint",
    "constraints",
    "continue",
    "conversion",
    "copy",
    "cost",
    "create",
    "cross",
    "csv",
    "cube",
    "current",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "cursor",
    "cycle",
    "database",
    "deallocate",
    "declare",
    "default",
    "defaults",
    "deferrable",
    "deferred",
    "definer",
    "delete",
    "delimiter",
    "delimiters",
    "depth",
    "desc",
    "detach",
    "discard",
    "distinct",
    "do",
    "domain",
    "drop",
    "each",
    "else",
    "enable",
    "end",
    "enum",
    "escape",
    "except",
    "exclude",
    "excluding",
    "exclusive",
    "execute",
    "exists",
    "explain",
    "extension",
    "external",
    "extract",
    "false",
    "family",
    "fetch",
    "filter",
    "first",
    "following",
    "for",
    "force",
    "foreign",
    "forward",
    "freeze",
    "from",
    "full",
    "function",
    "functions",
    "generated",
    "global",
    "grant",
    "granted",
    "greatest",
    "group",
    "grouping",
    "groups",
    "handler",
    "having",
    "hold",
    "identity",
    "if",
    "ilike",
    "immediate",
    "immutable",
    "in",
    "include",
    "including",
    "increment",
    "index",
    "indexes",
    "inherit",
    "inherits",
    "initially",
    "inline",
    "inner",
    "inout",
    "input",
    "insensitive",
    "insert",
    "instead",
    "intersect",
    "interval",
    "into",
    "invoker",
    "is",
    "isnull",
    "isolation",
    "join",
    "language",
    "large",
    "last",
    "lateral",
    "leading",
    "leakproof",
    "least",
    "left",
    "like",
    "limit",
    "listen",
    "load",
    "local",
    "localtime",
    "localtimestamp",
    "lock",
    "locked",
    "logged",
    "materialized",
    "maxvalue",
    "merge",
    "minvalue",
    "move",
    "natural",
    "new",
    "next",
    "no",
    "none",
    "normalize",
    "not",
    "nothing",
    "notify",
    "notnull",
    "nowait",
    "null",
    "nullif",
    "nulls",
    "of",
    "off",
    "offset",
    "oids",
    "old",
    "on",
    "only",
    "operator",
    "option",
    "options",
    "or",
    "order",
    "ordinality",
    "others",
    "out",
    "outer",
    "over",
    "overlaps",
    "overriding",
    "owned",
    "parallel",
    "partial",
    "partition",
    "passing",
    "placing",
    "plans",
    "policy",
    "preceding",
    "prepare",
    "prepared",
    "preserve",
    "primary",
    "prior",
    "privileges",
    "procedural",
    "procedure",
    "procedures",
    "program",
    "publication",
    "quote",
    "range",
    "read",
    "reassign",
    "recursive",
    "ref",
    "references",
    "referencing",
    "refresh",
    "reindex",
    "relative",
    "release",
    "rename",
    "repeatable",
    "replace",
    "replica",
    "reset",
    "restart",
    "restrict",
    "return",
    "returning",
    "returns",
    "revoke",
    "right",
    "rollback",
    "rollup",
    "routine",
    "routines",
    "row",
    "rule",
    "savepoint",
    "schema",
    "schemas",
    "scroll",
    "search",
    "security",
    "select",
    "sequence",
    "sequences",
    "serializable",
    "server",
    "session",
    "session_user",
    "set",
    "setof",
    "sets",
    "share",
    "show",
    "similar",
    "simple",
    "skip",
    "snapshot",
    "some",
    "stable",
    "standalone",
    "start",
    "statement",
    "statistics",
    "stdin",
    "stdout",
    "stored",
    "strict",
    "strip",
    "subscription",
    "substring",
    "support",
    "symmetric",
    "sysid",
    "system",
    "table",
    "tables",
    "tablesample",
    "tablespace",
    "temp",
    "template",
    "temporary",
    "then",
    "ties",
    "time",
    "timestamp",
    "to",
    "trailing",
    "transaction",
    "transform",
    "treat",
    "trigger",
    "trim",
    "true",
    "truncate",
    "trusted",
    "unbounded",
    "uncommitted",
    "unencrypted",
    "union",
    "unique",
    "unknown",
    "unlisten",
    "unlogged",
    "until",
    "update",
    "user",
    "using",
    "vacuum",
    "valid",
    "validate",
    "validator",
    "values",
    "variadic",
    "varying",
    "verbose",
    "view",
    "views",
    "volatile",
    "when",
    "where",
    "whitespace",
    "window",
    "with",
    "within",
    "without",
    "work",
    "wrapper",
    "write",
    "xml",
    "zone",
];

/// Whether `word` (any case) is one of [`KEYWORDS`].
///
/// This runs for every word of every statement, so it is a hash-table
/// probe on the lower-cased word packed into three integers, not a
/// string search.
pub(crate) fn is_keyword(word: &str) -> bool {
    let Some(key) = pack(word.as_bytes()) else {
        return false;
    };
    let table = TABLE.get_or_init(build_table);
    let mut slot = slot_of(&key);
    loop {
        let entry = &table[slot];
        if *entry == key {
            return true;
        }
        if *entry == [0; 3] {
            return false;
        }
        slot = (slot + 1) & (TABLE_SIZE - 1);
    }
}

type Packed = [u64; 3];

const TABLE_SIZE: usize = 2048;

static TABLE: std::sync::OnceLock<Vec<Packed>> = std::sync::OnceLock::new();

/// The word lower-cased into 24 bytes, or `None` when longer (no keyword is).
fn pack(word: &[u8]) -> Option<Packed> {
    if word.is_empty() || word.len() > 24 {
        return None;
    }
    let mut buf = [0u8; 24];
    for (dst, src) in buf.iter_mut().zip(word) {
        *dst = src.to_ascii_lowercase();
    }
    let part = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&buf[i * 8..i * 8 + 8]);
        u64::from_le_bytes(b)
    };
    Some([part(0), part(1), part(2)])
}

fn slot_of(key: &Packed) -> usize {
    let h = key[0].wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(23)
        ^ key[1].wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ key[2].wrapping_mul(0x1656_67B1_9E37_79F9);
    (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 53) as usize & (TABLE_SIZE - 1)
}

fn build_table() -> Vec<Packed> {
    let mut table = vec![[0u64; 3]; TABLE_SIZE];
    for k in KEYWORDS {
        if let Some(key) = pack(k.as_bytes()) {
            let mut slot = slot_of(&key);
            while table[slot] != [0; 3] {
                slot = (slot + 1) & (TABLE_SIZE - 1);
            }
            table[slot] = key;
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_lower_case() {
        assert!(KEYWORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(
            KEYWORDS
                .iter()
                .all(|k| k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
    }

    #[test]
    fn lookup_is_case_insensitive() {
        assert!(is_keyword("select"));
        assert!(is_keyword("SeLeCt"));
        assert!(is_keyword("current_timestamp"));
        assert!(!is_keyword("value"));
        assert!(!is_keyword("users"));
        assert!(!is_keyword("a_very_long_identifier_that_is_not_a_keyword"));
        assert!(!is_keyword(""));
        assert!(!is_keyword("selects"));
        assert!(!is_keyword("selec"));
        // Every listed keyword is found, in any case.
        for k in KEYWORDS {
            assert!(is_keyword(k) && is_keyword(&k.to_uppercase()), "{k}");
        }
    }
}
