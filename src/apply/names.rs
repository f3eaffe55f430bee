//! Names as a plan writes them (`schema.name`, raw identifiers) and the
//! comparison of a live index with a planned [`Definition`]. Pure: the
//! catalog rows come in as plain structs so this is tested without a server.

use crate::catalog::live::index_column;
use crate::plan::Definition;

/// A schema-qualified name from a plan: `schema.name` with raw (unquoted)
/// identifiers split at the first dot, or with double-quoted parts when a
/// part itself contains a dot (`"my.schema"."Orders"`). A bare name is in
/// `public`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

impl QualifiedName {
    pub fn parse(text: &str) -> Option<QualifiedName> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let (first, rest) = take_part(text)?;
        match rest {
            None => Some(QualifiedName {
                schema: "public".into(),
                name: first,
            }),
            Some(rest) => {
                let (second, tail) = take_part(rest)?;
                if tail.is_some() || second.is_empty() || first.is_empty() {
                    // More dots: the raw form keeps them in the name.
                    if text.starts_with('"') {
                        return None;
                    }
                    let (s, n) = text.split_once('.')?;
                    return Some(QualifiedName {
                        schema: s.into(),
                        name: n.into(),
                    });
                }
                Some(QualifiedName {
                    schema: first,
                    name: second,
                })
            }
        }
    }

    /// Quoted for SQL: `app."Orders"`.
    pub fn quoted(&self) -> String {
        crate::ident::quote_qualified(&self.schema, &self.name)
    }
}

impl std::fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.quoted())
    }
}

/// One part up to an unquoted dot; returns the part and what follows the dot.
fn take_part(text: &str) -> Option<(String, Option<&str>)> {
    if let Some(body) = text.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if let Some((_, '"')) = chars.peek() {
                    out.push('"');
                    chars.next();
                    continue;
                }
                let after = &body[i + 1..];
                return match after.strip_prefix('.') {
                    Some(r) => Some((out, Some(r))),
                    None if after.is_empty() => Some((out, None)),
                    None => None,
                };
            }
            out.push(c);
        }
        None
    } else {
        match text.split_once('.') {
            Some((a, b)) => Some((a.to_string(), Some(b))),
            None => Some((text.to_string(), None)),
        }
    }
}

/// A live index as `sql/apply_table_indexes.sql` returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveIndex {
    pub schema: String,
    pub name: String,
    pub method: String,
    pub unique: bool,
    pub valid: bool,
    pub ready: bool,
    pub n_key: usize,
    /// Key columns then INCLUDE columns, as `pg_get_indexdef(oid, k, true)` prints them.
    pub column_defs: Vec<String>,
    pub descending: Vec<bool>,
    pub predicate: Option<String>,
    pub definition: String,
    pub size_bytes: i64,
}

/// What a planned create needs, as far as identity goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted<'a> {
    pub definition: &'a Definition,
    pub unique: bool,
}

/// A planned key: `name`, `name DESC`, `"Odd Name" ASC`, or an expression.
fn planned_key(text: &str) -> (String, bool) {
    let mut t = text.trim().to_string();
    for suffix in [" NULLS FIRST", " NULLS LAST"] {
        if t.to_ascii_uppercase().ends_with(suffix) {
            t.truncate(t.len() - suffix.len());
        }
    }
    let upper = t.to_ascii_uppercase();
    let (body, desc) = if upper.ends_with(" DESC") {
        (t[..t.len() - 5].trim_end().to_string(), true)
    } else if upper.ends_with(" ASC") {
        (t[..t.len() - 4].trim_end().to_string(), false)
    } else {
        (t, false)
    };
    (body, desc)
}

/// The planned column text as a name when it is one (raw or quoted).
fn planned_name(text: &str) -> Option<String> {
    let t = text.trim();
    if t.starts_with('"') {
        let (name, _) = index_column(t);
        return (!index_column(t).1).then_some(name);
    }
    // A raw identifier: anything without expression punctuation.
    let expression = t.contains([
        '(', ')', '+', '-', '*', '/', '|', ':', ',', '\'', '=', '<', '>',
    ]);
    (!expression && !t.is_empty()).then(|| t.to_string())
}

/// Whether a key as the plan writes it and as the server prints it are the same.
fn same_key(planned: &str, live: &str) -> bool {
    let (live_name, live_expr) = index_column(live);
    match planned_name(planned) {
        Some(p) if !live_expr => p == live_name,
        Some(p) => normalize_expr(&p) == normalize_expr(live),
        None => normalize_expr(planned) == normalize_expr(live),
    }
}

/// Plain column names a definition mentions (keys and INCLUDE), for the
/// "columns still exist" precondition. Expressions are left to the server.
pub fn referenced_columns(def: &Definition) -> Vec<String> {
    def.columns
        .iter()
        .map(|c| planned_key(c).0)
        .chain(def.include.iter().cloned())
        .filter_map(|c| planned_name(&c))
        .collect()
}

/// Whether any key of a definition is an expression (not a plain column).
pub fn has_expression(def: &Definition) -> bool {
    def.columns
        .iter()
        .any(|c| planned_name(&planned_key(c).0).is_none())
}

/// Whether a live index is the planned one: same method, keys (in order,
/// with direction), INCLUDE columns, predicate and uniqueness.
pub fn matches(live: &LiveIndex, want: &Wanted<'_>) -> bool {
    let d = want.definition;
    if !live.method.eq_ignore_ascii_case(&d.method) || live.unique != want.unique {
        return false;
    }
    if live.n_key != d.columns.len() || live.column_defs.len() != d.columns.len() + d.include.len()
    {
        return false;
    }
    let keys_match = d.columns.iter().enumerate().all(|(i, planned)| {
        let (body, desc) = planned_key(planned);
        same_key(&body, &live.column_defs[i]) && live.descending.get(i).copied() == Some(desc)
    });
    if !keys_match {
        return false;
    }
    let include_match = d
        .include
        .iter()
        .zip(&live.column_defs[live.n_key..])
        .all(|(p, l)| same_key(p, l));
    if !include_match {
        return false;
    }
    match (&d.predicate, &live.predicate) {
        (None, None) => true,
        (Some(p), Some(l)) => normalize_expr(p) == normalize_expr(l),
        _ => false,
    }
}

/// Whether the DDL builds a UNIQUE index.
pub fn ddl_is_unique(ddl: &str) -> bool {
    ddl.trim_start()
        .to_ascii_uppercase()
        .starts_with("CREATE UNIQUE")
}

/// Multi-word type names that can follow `::` in a deparsed expression.
const MULTIWORD_TYPES: &[&str] = &[
    "timestamp with time zone",
    "timestamp without time zone",
    "time with time zone",
    "time without time zone",
    "character varying",
    "double precision",
    "bit varying",
];

/// An expression reduced to compare what a person wrote with what
/// `pg_get_expr` prints: casts the server adds (`'churn'::text`) removed,
/// parentheses and whitespace dropped, case folded outside quotes.
pub fn normalize_expr(expr: &str) -> String {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len());
    let mut pending_space = false;
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            if pending_space && c == '"' && out.chars().last().is_some_and(is_word) {
                out.push(' ');
            }
            pending_space = false;
            // Copy a quoted literal or identifier verbatim.
            out.push(c);
            i += 1;
            while i < chars.len() {
                out.push(chars[i]);
                if chars[i] == c {
                    if chars.get(i + 1) == Some(&c) {
                        out.push(c);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
            continue;
        }
        if c == ':' && chars.get(i + 1) == Some(&':') {
            i += 2;
            let rest: String = chars[i..].iter().collect::<String>().to_ascii_lowercase();
            if let Some(t) = MULTIWORD_TYPES.iter().find(|t| rest.starts_with(**t)) {
                i += t.chars().count();
            } else if chars.get(i) == Some(&'"') {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += 1;
                }
                i += 1;
            } else {
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
                {
                    i += 1;
                }
            }
            // Type modifiers and array brackets: `::numeric(4,3)`, `::text[]`.
            if chars.get(i) == Some(&'(') {
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                i += 1;
            }
            while chars.get(i) == Some(&'[') && chars.get(i + 1) == Some(&']') {
                i += 2;
            }
            continue;
        }
        if c == '(' || c == ')' || c.is_whitespace() {
            // A separator matters only between two words (`is null`).
            pending_space = true;
            i += 1;
            continue;
        }
        if pending_space && is_word(c) && out.chars().last().is_some_and(is_word) {
            out.push(' ');
        }
        pending_space = false;
        out.extend(c.to_lowercase());
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(cols: &[&str], pred: Option<&str>) -> Definition {
        Definition {
            method: "btree".into(),
            columns: cols.iter().map(|s| s.to_string()).collect(),
            include: vec![],
            predicate: pred.map(String::from),
        }
    }

    fn live(cols: &[&str], desc: &[bool], pred: Option<&str>) -> LiveIndex {
        LiveIndex {
            schema: "app".into(),
            name: "x".into(),
            method: "btree".into(),
            unique: false,
            valid: true,
            ready: true,
            n_key: cols.len(),
            column_defs: cols.iter().map(|s| s.to_string()).collect(),
            descending: desc.to_vec(),
            predicate: pred.map(String::from),
            definition: String::new(),
            size_bytes: 0,
        }
    }

    #[test]
    fn qualified_names() {
        let q = QualifiedName::parse("app.customers").expect("parses");
        assert_eq!((q.schema.as_str(), q.name.as_str()), ("app", "customers"));
        let q = QualifiedName::parse("\"My.Schema\".\"Odd \"\"Name\"\"\"").expect("parses");
        assert_eq!(q.schema, "My.Schema");
        assert_eq!(q.name, "Odd \"Name\"");
        assert_eq!(q.quoted(), "\"My.Schema\".\"Odd \"\"Name\"\"\"");
        let q = QualifiedName::parse("app.Weird Name.idx").expect("parses");
        assert_eq!(
            (q.schema.as_str(), q.name.as_str()),
            ("app", "Weird Name.idx")
        );
        let q = QualifiedName::parse("orders").expect("parses");
        assert_eq!(q.schema, "public");
        assert!(QualifiedName::parse("").is_none());
        assert!(QualifiedName::parse("\"unterminated.x").is_none());
    }

    #[test]
    fn same_definition_ok() {
        let d = def(&["customer_id", "role", "timestamp"], None);
        let want = Wanted {
            definition: &d,
            unique: false,
        };
        let l = live(&["customer_id", "role", "\"timestamp\""], &[false; 3], None);
        assert!(matches(&l, &want));
        let d = def(&["score"], Some("score_type = 'churn'"));
        let want = Wanted {
            definition: &d,
            unique: false,
        };
        assert!(matches(
            &live(&["score"], &[false], Some("score_type = 'churn'::text")),
            &want
        ));
        let d = def(
            &["event_date"],
            Some("followup_scheduled_at IS NULL AND status = 'confirmed'"),
        );
        let want = Wanted {
            definition: &d,
            unique: false,
        };
        assert!(matches(
            &live(
                &["event_date"],
                &[false],
                Some("followup_scheduled_at IS NULL AND status = 'confirmed'::text")
            ),
            &want
        ));
        let d = def(&["created_at DESC", "lower(email)", "Mixed Case"], None);
        let want = Wanted {
            definition: &d,
            unique: false,
        };
        assert!(matches(
            &live(
                &["created_at", "lower(email)", "\"Mixed Case\""],
                &[true, false, false],
                None
            ),
            &want
        ));
    }

    #[test]
    fn different_definition_err() {
        let d = def(&["customer_id", "event_date"], None);
        let want = Wanted {
            definition: &d,
            unique: false,
        };
        // Other order, other direction, extra predicate, other method, unique.
        assert!(!matches(
            &live(&["event_date", "customer_id"], &[false; 2], None),
            &want
        ));
        assert!(!matches(
            &live(&["customer_id", "event_date"], &[false, true], None),
            &want
        ));
        assert!(!matches(
            &live(
                &["customer_id", "event_date"],
                &[false; 2],
                Some("deleted_at IS NULL")
            ),
            &want
        ));
        let mut l = live(&["customer_id", "event_date"], &[false; 2], None);
        l.method = "hash".into();
        assert!(!matches(&l, &want));
        let mut l = live(&["customer_id", "event_date"], &[false; 2], None);
        l.unique = true;
        assert!(!matches(&l, &want));
        assert!(!matches(&live(&["customer_id"], &[false], None), &want));
        // A literal differs only inside quotes: never equal.
        let d = def(&["score"], Some("score_type = 'churn'"));
        let want = Wanted {
            definition: &d,
            unique: false,
        };
        assert!(!matches(
            &live(&["score"], &[false], Some("score_type = 'Churn'::text")),
            &want
        ));
    }

    #[test]
    fn expressions_normalize() {
        assert_eq!(
            normalize_expr("(deleted_at IS NULL)"),
            normalize_expr("deleted_at is null")
        );
        assert_eq!(
            normalize_expr("created_at > '2020-01-01'::timestamp with time zone"),
            normalize_expr("created_at > '2020-01-01'")
        );
        assert_eq!(
            normalize_expr("x = ANY ('{a,b}'::text[])"),
            normalize_expr("x = any('{a,b}')")
        );
        assert_ne!(normalize_expr("\"A\" = 1"), normalize_expr("\"a\" = 1"));
        assert!(has_expression(&def(&["a", "lower(email) DESC"], None)));
        assert!(!has_expression(&def(
            &["a", "Mixed Case DESC", "\"timestamp\""],
            None
        )));
        assert_eq!(
            referenced_columns(&def(
                &["Mixed Case DESC", "lower(email)", "\"timestamp\""],
                None
            )),
            vec!["Mixed Case".to_string(), "timestamp".to_string()]
        );
    }
}
