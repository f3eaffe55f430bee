//! Preconditions, checked before anything runs and again on the build
//! connection right before each build: the server is a primary, the role
//! may index the table, the table and columns still exist, and whether an
//! identical valid index already exists (then the action is done) or an
//! invalid leftover of an interrupted build must be dropped first.
//! [`decide_create`] and [`decide_drop`] are pure; the rest reads the catalog.

use anyhow::{Context, Result};

use super::names::{self, Planned, QualifiedName};
use super::session::Session;
use crate::catalog::{self, Index};
use crate::plan::{Action, ActionKind};

const STANDBY_SQL: &str = include_str!("../../sql/apply_is_standby.sql");
const TABLE_SQL: &str = include_str!("../../sql/apply_table.sql");
const INDEX_SQL: &str = include_str!("../../sql/apply_index.sql");
const HAS_AMCHECK_SQL: &str = include_str!("../../sql/apply_has_amcheck.sql");

/// What a precondition check concluded for one action.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Run it; first drop these invalid leftovers of earlier builds.
    Run { leftovers: Vec<QualifiedName> },
    /// Nothing to do: the end state is already there.
    Done(String),
    /// Not run because of a flag (`--allow-drop` missing).
    Skipped(String),
    /// Unsafe or impossible: the reason and what to do.
    Refused(String),
}

/// The server as apply sees it.
#[derive(Debug, Clone)]
pub struct Server {
    pub in_recovery: bool,
    pub version_num: i32,
    pub role: String,
}

pub async fn server(client: &Session) -> Result<Server> {
    let row = client
        .query_one(STANDBY_SQL, &[])
        .await
        .context("checking whether the server is a standby (sql/apply_is_standby.sql)")?;
    Ok(Server {
        in_recovery: row.get("in_recovery"),
        version_num: row.get("server_version_num"),
        role: row.get("role"),
    })
}

pub async fn has_amcheck(client: &Session) -> Result<bool> {
    Ok(client
        .query_one(HAS_AMCHECK_SQL, &[])
        .await
        .context("checking for the amcheck extension")?
        .get(0))
}

/// The table of an action as the catalog has it now.
#[derive(Debug, Clone, PartialEq)]
pub struct TableInfo {
    pub oid: i64,
    pub owner: String,
    pub may_index: bool,
    pub columns: Vec<String>,
}

/// An index to drop as the catalog has it now.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexInfo {
    pub table: QualifiedName,
    pub method: String,
    pub valid: bool,
    pub ready: bool,
    pub size_bytes: i64,
    pub backs_constraint: bool,
    pub may_drop: bool,
}

pub async fn table(client: &Session, name: &QualifiedName) -> Result<Option<TableInfo>> {
    let row = client
        .query_opt(TABLE_SQL, &[&name.schema, &name.name])
        .await
        .with_context(|| format!("looking up table {name} (sql/apply_table.sql)"))?;
    Ok(row.map(|r| TableInfo {
        oid: r.get("oid"),
        owner: r.get("owner"),
        may_index: r.get("may_index"),
        columns: r.get("columns"),
    }))
}

/// Every index on a table, read as the catalog reads indexes.
pub async fn table_indexes(
    client: &Session,
    table_oid: i64,
    table: &QualifiedName,
) -> Result<Vec<Index>> {
    let rows = client
        .query(catalog::live::INDEXES_SQL, &[&Some(table_oid)])
        .await
        .with_context(|| format!("listing the indexes of {table} (sql/catalog_indexes.sql)"))?;
    rows.iter()
        .map(|r| {
            catalog::live::index_from_row(r, &table.schema, &table.name)
                .with_context(|| format!("reading an index of {table} (sql/catalog_indexes.sql)"))
        })
        .collect()
}

pub async fn index(client: &Session, name: &QualifiedName) -> Result<Option<IndexInfo>> {
    let row = client
        .query_opt(INDEX_SQL, &[&name.schema, &name.name])
        .await
        .with_context(|| format!("looking up index {name} (sql/apply_index.sql)"))?;
    Ok(row.map(|r| IndexInfo {
        table: QualifiedName {
            schema: r.get("table_schema"),
            name: r.get("table_name"),
        },
        method: r.get("method"),
        valid: r.get("is_valid"),
        ready: r.get("is_ready"),
        size_bytes: r.get("size_bytes"),
        backs_constraint: r.get("backs_constraint"),
        may_drop: r.get("may_drop"),
    }))
}

/// The table and index names of an action, or why they do not parse.
pub fn action_names(a: &Action) -> std::result::Result<(QualifiedName, QualifiedName), String> {
    let table = QualifiedName::parse(&a.table)
        .ok_or_else(|| format!("table `{}` is not a schema.table name", a.table))?;
    let index = QualifiedName::parse(&a.index)
        .ok_or_else(|| format!("index `{}` is not a schema.index name", a.index))?;
    Ok((table, index))
}

/// Check one action against the live catalog.
pub async fn check(client: &Session, a: &Action, allow_drop: bool) -> Result<Verdict> {
    let (table_name, index_name) = match action_names(a) {
        Ok(n) => n,
        Err(e) => return Ok(Verdict::Refused(format!("{e}; fix the plan file"))),
    };
    let create = a.kind == ActionKind::CreateIndex;
    if let Some(m) = super::ddl::mismatch(&a.ddl, &table_name, &index_name, create) {
        return Ok(Verdict::Refused(format!("{m}; fix the plan file")));
    }
    match a.kind {
        ActionKind::CreateIndex => {
            let info = table(client, &table_name).await?;
            let indexes = match &info {
                Some(t) => table_indexes(client, t.oid, &table_name).await?,
                None => vec![],
            };
            Ok(decide_create(
                a,
                &table_name,
                &index_name,
                info.as_ref(),
                &indexes,
            ))
        }
        ActionKind::DropIndex => {
            let info = index(client, &index_name).await?;
            Ok(decide_drop(
                &table_name,
                &index_name,
                info.as_ref(),
                allow_drop,
            ))
        }
    }
}

/// The verdict for a create, from the table and its indexes as they are now.
pub fn decide_create(
    a: &Action,
    table_name: &QualifiedName,
    index_name: &QualifiedName,
    table: Option<&TableInfo>,
    indexes: &[Index],
) -> Verdict {
    let Some(t) = table else {
        return Verdict::Refused(format!(
            "table {table_name} does not exist (dropped or renamed since the plan was written); \
             regenerate the plan with `pgadvisor advise --plan-out`"
        ));
    };
    if !t.may_index {
        return Verdict::Refused(format!(
            "the current role may not create indexes on {table_name}: only its owner ({}) or a member \
             of that role can; connect as the owner or `GRANT {} TO <role>`",
            t.owner,
            crate::ident::quote_ident(&t.owner)
        ));
    }
    if let Some(def) = &a.definition {
        let missing: Vec<String> = names::referenced_columns(def)
            .into_iter()
            .filter(|c| !t.columns.contains(c))
            .collect();
        if !missing.is_empty() {
            return Verdict::Refused(format!(
                "{table_name} has no column {} (changed since the plan was written); regenerate the plan",
                missing
                    .iter()
                    .map(|c| crate::ident::quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let want = a
        .definition
        .as_ref()
        .map(|d| Planned::new(d, names::ddl_is_unique(&a.ddl)));
    let same = |ix: &Index| want.as_ref().is_some_and(|w| names::matches(ix, w));
    let named = indexes
        .iter()
        .find(|ix| ix.schema == index_name.schema && ix.name == index_name.name);
    let mut leftovers = Vec::new();
    if let Some(ix) = named {
        if ix.valid && ix.ready {
            if want.is_none() || same(ix) {
                return Verdict::Done(format!("index {index_name} already exists and is valid"));
            }
            return Verdict::Refused(format!(
                "an index named {index_name} already exists with another definition ({}); \
                 rename or drop it, or edit the index name in the plan",
                ix.definition
            ));
        }
        leftovers.push(index_name.clone());
    }
    if let Some(ix) = indexes.iter().find(|ix| ix.valid && ix.ready && same(ix)) {
        return Verdict::Done(format!(
            "an identical valid index already exists: {}",
            QualifiedName {
                schema: ix.schema.clone(),
                name: ix.name.clone(),
            }
        ));
    }
    for ix in indexes
        .iter()
        .filter(|ix| !(ix.valid && ix.ready) && same(ix))
    {
        let q = QualifiedName {
            schema: ix.schema.clone(),
            name: ix.name.clone(),
        };
        if !leftovers.contains(&q) {
            leftovers.push(q);
        }
    }
    Verdict::Run { leftovers }
}

/// The verdict for a drop, from the index as it is now.
pub fn decide_drop(
    table_name: &QualifiedName,
    index_name: &QualifiedName,
    index: Option<&IndexInfo>,
    allow_drop: bool,
) -> Verdict {
    let Some(ix) = index else {
        return Verdict::Done(format!(
            "index {index_name} does not exist (already dropped)"
        ));
    };
    if &ix.table != table_name {
        return Verdict::Refused(format!(
            "index {index_name} is on table {}, not on {table_name} as the plan says; regenerate the plan",
            ix.table
        ));
    }
    if ix.backs_constraint {
        return Verdict::Refused(format!(
            "index {index_name} backs a constraint; drop the constraint instead (ALTER TABLE … DROP CONSTRAINT)"
        ));
    }
    if !ix.may_drop {
        return Verdict::Refused(format!(
            "the current role may not drop {index_name}: only the owner of {table_name} can"
        ));
    }
    if !allow_drop {
        return Verdict::Skipped("drops run only with --allow-drop".into());
    }
    Verdict::Run { leftovers: vec![] }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Definition, Evidence};

    fn qn(s: &str, n: &str) -> QualifiedName {
        QualifiedName {
            schema: s.into(),
            name: n.into(),
        }
    }

    fn create() -> Action {
        Action {
            id: "create:app.b_c_idx".into(),
            kind: ActionKind::CreateIndex,
            table: "app.b".into(),
            index: "app.b_c_idx".into(),
            ddl: "CREATE INDEX CONCURRENTLY IF NOT EXISTS b_c_idx ON app.b (c)".into(),
            definition: Some(Definition {
                method: "btree".into(),
                columns: vec!["c".into()],
                include: vec![],
                predicate: None,
            }),
            reason: "new index".into(),
            evidence: Evidence::default(),
        }
    }

    fn table(cols: &[&str]) -> TableInfo {
        TableInfo {
            oid: 1,
            owner: "app".into(),
            may_index: true,
            columns: cols.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn ix(name: &str, col: &str, valid: bool) -> Index {
        Index {
            schema: "app".into(),
            name: name.into(),
            table_schema: "app".into(),
            table: "b".into(),
            method: "btree".into(),
            keys: vec![crate::catalog::IndexKey::column(col)],
            include: vec![],
            predicate: None,
            unique: false,
            primary: false,
            constraint: None,
            valid,
            ready: valid,
            definition: format!("CREATE INDEX {name} ON app.b USING btree ({col})"),
            size_bytes: 8192,
            idx_scan: 0,
        }
    }

    fn decide(t: Option<&TableInfo>, indexes: &[Index]) -> Verdict {
        decide_create(
            &create(),
            &qn("app", "b"),
            &qn("app", "b_c_idx"),
            t,
            indexes,
        )
    }

    #[test]
    fn create_ok() {
        let t = table(&["id", "c"]);
        assert_eq!(decide(Some(&t), &[]), Verdict::Run { leftovers: vec![] });
        // An invalid leftover with the planned name, and one under another
        // name with the same definition: both dropped first.
        assert_eq!(
            decide(
                Some(&t),
                &[ix("b_c_idx", "c", false), ix("b_c_idx_ccnew", "c", false)]
            ),
            Verdict::Run {
                leftovers: vec![qn("app", "b_c_idx"), qn("app", "b_c_idx_ccnew")]
            }
        );
    }

    #[test]
    fn create_done_or_refused() {
        let t = table(&["id", "c"]);
        assert!(matches!(
            decide(Some(&t), &[ix("b_c_idx", "c", true)]),
            Verdict::Done(_)
        ));
        match decide(Some(&t), &[ix("other", "c", true)]) {
            Verdict::Done(m) => assert!(m.contains("app.other"), "{m}"),
            v => panic!("{v:?}"),
        }
        match decide(Some(&t), &[ix("b_c_idx", "id", true)]) {
            Verdict::Refused(m) => assert!(m.contains("another definition"), "{m}"),
            v => panic!("{v:?}"),
        }
        // Same column, other sort order: not the planned index.
        let mut desc = ix("b_c_idx", "c", true);
        desc.keys[0].descending = true;
        assert!(matches!(
            decide(Some(&t), &[desc.clone()]),
            Verdict::Refused(_)
        ));
        desc.name = "b_c_desc_idx".into();
        assert_eq!(
            decide(Some(&t), &[desc]),
            Verdict::Run { leftovers: vec![] }
        );
        match decide(None, &[]) {
            Verdict::Refused(m) => assert!(m.contains("does not exist"), "{m}"),
            v => panic!("{v:?}"),
        }
        match decide(Some(&table(&["id"])), &[]) {
            Verdict::Refused(m) => assert!(m.contains("no column c"), "{m}"),
            v => panic!("{v:?}"),
        }
        let mut t = table(&["c"]);
        t.may_index = false;
        match decide(Some(&t), &[]) {
            Verdict::Refused(m) => assert!(m.contains("owner (app)"), "{m}"),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn drops() {
        let info = IndexInfo {
            table: qn("app", "b"),
            method: "btree".into(),
            valid: true,
            ready: true,
            size_bytes: 8192,
            backs_constraint: false,
            may_drop: true,
        };
        let (t, i) = (qn("app", "b"), qn("app", "b_dup"));
        assert_eq!(
            decide_drop(&t, &i, Some(&info), true),
            Verdict::Run { leftovers: vec![] }
        );
        assert!(matches!(
            decide_drop(&t, &i, Some(&info), false),
            Verdict::Skipped(_)
        ));
        assert!(matches!(decide_drop(&t, &i, None, true), Verdict::Done(_)));
        let mut c = info.clone();
        c.backs_constraint = true;
        assert!(matches!(
            decide_drop(&t, &i, Some(&c), true),
            Verdict::Refused(_)
        ));
        let mut o = info.clone();
        o.table = qn("app", "other");
        assert!(matches!(
            decide_drop(&t, &i, Some(&o), true),
            Verdict::Refused(_)
        ));
    }
}
