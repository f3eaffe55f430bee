//! The catalog: what the database is made of (tables, columns and their
//! planner statistics, indexes, foreign keys, usage counters). Read live
//! from a server (`live`) or from a `pg_dump --schema-only` file
//! (`schema_file`, no statistics). Advice works on these plain structs only.

pub mod live;
pub mod schema_file;
pub mod stats_file;

use serde::{Deserialize, Serialize};

/// Where a catalog came from; proposals from a schema file are unvalidated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CatalogSource {
    Live,
    SchemaFile,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub source: CatalogSource,
    pub tables: Vec<Table>,
    pub indexes: Vec<Index>,
    pub foreign_keys: Vec<ForeignKey>,
    /// Since when usage counters (idx_scan, n_tup_*) have been collecting.
    pub stats_since: Option<String>,
    /// Age of those counters in seconds.
    pub stats_age_seconds: Option<f64>,
    pub server_version_num: Option<i32>,
    /// Whether the hypopg extension is installed in this database.
    pub has_hypopg: bool,
    /// Schemas an unqualified table name is looked up in, in order.
    pub search_path: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub schema: String,
    pub name: String,
    pub columns: Vec<Column>,
    /// Planner's row estimate (`pg_class.reltuples`; -1 when never analyzed).
    pub reltuples: f64,
    pub relpages: i64,
    pub total_bytes: i64,
    pub seq_scan: i64,
    pub idx_scan: i64,
    pub n_tup_ins: i64,
    pub n_tup_upd: i64,
    pub n_tup_del: i64,
    pub n_tup_hot_upd: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub type_name: String,
    pub not_null: bool,
    pub stats: Option<ColumnStats>,
}

/// One column's `pg_stats` row: what selectivity estimates are made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnStats {
    pub null_frac: f64,
    /// Positive: distinct count; negative: minus the fraction of rows distinct.
    pub n_distinct: f64,
    pub avg_width: i32,
    pub correlation: Option<f64>,
    /// Most common values as text, with their frequencies.
    pub most_common_vals: Vec<String>,
    pub most_common_freqs: Vec<f64>,
}

impl ColumnStats {
    /// The most common values and their frequencies as `pg_stats` gives them
    /// (arrays that may be NULL, with NULL elements): NULL arrays become
    /// empty, a NULL value the empty string, a NULL frequency 0.
    pub fn most_common(
        vals: Option<Vec<Option<String>>>,
        freqs: Option<Vec<Option<f64>>>,
    ) -> (Vec<String>, Vec<f64>) {
        (
            vals.unwrap_or_default()
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect(),
            freqs
                .unwrap_or_default()
                .into_iter()
                .map(|f| f.unwrap_or(0.0))
                .collect(),
        )
    }
}

/// One key of an index: a column name or an expression, with sort options.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IndexKey {
    /// Column name (unquoted), or the expression as `pg_get_indexdef` prints it.
    pub expr: String,
    /// True when `expr` is an expression rather than a plain column.
    pub is_expression: bool,
    pub descending: bool,
    pub nulls_first: bool,
}

impl IndexKey {
    pub fn column(name: &str) -> Self {
        IndexKey {
            expr: name.to_string(),
            is_expression: false,
            descending: false,
            nulls_first: false,
        }
    }

    /// The sort options as SQL: ``, ` DESC`, ` DESC NULLS LAST`, ` NULLS FIRST`
    /// (PostgreSQL's defaults are left out).
    pub fn order_suffix(&self) -> &'static str {
        match (self.descending, self.nulls_first) {
            (true, true) => " DESC",
            (true, false) => " DESC NULLS LAST",
            (false, true) => " NULLS FIRST",
            (false, false) => "",
        }
    }

    /// The key as reports show it: a column name or expression with its sort options.
    pub fn text(&self) -> String {
        format!("{}{}", self.expr, self.order_suffix())
    }

    /// Read a key as [`IndexKey::text`] writes it (and as a plan file's
    /// `definition.columns` holds it): a column name, raw (`Mixed Case`) or
    /// double-quoted (`"timestamp"`), or an expression (`lower(email)`),
    /// then optional `ASC`/`DESC` and `NULLS FIRST`/`NULLS LAST` in any case.
    /// Text with expression punctuation is an expression; PostgreSQL's
    /// defaults fill in what is left out (`DESC` sorts NULLs first).
    pub fn parse(text: &str) -> IndexKey {
        let mut body = text.trim();
        let mut nulls_first = None;
        for (suffix, first) in [(" NULLS FIRST", true), (" NULLS LAST", false)] {
            if let Some(rest) = strip_suffix_ignore_case(body, suffix) {
                body = rest.trim_end();
                nulls_first = Some(first);
                break;
            }
        }
        let mut descending = false;
        if let Some(rest) = strip_suffix_ignore_case(body, " DESC") {
            body = rest.trim_end();
            descending = true;
        } else if let Some(rest) = strip_suffix_ignore_case(body, " ASC") {
            body = rest.trim_end();
        }
        let (expr, is_expression) = match key_name(body) {
            Some(name) => (name, false),
            None => (body.to_string(), true),
        };
        IndexKey {
            expr,
            is_expression,
            descending,
            nulls_first: nulls_first.unwrap_or(descending),
        }
    }

    /// Same key with the same ordering (`DESC` implies NULLS FIRST by default).
    pub fn same_order(&self, other: &IndexKey) -> bool {
        self.expr == other.expr
            && self.descending == other.descending
            && self.nulls_first == other.nulls_first
    }
}

/// A key's text as a column name when it is one: double-quoted, or raw
/// (anything without expression punctuation).
fn key_name(text: &str) -> Option<String> {
    if text.starts_with('"') {
        let (name, is_expression) = live::index_column(text);
        return (!is_expression).then_some(name);
    }
    let expression = text.contains([
        '(', ')', '+', '-', '*', '/', '|', ':', ',', '\'', '=', '<', '>',
    ]);
    (!expression && !text.is_empty()).then(|| text.to_string())
}

/// `text` without `suffix` (ASCII, compared ignoring case), if it ends so.
fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = text.len().checked_sub(suffix.len())?;
    let (head, tail) = (text.get(..cut)?, text.get(cut..)?);
    tail.eq_ignore_ascii_case(suffix).then_some(head)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub schema: String,
    pub name: String,
    /// The indexed table's schema and name.
    pub table_schema: String,
    pub table: String,
    /// Access method: btree, hash, gin, gist, brin, …
    pub method: String,
    pub keys: Vec<IndexKey>,
    pub include: Vec<String>,
    /// Partial index predicate as PostgreSQL prints it.
    pub predicate: Option<String>,
    pub unique: bool,
    pub primary: bool,
    /// Name of the constraint (primary key, unique, exclusion) this index backs.
    pub constraint: Option<String>,
    pub valid: bool,
    pub ready: bool,
    /// `CREATE INDEX …` as `pg_get_indexdef` prints it.
    pub definition: String,
    pub size_bytes: i64,
    /// Scans since the statistics were reset.
    pub idx_scan: i64,
}

impl Index {
    /// Backs a constraint or enforces uniqueness: never proposed for dropping.
    pub fn is_protected(&self) -> bool {
        self.unique || self.primary || self.constraint.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub name: String,
    pub schema: String,
    pub table: String,
    pub columns: Vec<String>,
    pub ref_schema: String,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
}

impl Catalog {
    /// A catalog that knows nothing: candidates built against it use no statistics.
    pub fn empty() -> Catalog {
        Catalog {
            source: CatalogSource::SchemaFile,
            tables: Vec::new(),
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
            stats_since: None,
            stats_age_seconds: None,
            server_version_num: None,
            has_hypopg: false,
            search_path: Vec::new(),
        }
    }

    pub fn table(&self, schema: &str, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.schema == schema && t.name == name)
    }

    /// Resolve a possibly unqualified table name through the search path.
    pub fn resolve_table(&self, schema: Option<&str>, name: &str) -> Option<&Table> {
        match schema {
            Some(s) => self.table(s, name),
            None => self
                .search_path
                .iter()
                .find_map(|s| self.table(s, name))
                .or_else(|| {
                    // Unqualified and not on the path: accept a unique match in any schema.
                    let mut matches = self.tables.iter().filter(|t| t.name == name);
                    let first = matches.next();
                    if matches.next().is_some() {
                        None
                    } else {
                        first
                    }
                }),
        }
    }

    pub fn indexes_on<'a>(
        &'a self,
        schema: &'a str,
        table: &'a str,
    ) -> impl Iterator<Item = &'a Index> + 'a {
        self.indexes
            .iter()
            .filter(move |i| i.table_schema == schema && i.table == table)
    }
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Rows per second written to the table since stats reset (inserts,
    /// updates that are not HOT, deletes): what every extra index pays for.
    pub fn index_write_rate(&self, age_seconds: Option<f64>) -> f64 {
        let writes =
            (self.n_tup_ins + (self.n_tup_upd - self.n_tup_hot_upd).max(0) + self.n_tup_del) as f64;
        match age_seconds {
            Some(a) if a > 0.0 => writes / a,
            _ => 0.0,
        }
    }

    /// Row estimate usable in arithmetic (never analyzed → 0).
    pub fn rows(&self) -> f64 {
        self.reltuples.max(0.0)
    }
}

/// Parse `search_path` as `current_setting('search_path')` returns it,
/// dropping `"$user"` when no such schema matters and unquoting names.
pub fn parse_search_path(setting: &str, user: Option<&str>) -> Vec<String> {
    setting
        .split(',')
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let unquoted = if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
                s[1..s.len() - 1].replace("\"\"", "\"")
            } else {
                s.to_lowercase()
            };
            if unquoted == "$user" {
                user.map(str::to_string)
            } else {
                Some(unquoted)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_key_text_round_trips() {
        for expr in ["created_at", "Mixed Case", "lower(email)", "(a + b)"] {
            for (descending, nulls_first) in
                [(false, false), (false, true), (true, true), (true, false)]
            {
                let key = IndexKey {
                    expr: expr.to_string(),
                    is_expression: expr.contains('('),
                    descending,
                    nulls_first,
                };
                assert_eq!(IndexKey::parse(&key.text()), key, "{}", key.text());
            }
        }
    }

    #[test]
    fn index_key_parses_written_forms() {
        let key = |expr: &str, is_expression, descending, nulls_first| IndexKey {
            expr: expr.to_string(),
            is_expression,
            descending,
            nulls_first,
        };
        assert_eq!(
            IndexKey::parse(" email "),
            key("email", false, false, false)
        );
        assert_eq!(
            IndexKey::parse("\"timestamp\" asc"),
            key("timestamp", false, false, false)
        );
        assert_eq!(
            IndexKey::parse("\"Odd \"\"Name\"\"\" desc nulls last"),
            key("Odd \"Name\"", false, true, false)
        );
        assert_eq!(
            IndexKey::parse("created_at DESC"),
            key("created_at", false, true, true)
        );
        assert_eq!(
            IndexKey::parse("score NULLS FIRST"),
            key("score", false, false, true)
        );
        assert_eq!(
            IndexKey::parse("lower(email) DESC"),
            key("lower(email)", true, true, true)
        );
        assert_eq!(
            IndexKey::parse("(payload->>'kind')"),
            key("(payload->>'kind')", true, false, false)
        );
        // Not a column name: expression punctuation, or a quote left open.
        assert!(IndexKey::parse("a+b").is_expression);
        assert!(IndexKey::parse("\"a\" || \"b\"").is_expression);
    }

    #[test]
    fn search_path_parsing() {
        assert_eq!(
            parse_search_path("\"$user\", public", Some("alice")),
            vec!["alice", "public"]
        );
        assert_eq!(
            parse_search_path("app, \"My Schema\"", None),
            vec!["app", "My Schema"]
        );
        assert_eq!(parse_search_path("\"$user\", public", None), vec!["public"]);
    }
}
