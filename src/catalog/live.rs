//! Read the catalog from a live server: four catalog queries (sql/catalog_*.sql),
//! no per-table round trips, so a database with thousands of tables loads in
//! one go. The indexes of a single table (what apply checks before each
//! build) come from the same index query, given that table's oid, read by
//! the same [`index_from_row`].

use std::collections::HashMap;

use anyhow::{Context, Result};
use tokio_postgres::{Client, Row};

use super::{Catalog, CatalogSource, Column, ColumnStats, ForeignKey, Index, IndexKey, Table};

const TABLES_SQL: &str = include_str!("../../sql/catalog_tables.sql");
const COLUMNS_SQL: &str = include_str!("../../sql/catalog_columns.sql");
/// Every index (`$1` NULL) or those of one table (`$1`: its oid): rows for
/// [`index_from_row`].
pub const INDEXES_SQL: &str = include_str!("../../sql/catalog_indexes.sql");
const FOREIGN_KEYS_SQL: &str = include_str!("../../sql/catalog_foreign_keys.sql");
const STATS_AGE_SQL: &str = include_str!("../../sql/catalog_stats_age.sql");

/// Load the whole catalog of the connected database.
pub async fn load(client: &Client) -> Result<Catalog> {
    let meta = client
        .query_one(STATS_AGE_SQL, &[])
        .await
        .context("reading statistics age and server settings (sql/catalog_stats_age.sql)")?;
    let user: Option<String> = client
        .query_one("SELECT current_user::text", &[])
        .await
        .ok()
        .and_then(|r| r.try_get(0).ok());

    let mut by_oid: HashMap<i64, Table> = HashMap::new();
    let mut order: Vec<i64> = Vec::new();
    for row in client
        .query(TABLES_SQL, &[])
        .await
        .context("reading tables (sql/catalog_tables.sql)")?
    {
        let oid: i64 = row.try_get("oid")?;
        order.push(oid);
        by_oid.insert(
            oid,
            Table {
                schema: row.try_get("schema")?,
                name: row.try_get("name")?,
                columns: Vec::new(),
                reltuples: row.try_get("reltuples")?,
                relpages: row.try_get("relpages")?,
                total_bytes: row.try_get("total_bytes")?,
                seq_scan: row.try_get("seq_scan")?,
                idx_scan: row.try_get("idx_scan")?,
                n_tup_ins: row.try_get("n_tup_ins")?,
                n_tup_upd: row.try_get("n_tup_upd")?,
                n_tup_del: row.try_get("n_tup_del")?,
                n_tup_hot_upd: row.try_get("n_tup_hot_upd")?,
            },
        );
    }

    for row in client
        .query(COLUMNS_SQL, &[])
        .await
        .context("reading columns and pg_stats (sql/catalog_columns.sql)")?
    {
        let oid: i64 = row.try_get("table_oid")?;
        let Some(table) = by_oid.get_mut(&oid) else {
            continue;
        };
        let null_frac: Option<f64> = row.try_get("null_frac")?;
        let stats = match null_frac {
            Some(null_frac) => {
                let (most_common_vals, most_common_freqs) =
                    ColumnStats::most_common(row.try_get("mcv")?, row.try_get("mcf")?);
                Some(ColumnStats {
                    null_frac,
                    n_distinct: row.try_get::<_, Option<f64>>("n_distinct")?.unwrap_or(0.0),
                    avg_width: row.try_get::<_, Option<i32>>("avg_width")?.unwrap_or(0),
                    correlation: row.try_get("correlation")?,
                    most_common_vals,
                    most_common_freqs,
                })
            }
            None => None,
        };
        table.columns.push(Column {
            name: row.try_get("name")?,
            type_name: row.try_get("type_name")?,
            not_null: row.try_get("not_null")?,
            stats,
        });
    }

    let mut indexes = Vec::new();
    for row in client
        .query(INDEXES_SQL, &[&None::<i64>])
        .await
        .context("reading indexes (sql/catalog_indexes.sql)")?
    {
        let oid: i64 = row.try_get("table_oid")?;
        let Some(table) = by_oid.get(&oid) else {
            continue;
        };
        indexes.push(index_from_row(&row, &table.schema, &table.name)?);
    }

    let mut foreign_keys = Vec::new();
    for row in client
        .query(FOREIGN_KEYS_SQL, &[])
        .await
        .context("reading foreign keys (sql/catalog_foreign_keys.sql)")?
    {
        let (Some(t), Some(r)) = (
            by_oid.get(&row.try_get::<_, i64>("table_oid")?),
            by_oid.get(&row.try_get::<_, i64>("ref_table_oid")?),
        ) else {
            continue;
        };
        foreign_keys.push(ForeignKey {
            name: row.try_get("name")?,
            schema: t.schema.clone(),
            table: t.name.clone(),
            columns: row.try_get("columns")?,
            ref_schema: r.schema.clone(),
            ref_table: r.name.clone(),
            ref_columns: row.try_get("ref_columns")?,
        });
    }

    let search_path: String = meta.try_get("search_path")?;
    let tables = order
        .into_iter()
        .filter_map(|oid| by_oid.remove(&oid))
        .collect();
    Ok(Catalog {
        source: CatalogSource::Live,
        tables,
        indexes,
        foreign_keys,
        stats_since: meta.try_get("since")?,
        stats_age_seconds: meta.try_get("age_seconds")?,
        server_version_num: meta.try_get("server_version_num")?,
        has_hypopg: meta.try_get("has_hypopg")?,
        search_path: super::parse_search_path(&search_path, user.as_deref()),
    })
}

/// One row of sql/catalog_indexes.sql as an
/// [`Index`] of the table `table_schema.table` (the row's `table_oid`).
pub fn index_from_row(row: &Row, table_schema: &str, table: &str) -> Result<Index> {
    let n_key: i32 = row.try_get("n_key")?;
    let defs: Vec<String> = row.try_get("column_defs")?;
    let desc: Vec<bool> = row.try_get("descending")?;
    let nulls_first: Vec<bool> = row.try_get("nulls_first")?;
    let n_key = (n_key.max(0) as usize).min(defs.len());
    let keys = defs[..n_key]
        .iter()
        .enumerate()
        .map(|(k, def)| {
            let (expr, is_expression) = index_column(def);
            IndexKey {
                expr,
                is_expression,
                descending: desc.get(k).copied().unwrap_or(false),
                nulls_first: nulls_first.get(k).copied().unwrap_or(false),
            }
        })
        .collect();
    let include = defs[n_key..].iter().map(|d| index_column(d).0).collect();
    let constraint_type: Option<String> = row.try_get("constraint_type")?;
    let is_primary: bool = row.try_get("is_primary")?;
    Ok(Index {
        schema: row.try_get("schema")?,
        name: row.try_get("name")?,
        table_schema: table_schema.to_string(),
        table: table.to_string(),
        method: row.try_get("method")?,
        keys,
        include,
        predicate: row.try_get("predicate")?,
        unique: row.try_get("is_unique")?,
        primary: is_primary || constraint_type.as_deref() == Some("p"),
        constraint: row.try_get("constraint_name")?,
        valid: row.try_get("is_valid")?,
        ready: row.try_get("is_ready")?,
        definition: row.try_get("definition")?,
        size_bytes: row.try_get("size_bytes")?,
        idx_scan: row.try_get("idx_scan")?,
    })
}

/// `pg_get_indexdef(oid, k, true)` prints a key as a (possibly quoted)
/// column name or as an expression: tell them apart and unquote names.
pub fn index_column(def: &str) -> (String, bool) {
    let d = def.trim();
    if d.len() >= 2
        && d.starts_with('"')
        && d.ends_with('"')
        && !d[1..d.len() - 1].replace("\"\"", "").contains('"')
    {
        return (d[1..d.len() - 1].replace("\"\"", "\""), false);
    }
    let plain = !d.is_empty()
        && d.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_' || !c.is_ascii())
        && d.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$' || !c.is_ascii()
        });
    if plain {
        (d.to_string(), false)
    } else {
        (d.to_string(), true)
    }
}

#[cfg(test)]
mod tests {
    use super::index_column;

    #[test]
    fn index_columns_and_expressions() {
        assert_eq!(index_column("email"), ("email".into(), false));
        assert_eq!(index_column("\"timestamp\""), ("timestamp".into(), false));
        assert_eq!(
            index_column("\"Mixed \"\"Case\"\"\""),
            ("Mixed \"Case\"".into(), false)
        );
        assert_eq!(index_column("lower(email)"), ("lower(email)".into(), true));
        assert_eq!(index_column("(a + b)"), ("(a + b)".into(), true));
    }
}
