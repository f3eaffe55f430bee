//! The `cache warm` spec file: which queries fill which keys, encoded how,
//! with which TTL. Parsing and validation, key templates and TTL jitter —
//! all pure; `warm` does the I/O. Format documented in docs/cache.md.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

/// How a row becomes a Redis value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// `SET key '{"col": value, …}'`: the row as one JSON object.
    #[default]
    Json,
    /// `HSET key col value …`: one hash field per non-NULL column, as text.
    Hash,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawTtl {
    Seconds(u64),
    Text(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    ttl: Option<RawTtl>,
    ttl_jitter: Option<f64>,
    batch_size: Option<usize>,
    value: Option<Encoding>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: String,
    query: String,
    #[serde(default)]
    params: Vec<serde_norway::Value>,
    key: String,
    value: Option<Encoding>,
    ttl: Option<RawTtl>,
    ttl_jitter: Option<f64>,
    batch_size: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    #[serde(default)]
    defaults: RawDefaults,
    entries: Vec<RawEntry>,
}

/// A scalar query parameter from the spec, bound (never interpolated).
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

/// One validated spec entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub query: String,
    pub params: Vec<Param>,
    pub key: KeyTemplate,
    pub encoding: Encoding,
    pub ttl: Option<Duration>,
    /// ± percent of the TTL.
    pub ttl_jitter: f64,
    pub batch_size: usize,
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub entries: Vec<Entry>,
}

const DEFAULT_BATCH: usize = 1000;

fn parse_ttl(t: &RawTtl, entry: &str) -> Result<Option<Duration>> {
    match t {
        RawTtl::Seconds(0) => Ok(None),
        RawTtl::Seconds(s) => Ok(Some(Duration::from_secs(*s))),
        RawTtl::Text(s) if s.trim().eq_ignore_ascii_case("none") => Ok(None),
        RawTtl::Text(s) => {
            let d = humantime::parse_duration(s.trim()).map_err(|e| {
                anyhow!("entry {entry:?}: ttl {s:?} is not a duration like 30m or 1h ({e})")
            })?;
            if d.as_millis() == 0 {
                Ok(None)
            } else {
                Ok(Some(d))
            }
        }
    }
}

fn param_of(v: &serde_norway::Value, entry: &str, i: usize) -> Result<Param> {
    use serde_norway::Value as V;
    Ok(match v {
        V::Null => Param::Null,
        V::Bool(b) => Param::Bool(*b),
        V::Number(n) => {
            if let Some(i) = n.as_i64() {
                Param::Int(i)
            } else if let Some(f) = n.as_f64() {
                Param::Float(f)
            } else {
                bail!(
                    "entry {entry:?}: parameter ${} is a number out of range",
                    i + 1
                )
            }
        }
        V::String(s) => Param::Text(s.clone()),
        _ => bail!(
            "entry {entry:?}: parameter ${} must be a scalar (string, number, boolean or null)",
            i + 1
        ),
    })
}

impl Spec {
    pub fn parse(text: &str) -> Result<Spec> {
        let raw: RawSpec = serde_norway::from_str(text)
            .context("the spec is not valid (see docs/cache.md, section `cache warm SPEC.yaml`)")?;
        if raw.entries.is_empty() {
            bail!("the spec has no entries");
        }
        let d = &raw.defaults;
        let mut names = HashSet::new();
        let mut entries = Vec::new();
        for e in raw.entries {
            if !names.insert(e.name.clone()) {
                bail!(
                    "entry name {:?} appears twice; names must be unique",
                    e.name
                );
            }
            let query = e.query.trim().trim_end_matches(';').trim().to_string();
            if query.is_empty() {
                bail!("entry {:?}: query is empty", e.name);
            }
            let ttl = match e.ttl.as_ref().or(d.ttl.as_ref()) {
                Some(t) => parse_ttl(t, &e.name)?,
                None => None,
            };
            let ttl_jitter = e.ttl_jitter.or(d.ttl_jitter).unwrap_or(0.0);
            if !(0.0..=100.0).contains(&ttl_jitter) {
                bail!(
                    "entry {:?}: ttl_jitter must be a percentage between 0 and 100",
                    e.name
                );
            }
            let batch_size = e.batch_size.or(d.batch_size).unwrap_or(DEFAULT_BATCH);
            if batch_size == 0 {
                bail!("entry {:?}: batch_size must be at least 1", e.name);
            }
            let params = e
                .params
                .iter()
                .enumerate()
                .map(|(i, v)| param_of(v, &e.name, i))
                .collect::<Result<Vec<_>>>()?;
            let key = KeyTemplate::parse(&e.key)
                .with_context(|| format!("entry {:?}: key template {:?}", e.name, e.key))?;
            entries.push(Entry {
                name: e.name,
                query,
                params,
                key,
                encoding: e.value.or(d.value).unwrap_or_default(),
                ttl,
                ttl_jitter,
                batch_size,
            });
        }
        Ok(Spec { entries })
    }
}

/// A key template: literal text and `{column}` references; `{{` and `}}`
/// are literal braces (for cluster hash tags: `{{tenant:{tenant_id}}}:…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    pub parts: Vec<KeyPart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    Literal(String),
    Column(String),
}

impl KeyTemplate {
    pub fn parse(t: &str) -> Result<KeyTemplate> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = t.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let mut col = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => col.push(c),
                            None => bail!("unclosed {{ (write {{{{ for a literal brace)"),
                        }
                    }
                    let col = col.trim().to_string();
                    if col.is_empty() {
                        bail!("empty {{}} (name a result column, e.g. {{id}})");
                    }
                    if !lit.is_empty() {
                        parts.push(KeyPart::Literal(std::mem::take(&mut lit)));
                    }
                    parts.push(KeyPart::Column(col));
                }
                '}' => bail!("unmatched }} (write }}}} for a literal brace)"),
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(KeyPart::Literal(lit));
        }
        if !parts.iter().any(|p| matches!(p, KeyPart::Column(_))) {
            bail!("names no column: every row would write the same key (use e.g. customer:{{id}})");
        }
        Ok(KeyTemplate { parts })
    }

    /// Columns referenced, in order of first use, without duplicates.
    pub fn columns(&self) -> Vec<&str> {
        let mut seen = Vec::new();
        for p in &self.parts {
            if let KeyPart::Column(c) = p
                && !seen.contains(&c.as_str())
            {
                seen.push(c.as_str());
            }
        }
        seen
    }

    /// Render with column values looked up by name; `None` when a value is
    /// NULL (the row gets no key).
    pub fn render<'a>(&self, value: impl Fn(&str) -> Option<&'a [u8]>) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(32);
        for p in &self.parts {
            match p {
                KeyPart::Literal(l) => out.extend_from_slice(l.as_bytes()),
                KeyPart::Column(c) => out.extend_from_slice(value(c)?),
            }
        }
        Some(out)
    }
}

/// The TTL for one key in milliseconds: the base ± `jitter` percent,
/// deterministic in (key, seed) so re-runs and tests are reproducible while
/// expiries still spread across keys. At least 1 ms.
pub fn ttl_for(key: &[u8], base: Duration, jitter_pct: f64, seed: u64) -> u64 {
    let base_ms = base.as_millis().min(u128::from(u64::MAX)) as u64;
    if jitter_pct <= 0.0 {
        return base_ms.max(1);
    }
    let h = xxhash_rust::xxh3::xxh3_64_with_seed(key, seed);
    // Uniform in [-1, 1].
    let u = (h >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
    let ms = base_ms as f64 * (1.0 + u * jitter_pct / 100.0);
    (ms.round() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
defaults:
  ttl: 1h
  batch_size: 500
entries:
  - name: customers
    query: "SELECT id, name FROM app.customers WHERE status = $1;"
    params: [active]
    key: "customer:{id}"
  - name: churn
    query: SELECT customer_id, score FROM app.customer_scores WHERE score > $1 AND flag = $2
    params: [0.5, true]
    key: "churn:{customer_id}"
    value: hash
    ttl: 30m
    ttl_jitter: 10
    batch_size: 100
"#;

    #[test]
    fn parses_spec_with_defaults() {
        let s = Spec::parse(SPEC).expect("valid");
        assert_eq!(s.entries.len(), 2);
        let c = &s.entries[0];
        assert_eq!(
            c.query,
            "SELECT id, name FROM app.customers WHERE status = $1"
        );
        assert_eq!(c.params, vec![Param::Text("active".into())]);
        assert_eq!(c.ttl, Some(Duration::from_secs(3600)));
        assert_eq!((c.batch_size, c.encoding), (500, Encoding::Json));
        let h = &s.entries[1];
        assert_eq!(h.params, vec![Param::Float(0.5), Param::Bool(true)]);
        assert_eq!(
            (h.encoding, h.ttl, h.ttl_jitter, h.batch_size),
            (Encoding::Hash, Some(Duration::from_secs(1800)), 10.0, 100)
        );
    }

    #[test]
    fn rejects_bad_specs() {
        let cases = [
            ("entries: []", "no entries"),
            (
                "entries:\n  - {name: a, query: 'select 1', key: 'k'}",
                "names no column",
            ),
            (
                "entries:\n  - {name: a, query: 'select 1', key: 'k:{id', ttl: 1h}",
                "unclosed",
            ),
            (
                "entries:\n  - {name: a, query: 'select 1', key: 'k:{id}', ttl: soon}",
                "not a duration",
            ),
            (
                "entries:\n  - {name: a, query: 'select 1', key: 'k:{id}', ttl_jitter: 150}",
                "percentage",
            ),
            (
                "entries:\n  - {name: a, query: 'select 1', key: 'k:{id}', colour: red}",
                "not valid",
            ),
            (
                "entries:\n  - {name: a, query: 'select 1', key: 'k:{id}'}\n  - {name: a, query: 'select 1', key: 'k:{id}'}",
                "twice",
            ),
        ];
        for (text, want) in cases {
            let err = Spec::parse(text)
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn key_templates() {
        let t = KeyTemplate::parse("{{t:{tenant}}}:customer:{id}:{id}").expect("valid");
        assert_eq!(t.columns(), vec!["tenant", "id"]);
        let key = t.render(|c| match c {
            "tenant" => Some(b"7".as_slice()),
            "id" => Some(b"42".as_slice()),
            _ => None,
        });
        assert_eq!(key.as_deref(), Some(b"{t:7}:customer:42:42".as_slice()));
        assert_eq!(t.render(|_| None), None);
    }

    #[test]
    fn jitter_is_bounded_and_deterministic() {
        let base = Duration::from_secs(1800);
        let mut distinct = HashSet::new();
        for i in 0..1000 {
            let k = format!("churn:{i}");
            let t = ttl_for(k.as_bytes(), base, 10.0, 0);
            assert!((1_620_000..=1_980_000).contains(&t), "{t}");
            assert_eq!(t, ttl_for(k.as_bytes(), base, 10.0, 0));
            distinct.insert(t);
        }
        assert!(distinct.len() > 900);
        assert_eq!(ttl_for(b"x", base, 0.0, 9), 1_800_000);
        assert_ne!(ttl_for(b"x", base, 10.0, 1), ttl_for(b"x", base, 10.0, 2));
    }
}
