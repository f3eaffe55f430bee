//! Column statistics from a file: the `pg_stats` rows and row estimates of
//! a real database, exported with `sql/export_column_stats.sql`, folded
//! into a catalog read from a schema file. Offline advice then orders keys
//! by selectivity and refuses lookups on skewed columns (`status = $1` when
//! 90% of rows are 'active') the way advice on a live server does — without
//! a connection, e.g. in CI against a committed export from production.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::{Catalog, ColumnStats};

const FORMAT: &str = "pgadvisor-column-stats/1";

#[derive(Debug, Deserialize)]
struct File {
    format: String,
    #[serde(default)]
    tables: Vec<FileTable>,
}

#[derive(Debug, Deserialize)]
struct FileTable {
    schema: String,
    name: String,
    reltuples: f64,
    #[serde(default)]
    columns: Vec<FileColumn>,
}

#[derive(Debug, Deserialize)]
struct FileColumn {
    name: String,
    null_frac: f64,
    n_distinct: f64,
    #[serde(default)]
    avg_width: i32,
    correlation: Option<f64>,
    #[serde(default)]
    most_common_vals: Option<Vec<Option<String>>>,
    #[serde(default)]
    most_common_freqs: Option<Vec<Option<f64>>>,
}

/// What folding a statistics file into a catalog did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Tables of the catalog that got a row estimate and column statistics.
    pub tables: usize,
    pub columns: usize,
    /// Tables in the file the schema does not define (`schema.name`).
    pub unknown_tables: Vec<String>,
}

/// Read `path` and fold it into `catalog`.
pub fn apply_path(catalog: &mut Catalog, path: &Path) -> Result<Applied> {
    let text = std::fs::read(path)
        .with_context(|| format!("cannot read column statistics {}", path.display()))?;
    apply(catalog, &text).with_context(|| {
        format!(
            "reading column statistics {} (export them with: psql -XAtq -d DSN -f sql/export_column_stats.sql > FILE)",
            path.display()
        )
    })
}

/// Fold an export (JSON text) into `catalog`: each known table gets its row
/// estimate, each known column its statistics. Columns and tables the
/// schema does not define are left out (and the tables listed).
pub fn apply(catalog: &mut Catalog, json: &[u8]) -> Result<Applied> {
    let file: File = serde_json::from_slice(json).context("not a column statistics export")?;
    if file.format != FORMAT {
        bail!(
            "format {:?} is not {FORMAT:?}; export again with this version's sql/export_column_stats.sql",
            file.format
        );
    }
    let mut applied = Applied::default();
    for ft in file.tables {
        let Some(table) = catalog
            .tables
            .iter_mut()
            .find(|t| t.schema == ft.schema && t.name == ft.name)
        else {
            applied
                .unknown_tables
                .push(format!("{}.{}", ft.schema, ft.name));
            continue;
        };
        table.reltuples = ft.reltuples;
        applied.tables += 1;
        for fc in ft.columns {
            let Some(col) = table.columns.iter_mut().find(|c| c.name == fc.name) else {
                continue;
            };
            let (most_common_vals, most_common_freqs) =
                ColumnStats::most_common(fc.most_common_vals, fc.most_common_freqs);
            col.stats = Some(ColumnStats {
                null_frac: fc.null_frac,
                n_distinct: fc.n_distinct,
                avg_width: fc.avg_width,
                correlation: fc.correlation,
                most_common_vals,
                most_common_freqs,
            });
            applied.columns += 1;
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::schema_file;

    const SCHEMA: &str =
        "CREATE TABLE app.customers (id bigint PRIMARY KEY, status text NOT NULL, email text);";

    #[test]
    fn folds_known_tables_and_columns() {
        let mut cat = schema_file::parse(SCHEMA).expect("schema");
        let json = br#"{"format": "pgadvisor-column-stats/1", "server_version": "15.18",
          "tables": [
            {"schema": "app", "name": "customers", "reltuples": 200000, "columns": [
              {"name": "status", "null_frac": 0, "n_distinct": 3, "avg_width": 7, "correlation": 0.8,
               "most_common_vals": ["active", "churned", "pending"], "most_common_freqs": [0.9, 0.08, 0.02]},
              {"name": "email", "null_frac": 0.3, "n_distinct": -0.7, "avg_width": 22, "correlation": null,
               "most_common_vals": null, "most_common_freqs": null},
              {"name": "dropped_later", "null_frac": 0, "n_distinct": 1, "avg_width": 4, "correlation": 1}]},
            {"schema": "app", "name": "gone", "reltuples": 5, "columns": []}]}"#;
        let applied = apply(&mut cat, json).expect("applies");
        assert_eq!(
            applied,
            Applied {
                tables: 1,
                columns: 2,
                unknown_tables: vec!["app.gone".into()],
            }
        );
        let t = cat.table("app", "customers").expect("table");
        assert_eq!(t.rows(), 200000.0);
        let st = t
            .column("status")
            .and_then(|c| c.stats.as_ref())
            .expect("stats");
        assert_eq!(st.most_common_vals, ["active", "churned", "pending"]);
        assert_eq!(st.most_common_freqs, [0.9, 0.08, 0.02]);
        let em = t
            .column("email")
            .and_then(|c| c.stats.as_ref())
            .expect("stats");
        assert!(em.most_common_vals.is_empty() && em.correlation.is_none());
        assert!(t.column("id").and_then(|c| c.stats.as_ref()).is_none());
    }

    #[test]
    fn refuses_what_is_not_an_export() {
        let mut cat = schema_file::parse(SCHEMA).expect("schema");
        let err = apply(&mut cat, br#"{"format": "other/2", "tables": []}"#).expect_err("format");
        assert!(format!("{err:#}").contains("export again"), "{err:#}");
        assert!(apply(&mut cat, b"schemaname,tablename\n").is_err());
    }
}
