//! Names as a plan writes them (`schema.name`, raw identifiers) and the
//! comparison of a live index (a [`catalog::Index`](Index), read by the
//! catalog) with a planned [`Definition`], both as catalog [`IndexKey`]s.
//! Pure: tested without a server.

use crate::catalog::{Index, IndexKey};
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

/// A planned create as catalog keys: what a live index must have to be the
/// planned one.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub method: String,
    pub keys: Vec<IndexKey>,
    pub include: Vec<IndexKey>,
    pub predicate: Option<String>,
    pub unique: bool,
}

impl Planned {
    /// The plan's definition of a create, and whether its DDL is UNIQUE.
    pub fn new(definition: &Definition, unique: bool) -> Planned {
        Planned {
            method: definition.method.clone(),
            keys: definition
                .columns
                .iter()
                .map(|c| IndexKey::parse(c))
                .collect(),
            include: definition
                .include
                .iter()
                .map(|c| IndexKey::parse(c))
                .collect(),
            predicate: definition.predicate.clone(),
            unique,
        }
    }
}

/// A key's column or expression as SQL text, for comparing a written
/// expression with a printed one.
fn key_sql(k: &IndexKey) -> String {
    if k.is_expression {
        k.expr.clone()
    } else {
        crate::ident::quote_ident(&k.expr)
    }
}

/// Whether a planned key and a live key index the same column or expression
/// (expressions compared as [`normalize_expr`] reduces them).
fn same_expr(planned: &IndexKey, live: &IndexKey) -> bool {
    if planned.is_expression || live.is_expression {
        normalize_expr(&key_sql(planned)) == normalize_expr(&key_sql(live))
    } else {
        planned.expr == live.expr
    }
}

/// Plain column names a definition mentions (keys and INCLUDE), for the
/// "columns still exist" precondition. Expressions are left to the server.
pub fn referenced_columns(def: &Definition) -> Vec<String> {
    def.columns
        .iter()
        .chain(&def.include)
        .map(|c| IndexKey::parse(c))
        .filter(|k| !k.is_expression)
        .map(|k| k.expr)
        .collect()
}

/// Whether any key of a definition is an expression (not a plain column).
pub fn has_expression(def: &Definition) -> bool {
    def.columns.iter().any(|c| IndexKey::parse(c).is_expression)
}

/// Whether a live index is the planned one: same method, keys in order with
/// their sort options (direction and NULLS placement), INCLUDE columns,
/// predicate and uniqueness.
pub fn matches(live: &Index, want: &Planned) -> bool {
    live.method.eq_ignore_ascii_case(&want.method)
        && live.unique == want.unique
        && live.keys.len() == want.keys.len()
        && live.include.len() == want.include.len()
        && want.keys.iter().zip(&live.keys).all(|(p, l)| {
            same_expr(p, l) && p.descending == l.descending && p.nulls_first == l.nulls_first
        })
        && want
            .include
            .iter()
            .zip(&live.include)
            .all(|(p, l)| same_expr(p, &IndexKey::column(l)))
        && match (&want.predicate, &live.predicate) {
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

    /// A live index as catalog reads it from `pg_get_indexdef(oid, k, true)`
    /// texts, with PostgreSQL's default NULLS placement for each direction.
    fn live(cols: &[&str], desc: &[bool], pred: Option<&str>) -> Index {
        Index {
            schema: "app".into(),
            name: "x".into(),
            table_schema: "app".into(),
            table: "t".into(),
            method: "btree".into(),
            keys: cols
                .iter()
                .zip(desc)
                .map(|(c, &d)| {
                    let (expr, is_expression) = crate::catalog::live::index_column(c);
                    IndexKey {
                        expr,
                        is_expression,
                        descending: d,
                        nulls_first: d,
                    }
                })
                .collect(),
            include: vec![],
            predicate: pred.map(String::from),
            unique: false,
            primary: false,
            constraint: None,
            valid: true,
            ready: true,
            definition: String::new(),
            size_bytes: 0,
            idx_scan: 0,
        }
    }

    fn planned(d: &Definition) -> Planned {
        Planned::new(d, false)
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
        let want = planned(&d);
        let l = live(&["customer_id", "role", "\"timestamp\""], &[false; 3], None);
        assert!(matches(&l, &want));
        let d = def(&["score"], Some("score_type = 'churn'"));
        let want = planned(&d);
        assert!(matches(
            &live(&["score"], &[false], Some("score_type = 'churn'::text")),
            &want
        ));
        let d = def(
            &["event_date"],
            Some("followup_scheduled_at IS NULL AND status = 'confirmed'"),
        );
        let want = planned(&d);
        assert!(matches(
            &live(
                &["event_date"],
                &[false],
                Some("followup_scheduled_at IS NULL AND status = 'confirmed'::text")
            ),
            &want
        ));
        let d = def(&["created_at DESC", "lower(email)", "Mixed Case"], None);
        let want = planned(&d);
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
        let want = planned(&d);
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
        // A planned CREATE UNIQUE INDEX is the unique one only.
        let unique = Planned::new(&d, true);
        assert!(matches(&l, &unique));
        assert!(!matches(
            &live(&["customer_id", "event_date"], &[false; 2], None),
            &unique
        ));
        assert!(!matches(&live(&["customer_id"], &[false], None), &want));
        // A literal differs only inside quotes: never equal.
        let d = def(&["score"], Some("score_type = 'churn'"));
        let want = planned(&d);
        assert!(!matches(
            &live(&["score"], &[false], Some("score_type = 'Churn'::text")),
            &want
        ));
    }

    #[test]
    fn sort_options_expressions_and_include() {
        // NULLS placement is part of the key: DESC NULLS LAST is not DESC.
        let d = def(&["created_at DESC NULLS LAST"], None);
        let mut l = live(&["created_at"], &[true], None);
        assert!(!matches(&l, &planned(&d)));
        l.keys[0].nulls_first = false;
        assert!(matches(&l, &planned(&d)));
        assert!(!matches(&l, &planned(&def(&["created_at DESC"], None))));
        // ASC NULLS FIRST is not the default ascending order either.
        let mut l = live(&["score"], &[false], None);
        assert!(!matches(&l, &planned(&def(&["score NULLS FIRST"], None))));
        l.keys[0].nulls_first = true;
        assert!(matches(&l, &planned(&def(&["score nulls first"], None))));

        // An expression key as written and as the server prints it (casts
        // it adds, parentheses); another expression or a plain column is not it.
        let d = def(&["lower(email)", "(payload->>'kind')"], None);
        let l = live(
            &["lower((email)::text)", "(payload ->> 'kind'::text)"],
            &[false; 2],
            None,
        );
        assert!(matches(&l, &planned(&d)));
        assert!(!matches(
            &live(
                &["upper((email)::text)", "(payload ->> 'kind'::text)"],
                &[false; 2],
                None
            ),
            &planned(&d)
        ));
        assert!(!matches(
            &live(&["email", "(payload ->> 'kind'::text)"], &[false; 2], None),
            &planned(&d)
        ));

        // INCLUDE columns: same names in the same order, quoted or not.
        let mut d = def(&["customer_id"], None);
        d.include = vec!["status".into(), "Mixed Case".into()];
        let mut l = live(&["customer_id"], &[false], None);
        l.include = vec!["status".into(), "Mixed Case".into()];
        assert!(matches(&l, &planned(&d)));
        d.include = vec!["status".into(), "\"Mixed Case\"".into()];
        assert!(matches(&l, &planned(&d)));
        l.include = vec!["Mixed Case".into(), "status".into()];
        assert!(!matches(&l, &planned(&d)));
        l.include = vec!["status".into()];
        assert!(!matches(&l, &planned(&d)));
        // An INCLUDE column is not a key column.
        let mut l = live(
            &["customer_id", "status", "\"Mixed Case\""],
            &[false; 3],
            None,
        );
        assert!(!matches(&l, &planned(&d)));
        l.keys.truncate(1);
        assert!(!matches(&l, &planned(&d)));

        // A predicate on one side only, or another predicate.
        let d = def(&["score"], Some("deleted_at IS NULL"));
        assert!(!matches(&live(&["score"], &[false], None), &planned(&d)));
        assert!(!matches(
            &live(&["score"], &[false], Some("deleted_at IS NOT NULL")),
            &planned(&d)
        ));
        assert!(matches(
            &live(&["score"], &[false], Some("(deleted_at IS NULL)")),
            &planned(&d)
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
