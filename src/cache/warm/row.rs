//! How one row of an entry's query becomes a key and a value.
//!
//! PostgreSQL sends each column in the cheapest form that can still be
//! rendered exactly: integers (int2/4/8) and booleans in binary, text-like values as
//! their bytes, json as is, and anything else already rendered by
//! `to_json(col)`. The client assembles the JSON object from those pieces —
//! byte for byte what `row_to_json(q)` returns (tests/cache.rs compares them
//! over every common type) — while PostgreSQL spends a third of the CPU that
//! `row_to_json` costs it (it looks up every column's type on every row).

use anyhow::{Result, anyhow, bail};
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Type};

use crate::cache::resp::push_int;
use crate::cache::spec::{Encoding, KeyPart, KeyTemplate};
use crate::ident::quote_ident;

/// How one fetched column is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fetch {
    Int2,
    Int4,
    Int8,
    Bool,
    /// Types whose binary form is their text output (text, varchar,
    /// bpchar, name): a JSON string.
    Text,
    /// json (binary form = the text) or anything fetched as
    /// `to_json(col)::text`: embedded as is.
    Json,
    /// jsonb: a version byte, then the text.
    Jsonb,
    /// `col::text`: PostgreSQL's text cast (hash fields, keys of other types).
    AsText,
}

impl Fetch {
    /// What a column of type `ty` is fetched as for JSON, and its SQL.
    fn for_json(ty: &Type, col: &str) -> (Fetch, String) {
        let f = match *ty {
            Type::INT2 => Fetch::Int2,
            Type::INT4 => Fetch::Int4,
            Type::INT8 => Fetch::Int8,
            Type::BOOL => Fetch::Bool,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => Fetch::Text,
            Type::JSON => Fetch::Json,
            Type::JSONB => Fetch::Jsonb,
            _ => {
                return (
                    Fetch::Json,
                    format!("to_json(q.{})::text", quote_ident(col)),
                );
            }
        };
        (f, format!("q.{}", quote_ident(col)))
    }

    /// Whether the key text of this fetch equals PostgreSQL's `col::text`
    /// (the documented key rendering). bpchar is not: its cast to text
    /// drops the padding.
    fn is_key_text(self, ty: &Type) -> bool {
        match self {
            Fetch::Int2 | Fetch::Int4 | Fetch::Int8 | Fetch::Bool | Fetch::AsText => true,
            Fetch::Text => *ty != Type::BPCHAR,
            Fetch::Json | Fetch::Jsonb => false,
        }
    }
}

/// A column's raw bytes as PostgreSQL sent them (binary format).
struct Raw<'a>(&'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

enum KeyPiece {
    Lit(Vec<u8>),
    Col(usize),
}

/// What to select around an entry's query and how to turn each row into a
/// key and a value.
pub(super) struct RowPlan {
    /// The select list over `({query}) AS q`.
    pub select_list: String,
    fetched: Vec<(String, Fetch)>,
    /// JSON: per query column, `{"name":` or `,"name":` and its fetched index.
    json: Vec<(Vec<u8>, usize)>,
    /// Hash: per query column, the field name (= fetched index).
    fields: Vec<String>,
    key: Vec<KeyPiece>,
}

impl RowPlan {
    /// `columns`: the entry query's result columns and their types, already
    /// checked for duplicates and for every key template column.
    pub fn new(columns: &[(String, Type)], key: &KeyTemplate, encoding: Encoding) -> RowPlan {
        let mut exprs = Vec::new();
        let mut fetched: Vec<(String, Fetch)> = Vec::new();
        let mut json = Vec::new();
        let mut fields = Vec::new();
        for (i, (name, ty)) in columns.iter().enumerate() {
            let (fetch, expr) = match encoding {
                Encoding::Json => Fetch::for_json(ty, name),
                Encoding::Hash => (Fetch::AsText, format!("q.{}::text", quote_ident(name))),
            };
            exprs.push(expr);
            fetched.push((name.clone(), fetch));
            match encoding {
                Encoding::Json => {
                    let mut prefix = Vec::with_capacity(name.len() + 4);
                    prefix.push(if i == 0 { b'{' } else { b',' });
                    escape_json(&mut prefix, name.as_bytes());
                    prefix.push(b':');
                    json.push((prefix, i));
                }
                Encoding::Hash => fields.push(name.clone()),
            }
        }
        let mut key_cols: Vec<(&str, usize)> = Vec::new();
        for c in key.columns() {
            let reuse = columns
                .iter()
                .position(|(n, _)| n == c)
                .filter(|&i| fetched[i].1.is_key_text(&columns[i].1));
            let idx = reuse.unwrap_or_else(|| {
                exprs.push(format!("q.{}::text", quote_ident(c)));
                fetched.push((c.to_string(), Fetch::AsText));
                fetched.len() - 1
            });
            key_cols.push((c, idx));
        }
        let key = key
            .parts
            .iter()
            .map(|p| match p {
                KeyPart::Literal(l) => KeyPiece::Lit(l.as_bytes().to_vec()),
                KeyPart::Column(c) => {
                    KeyPiece::Col(key_cols.iter().find(|(n, _)| n == c).map_or(0, |(_, i)| *i))
                }
            })
            .collect();
        RowPlan {
            select_list: exprs.join(", "),
            fetched,
            json,
            fields,
            key,
        }
    }

    fn raw<'r>(&self, row: &'r Row, i: usize) -> Result<Option<&'r [u8]>> {
        Ok(row
            .try_get::<_, Option<Raw<'_>>>(i)
            .map_err(|e| anyhow!("decoding column {:?}: {e}", self.fetched[i].0))?
            .map(|r| r.0))
    }

    /// Append the row's key to `out`; false when a key column is NULL (the
    /// row gets no key).
    pub fn key(&self, row: &Row, out: &mut Vec<u8>) -> Result<bool> {
        for p in &self.key {
            match p {
                KeyPiece::Lit(l) => out.extend_from_slice(l),
                KeyPiece::Col(i) => match self.raw(row, *i)? {
                    None => return Ok(false),
                    Some(b) => self.push_text(out, *i, b)?,
                },
            }
        }
        Ok(true)
    }

    /// Append the row as one JSON object (what `row_to_json` renders).
    pub fn json(&self, row: &Row, out: &mut Vec<u8>) -> Result<()> {
        for (prefix, i) in &self.json {
            out.extend_from_slice(prefix);
            match self.raw(row, *i)? {
                None => out.extend_from_slice(b"null"),
                Some(b) => self.push_json(out, *i, b)?,
            }
        }
        if self.json.is_empty() {
            out.push(b'{');
        }
        out.push(b'}');
        Ok(())
    }

    /// The row's non-NULL columns as (field, text) pairs.
    pub fn fields<'r>(&'r self, row: &'r Row) -> Result<Vec<(&'r str, &'r [u8])>> {
        let mut out = Vec::with_capacity(self.fields.len());
        for (i, f) in self.fields.iter().enumerate() {
            if let Some(b) = self.raw(row, i)? {
                out.push((f.as_str(), b));
            }
        }
        Ok(out)
    }

    /// A column's text: numbers in decimal, booleans as true/false, text as is.
    fn push_text(&self, out: &mut Vec<u8>, i: usize, b: &[u8]) -> Result<()> {
        match self.fetched[i].1 {
            Fetch::Int2 | Fetch::Int4 | Fetch::Int8 => {
                push_int(out, self.int(i, b)?);
            }
            Fetch::Bool => out.extend_from_slice(if b == [1] { b"true" } else { b"false" }),
            Fetch::Text | Fetch::AsText | Fetch::Json => out.extend_from_slice(b),
            Fetch::Jsonb => out.extend_from_slice(self.jsonb(i, b)?),
        }
        Ok(())
    }

    fn push_json(&self, out: &mut Vec<u8>, i: usize, b: &[u8]) -> Result<()> {
        match self.fetched[i].1 {
            Fetch::Text | Fetch::AsText => escape_json(out, b),
            _ => self.push_text(out, i, b)?,
        }
        Ok(())
    }

    fn int(&self, i: usize, b: &[u8]) -> Result<i64> {
        let bad = || {
            anyhow!(
                "decoding column {:?}: {} bytes for a {:?}",
                self.fetched[i].0,
                b.len(),
                self.fetched[i].1
            )
        };
        Ok(match self.fetched[i].1 {
            Fetch::Int2 => i16::from_be_bytes(b.try_into().map_err(|_| bad())?).into(),
            Fetch::Int4 => i32::from_be_bytes(b.try_into().map_err(|_| bad())?).into(),
            _ => i64::from_be_bytes(b.try_into().map_err(|_| bad())?),
        })
    }

    fn jsonb<'b>(&self, i: usize, b: &'b [u8]) -> Result<&'b [u8]> {
        match b.split_first() {
            Some((1, text)) => Ok(text),
            _ => bail!(
                "decoding column {:?}: unknown jsonb binary version",
                self.fetched[i].0
            ),
        }
    }
}

/// Append `s` as a JSON string the way PostgreSQL's `escape_json` does:
/// `\b \f \n \r \t \" \\` by name, other control characters as `\u00xx`,
/// everything else (UTF-8 included) as is.
pub(super) fn escape_json(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    let mut start = 0;
    for (i, &c) in s.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            c if c < b' ' => {
                out.extend_from_slice(&s[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 15)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&s[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        let mut v = Vec::new();
        escape_json(&mut v, s.as_bytes());
        String::from_utf8(v).expect("utf-8")
    }

    #[test]
    fn escapes_like_postgres() {
        assert_eq!(esc("plain"), "\"plain\"");
        assert_eq!(esc("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(esc("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(esc("\u{1}x\u{1f}"), r#""\u0001x\u001f""#);
        assert_eq!(esc("é/✓ \u{7f}"), "\"é/✓ \u{7f}\"");
        // Whatever it escapes, serde_json reads back the same text.
        let s = "q\"\\\u{0}\u{1b}[0m\tend";
        let back: String = serde_json::from_str(&esc(s)).expect("valid JSON");
        assert_eq!(back, s);
    }

    #[test]
    fn plan_selects_cheap_forms_and_extra_key_columns() {
        let cols = vec![
            ("id".to_string(), Type::INT8),
            ("code".to_string(), Type::BPCHAR),
            ("at".to_string(), Type::TIMESTAMPTZ),
            ("Name".to_string(), Type::TEXT),
        ];
        let key = KeyTemplate::parse("c:{code}:{id}:{Name}").expect("template");
        let p = RowPlan::new(&cols, &key, Encoding::Json);
        assert_eq!(
            p.select_list,
            r#"q.id, q.code, to_json(q.at)::text, q."Name", q.code::text"#
        );
        let h = RowPlan::new(&cols, &key, Encoding::Hash);
        assert_eq!(
            h.select_list,
            r#"q.id::text, q.code::text, q.at::text, q."Name"::text"#
        );
    }
}
