//! A catalog from SQL alone: a `pg_dump --schema-only` file or a hand-written
//! schema script. Tables, columns, indexes and constraints come from the
//! CREATE TABLE / CREATE INDEX / ALTER TABLE … ADD CONSTRAINT statements;
//! everything else (functions, grants, SET, COMMENT …) is skipped. There are
//! no statistics, so advice from it is marked unvalidated.

use anyhow::{Context, Result, bail};
use sqlparser::ast::{
    AlterTableOperation, ColumnOption, CreateIndex, CreateTable, Expr, Ident, IndexColumn,
    ObjectName, OrderBySort, Set, Statement, TableConstraint,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use super::{Catalog, CatalogSource, Column, ForeignKey, Index, IndexKey, Table};

/// Read a schema file from disk.
pub fn load_path(path: &std::path::Path) -> Result<Catalog> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read schema file {}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "schema file {} is not UTF-8 (invalid byte at offset {}); re-export it with `pg_dump --schema-only --encoding=UTF8`",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    let catalog =
        parse(&text).with_context(|| format!("reading schema file {}", path.display()))?;
    if catalog.tables.is_empty() {
        bail!(
            "schema file {} defines no tables; pass a `pg_dump --schema-only` file of the database being advised",
            path.display()
        );
    }
    Ok(catalog)
}

/// Build a catalog from schema SQL. Statements sqlparser cannot read are
/// skipped (pg_dump files contain many that do not matter for indexing).
pub fn parse(text: &str) -> Result<Catalog> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(text)
        .context("cannot tokenize the schema SQL (unterminated quote or comment?)")?;
    let mut state = Builder {
        search_path: vec!["public".to_string()],
        ..Builder::default()
    };
    loop {
        while parser.consume_token(&Token::SemiColon) {}
        if parser.peek_token().token == Token::EOF {
            break;
        }
        match parser.parse_statement() {
            Ok(stmt) => state.statement(stmt),
            Err(_) => {
                // Skip to the end of the statement we could not read.
                loop {
                    let t = parser.next_token().token;
                    if t == Token::SemiColon || t == Token::EOF {
                        break;
                    }
                }
            }
        }
    }
    Ok(Catalog {
        source: CatalogSource::SchemaFile,
        tables: state.tables,
        indexes: state.indexes,
        foreign_keys: state.foreign_keys,
        stats_since: None,
        stats_age_seconds: None,
        server_version_num: None,
        has_hypopg: false,
        search_path: state.search_path,
    })
}

#[derive(Default)]
struct Builder {
    search_path: Vec<String>,
    tables: Vec<Table>,
    indexes: Vec<Index>,
    foreign_keys: Vec<ForeignKey>,
}

/// An identifier as PostgreSQL stores it: folded to lower case unless quoted.
fn ident(i: &Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

impl Builder {
    fn default_schema(&self) -> String {
        self.search_path
            .first()
            .cloned()
            .unwrap_or_else(|| "public".into())
    }

    fn qualified(&self, name: &ObjectName) -> (String, String) {
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|p| p.as_ident().map(ident))
            .collect();
        match parts.as_slice() {
            [.., schema, table] => (schema.clone(), table.clone()),
            [table] => (self.default_schema(), table.clone()),
            [] => (self.default_schema(), String::new()),
        }
    }

    fn statement(&mut self, stmt: Statement) {
        match stmt {
            Statement::Set(Set::SingleAssignment {
                variable, values, ..
            }) if variable.to_string().eq_ignore_ascii_case("search_path") => {
                let path: Vec<String> = values
                    .iter()
                    .map(|v| match v {
                        Expr::Identifier(i) => ident(i),
                        Expr::Value(v) => v.to_string().trim_matches('\'').to_string(),
                        other => other.to_string(),
                    })
                    .filter(|s| !s.is_empty() && s != "$user" && s != "\"$user\"")
                    .collect();
                if !path.is_empty() {
                    self.search_path = path;
                }
            }
            Statement::CreateTable(ct) => self.create_table(ct),
            Statement::CreateIndex(ci) => self.create_index(ci),
            Statement::AlterTable(at) => {
                let (schema, table) = self.qualified(&at.name);
                for op in at.operations {
                    if let AlterTableOperation::AddConstraint { constraint, .. } = op {
                        self.constraint(&schema, &table, constraint);
                    }
                }
            }
            _ => {}
        }
    }

    fn create_table(&mut self, ct: CreateTable) {
        let (schema, name) = self.qualified(&ct.name);
        let mut columns = Vec::new();
        let mut inline: Vec<TableConstraint> = Vec::new();
        for col in &ct.columns {
            let cname = ident(&col.name);
            let mut not_null = false;
            for opt in &col.options {
                match &opt.option {
                    ColumnOption::NotNull => not_null = true,
                    ColumnOption::PrimaryKey(pk) => {
                        not_null = true;
                        let mut pk = pk.clone();
                        pk.columns = vec![IndexColumn::from(col.name.clone())];
                        if pk.name.is_none() {
                            pk.name = opt.name.clone();
                        }
                        inline.push(TableConstraint::PrimaryKey(pk));
                    }
                    ColumnOption::Unique(u) => {
                        let mut u = u.clone();
                        u.columns = vec![IndexColumn::from(col.name.clone())];
                        if u.name.is_none() {
                            u.name = opt.name.clone();
                        }
                        inline.push(TableConstraint::Unique(u));
                    }
                    ColumnOption::ForeignKey(fk) => {
                        let mut fk = fk.clone();
                        fk.columns = vec![col.name.clone()];
                        if fk.name.is_none() {
                            fk.name = opt.name.clone();
                        }
                        inline.push(TableConstraint::ForeignKey(fk));
                    }
                    _ => {}
                }
            }
            columns.push(Column {
                name: cname,
                type_name: col.data_type.to_string().to_lowercase(),
                not_null,
                stats: None,
            });
        }
        self.tables.push(Table {
            schema: schema.clone(),
            name: name.clone(),
            columns,
            reltuples: -1.0,
            relpages: 0,
            total_bytes: 0,
            seq_scan: 0,
            idx_scan: 0,
            n_tup_ins: 0,
            n_tup_upd: 0,
            n_tup_del: 0,
            n_tup_hot_upd: 0,
        });
        for c in inline.into_iter().chain(ct.constraints) {
            self.constraint(&schema, &name, c);
        }
    }

    fn constraint(&mut self, schema: &str, table: &str, c: TableConstraint) {
        match c {
            TableConstraint::PrimaryKey(pk) => {
                let cols: Vec<String> = pk.columns.iter().map(index_column_name).collect();
                let name = pk
                    .name
                    .as_ref()
                    .map(ident)
                    .unwrap_or_else(|| format!("{table}_pkey"));
                self.constraint_index(schema, table, &name, cols, true);
            }
            TableConstraint::Unique(u) => {
                let cols: Vec<String> = u.columns.iter().map(index_column_name).collect();
                let name = u
                    .name
                    .as_ref()
                    .map(ident)
                    .unwrap_or_else(|| format!("{table}_{}_key", cols.join("_")));
                self.constraint_index(schema, table, &name, cols, false);
            }
            TableConstraint::ForeignKey(fk) => {
                let (ref_schema, ref_table) = self.qualified(&fk.foreign_table);
                let columns: Vec<String> = fk.columns.iter().map(ident).collect();
                let mut ref_columns: Vec<String> = fk.referred_columns.iter().map(ident).collect();
                if ref_columns.is_empty() {
                    // REFERENCES t without columns means t's primary key.
                    ref_columns = self
                        .indexes
                        .iter()
                        .find(|i| i.primary && i.table_schema == ref_schema && i.table == ref_table)
                        .map(|i| i.keys.iter().map(|k| k.expr.clone()).collect())
                        .unwrap_or_default();
                }
                let name = fk
                    .name
                    .as_ref()
                    .map(ident)
                    .unwrap_or_else(|| format!("{table}_{}_fkey", columns.join("_")));
                self.foreign_keys.push(ForeignKey {
                    name,
                    schema: schema.to_string(),
                    table: table.to_string(),
                    columns,
                    ref_schema,
                    ref_table,
                    ref_columns,
                });
            }
            _ => {}
        }
    }

    fn constraint_index(
        &mut self,
        schema: &str,
        table: &str,
        name: &str,
        cols: Vec<String>,
        primary: bool,
    ) {
        let keys: Vec<IndexKey> = cols.iter().map(|c| IndexKey::column(c)).collect();
        let definition = format!(
            "CREATE UNIQUE INDEX {} ON {} USING btree ({})",
            crate::ident::quote_ident(name),
            crate::ident::quote_qualified(schema, table),
            cols.iter()
                .map(|c| crate::ident::quote_ident(c))
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.indexes.push(Index {
            schema: schema.to_string(),
            name: name.to_string(),
            table_schema: schema.to_string(),
            table: table.to_string(),
            method: "btree".into(),
            keys,
            include: Vec::new(),
            predicate: None,
            unique: true,
            primary,
            constraint: Some(name.to_string()),
            valid: true,
            ready: true,
            definition,
            size_bytes: 0,
            idx_scan: 0,
        });
    }

    fn create_index(&mut self, ci: CreateIndex) {
        let (schema, table) = self.qualified(&ci.table_name);
        let keys: Vec<IndexKey> = ci
            .columns
            .iter()
            .map(|c| {
                let (expr, is_expression) = match &c.column.expr {
                    Expr::Identifier(i) => (ident(i), false),
                    Expr::CompoundIdentifier(parts) => {
                        (parts.last().map(ident).unwrap_or_default(), false)
                    }
                    other => (other.to_string(), true),
                };
                let descending = matches!(c.column.options.sort, Some(OrderBySort::Desc));
                IndexKey {
                    expr,
                    is_expression,
                    descending,
                    // PostgreSQL's default: NULLS FIRST for DESC, LAST for ASC.
                    nulls_first: c.column.options.nulls_first.unwrap_or(descending),
                }
            })
            .collect();
        let cols_for_name: Vec<String> = keys.iter().map(|k| k.expr.clone()).collect();
        let name = ci
            .name
            .as_ref()
            .and_then(|n| n.0.last().and_then(|p| p.as_ident().map(ident)))
            .unwrap_or_else(|| format!("{table}_{}_idx", cols_for_name.join("_")));
        let method = ci
            .using
            .as_ref()
            .map(|u| u.to_string().to_lowercase())
            .unwrap_or_else(|| "btree".into());
        let mut definition = ci.to_string();
        // pg_dump-style text for display; CONCURRENTLY/IF NOT EXISTS are not part of a definition.
        definition = definition
            .replace(" CONCURRENTLY", "")
            .replace(" IF NOT EXISTS", "");
        self.indexes.push(Index {
            schema: schema.clone(),
            name,
            table_schema: schema,
            table,
            method,
            keys,
            include: ci.include.iter().map(ident).collect(),
            predicate: ci.predicate.as_ref().map(|p| p.to_string()),
            unique: ci.unique,
            primary: false,
            constraint: None,
            valid: true,
            ready: true,
            definition,
            size_bytes: 0,
            idx_scan: 0,
        });
    }
}

fn index_column_name(c: &IndexColumn) -> String {
    match &c.column.expr {
        Expr::Identifier(i) => ident(i),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = include_str!("../../fixtures/seed-platform/schema.sql");

    #[test]
    fn reads_the_seed_platform_schema() {
        let c = parse(SEED).expect("parses");
        let names: Vec<&str> = c.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "departments",
                "customers",
                "customer_scores",
                "conversation_messages",
                "ai_conversations",
                "ai_messages",
                "bookings"
            ]
        );
        assert!(c.tables.iter().all(|t| t.schema == "app"));
        let customers = c.table("app", "customers").expect("customers");
        assert!(customers.column("tenant_id").expect("col").not_null);
        assert!(!customers.column("email").expect("col").not_null);
        let cm = c.table("app", "conversation_messages").expect("table");
        assert!(
            cm.column("timestamp").is_some(),
            "quoted reserved word column"
        );

        let fks: Vec<(&str, &str)> = c
            .foreign_keys
            .iter()
            .map(|f| (f.table.as_str(), f.ref_table.as_str()))
            .collect();
        assert!(fks.contains(&("bookings", "customers")));
        assert!(fks.contains(&("ai_messages", "ai_conversations")));
        let fk = c
            .foreign_keys
            .iter()
            .find(|f| f.table == "ai_messages")
            .expect("fk");
        assert_eq!(fk.columns, ["conversation_id"]);
        assert_eq!(fk.ref_columns, ["id"]);

        let dup = c
            .indexes
            .iter()
            .find(|i| i.name == "bookings_status_dup_idx")
            .expect("dup");
        assert_eq!(dup.keys, vec![IndexKey::column("status")]);
        assert!(!dup.is_protected());
        let pk = c
            .indexes
            .iter()
            .find(|i| i.name == "customers_pkey")
            .expect("pk");
        assert!(pk.primary && pk.is_protected());
        let uniq = c
            .indexes
            .iter()
            .find(|i| i.table == "departments" && !i.primary)
            .expect("unique");
        assert_eq!(uniq.keys, vec![IndexKey::column("name")]);
    }

    #[test]
    fn reads_pg_dump_style_and_skips_the_rest() {
        let sql = r#"
SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);
CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;
CREATE TABLE public."Orders" (
    id bigint NOT NULL,
    "Customer Id" bigint,
    placed_at timestamp with time zone
);
ALTER TABLE ONLY public."Orders" ADD CONSTRAINT "Orders_pkey" PRIMARY KEY (id);
CREATE INDEX orders_placed_desc ON public."Orders" USING btree (placed_at DESC) INCLUDE ("Customer Id") WHERE (placed_at IS NOT NULL);
CREATE INDEX orders_lower ON public."Orders" USING btree (lower(("Customer Id")::text));
COMMENT ON TABLE public."Orders" IS 'x; y';
"#;
        let c = parse(sql).expect("parses");
        let t = c.table("public", "Orders").expect("mixed-case table");
        assert_eq!(t.columns[1].name, "Customer Id");
        let pk = c
            .indexes
            .iter()
            .find(|i| i.name == "Orders_pkey")
            .expect("pk");
        assert!(pk.primary);
        let d = c
            .indexes
            .iter()
            .find(|i| i.name == "orders_placed_desc")
            .expect("desc");
        assert!(d.keys[0].descending && d.keys[0].nulls_first);
        assert_eq!(d.include, ["Customer Id"]);
        assert!(
            d.predicate
                .as_deref()
                .is_some_and(|p| p.contains("IS NOT NULL"))
        );
        let l = c
            .indexes
            .iter()
            .find(|i| i.name == "orders_lower")
            .expect("expr");
        assert!(l.keys[0].is_expression);
    }
}
