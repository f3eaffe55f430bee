//! What a query asks of each table it reads: the columns it filters by
//! equality, by range, by NULL tests, joins on, sorts and groups by, and
//! the columns it needs back. Index candidates are built from these facts.
//!
//! Tables are resolved through aliases, schemas, CTE names and the
//! catalog's search path; unqualified columns through the catalog when a
//! query joins several tables. A column compared to anything that does not
//! reference its own table (`$1 || $2`, `md5($1)::uuid`, `now() - $1`,
//! another table's column) counts.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, FromTable, GroupByExpr, Ident, JoinConstraint,
    JoinOperator, ObjectName, OrderByKind, Query, Select, SelectItem, SetExpr, Statement,
    TableFactor, TableWithJoins, UpdateTableFromKind, Value, visit_expressions,
};

use crate::catalog::Catalog;

/// How a predicate constrains a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PredOp {
    /// `=`, `IN (…)`, `= ANY(…)`, `IS NOT DISTINCT FROM`, equi-join.
    Eq,
    /// `<`, `<=`, `>`, `>=`, `BETWEEN`, prefix `LIKE 'abc%'`.
    Range,
    IsNull,
    IsNotNull,
    /// A boolean column used as a condition (`WHERE active`, `NOT deleted`).
    IsTrue,
    IsFalse,
}

/// One predicate on one column (or indexable expression) of a table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pred {
    /// Column name, or the expression text for expression predicates (`lower(email)`).
    pub column: String,
    pub is_expression: bool,
    pub op: PredOp,
    /// The SQL literal compared to, when it is a constant that may appear in
    /// an index predicate (an immutable literal such as `'confirmed'`).
    pub constant: Option<String>,
    /// True for the sides of a join condition (`a.x = b.y`).
    pub join: bool,
}

/// One ORDER BY key that belongs to a table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SortKey {
    pub column: String,
    pub descending: bool,
    pub nulls_first: bool,
}

/// Everything one query block asks of one table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableAccess {
    pub schema: String,
    pub table: String,
    pub preds: Vec<Pred>,
    /// The query's ORDER BY, when every key is a column of this table
    /// (only then can an index on this table deliver the order).
    pub order_by: Vec<SortKey>,
    pub group_by: Vec<String>,
    /// Columns of this table the query reads anywhere (for covering indexes).
    pub referenced: BTreeSet<String>,
    /// `SELECT *` or `t.*`: every column is needed.
    pub all_columns: bool,
    /// The block has a LIMIT (an index delivering the order stops early).
    pub limit: bool,
    /// Predicates the advice had to ignore, with why (e.g. non-immutable function).
    pub notes: Vec<String>,
}

/// What one statement asks of the tables it touches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueryFacts {
    pub accesses: Vec<TableAccess>,
    /// INSERT/UPDATE/DELETE/MERGE: the statement also pays for every index on its target.
    pub writes_to: Vec<(String, String)>,
    /// Tables named in the query that the catalog does not know.
    pub unknown_tables: Vec<String>,
}

/// Extract the facts of a parsed statement against a catalog.
pub fn extract(stmt: &Statement, catalog: &Catalog) -> QueryFacts {
    let mut cx = Cx {
        catalog,
        facts: QueryFacts::default(),
        ctes: Vec::new(),
    };
    cx.statement(stmt);
    cx.facts.accesses.retain(|a| {
        !a.preds.is_empty()
            || !a.order_by.is_empty()
            || !a.group_by.is_empty()
            || !a.referenced.is_empty()
            || a.all_columns
    });
    cx.facts
}

struct Cx<'c> {
    catalog: &'c Catalog,
    facts: QueryFacts,
    /// CTE names visible here: they shadow tables of the same name.
    ctes: Vec<String>,
}

/// One FROM item of a query block.
#[derive(Debug, Clone)]
struct Rel {
    /// The name columns are qualified with (alias, or table name).
    alias: String,
    /// Resolved catalog table; None for CTEs, subqueries, functions, unknown tables.
    table: Option<(String, String)>,
    /// Index into `facts.accesses` for this block's access to the table.
    access: Option<usize>,
}

fn ident(i: &Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

fn name_parts(n: &ObjectName) -> Vec<String> {
    n.0.iter().filter_map(|p| p.as_ident().map(ident)).collect()
}

impl<'c> Cx<'c> {
    fn statement(&mut self, stmt: &Statement) {
        match stmt {
            Statement::Query(q) => self.query(q, &[]),
            Statement::Insert(ins) => {
                if let sqlparser::ast::TableObject::TableName(name) = &ins.table
                    && let Some(t) = self.resolve(name)
                {
                    self.facts.writes_to.push(t);
                }
                if let Some(src) = &ins.source {
                    self.query(src, &[]);
                }
            }
            Statement::Update(u) => {
                let mut from = vec![u.table.clone()];
                if let Some(UpdateTableFromKind::BeforeSet(f) | UpdateTableFromKind::AfterSet(f)) =
                    &u.from
                {
                    from.extend(f.iter().cloned());
                }
                let rels = self.block(&from, u.selection.as_ref(), &[], false, &[]);
                if let Some(Rel { table: Some(t), .. }) = rels.first() {
                    self.facts.writes_to.push(t.clone());
                }
            }
            Statement::Delete(d) => {
                let mut from = match &d.from {
                    FromTable::WithFromKeyword(f) | FromTable::WithoutKeyword(f) => f.clone(),
                };
                let target = from.first().cloned();
                if let Some(u) = &d.using {
                    from.extend(u.iter().cloned());
                }
                let rels = self.block(&from, d.selection.as_ref(), &[], false, &[]);
                if target.is_some()
                    && let Some(Rel { table: Some(t), .. }) = rels.first()
                {
                    self.facts.writes_to.push(t.clone());
                }
            }
            _ => {}
        }
    }

    fn resolve(&mut self, name: &ObjectName) -> Option<(String, String)> {
        let parts = name_parts(name);
        let (schema, table) = match parts.as_slice() {
            [.., s, t] => (Some(s.as_str()), t.as_str()),
            [t] => (None, t.as_str()),
            [] => return None,
        };
        if schema.is_none() && self.ctes.iter().any(|c| c == table) {
            return None;
        }
        match self.catalog.resolve_table(schema, table) {
            Some(t) => Some((t.schema.clone(), t.name.clone())),
            None => {
                let shown = parts.join(".");
                if !self.facts.unknown_tables.contains(&shown) {
                    self.facts.unknown_tables.push(shown);
                }
                None
            }
        }
    }

    fn query(&mut self, q: &Query, outer: &[Rel]) {
        let cte_mark = self.ctes.len();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                self.query(&cte.query, outer);
                self.ctes.push(ident(&cte.alias.name));
            }
        }
        let order: Vec<(Expr, bool, bool)> = match &q.order_by {
            Some(ob) => match &ob.kind {
                OrderByKind::Expressions(items) => items
                    .iter()
                    .map(|o| {
                        let desc =
                            matches!(o.options.sort, Some(sqlparser::ast::OrderBySort::Desc));
                        (o.expr.clone(), desc, o.options.nulls_first.unwrap_or(desc))
                    })
                    .collect(),
                OrderByKind::All(_) => Vec::new(),
            },
            None => Vec::new(),
        };
        let limit = q.limit_clause.is_some() || q.fetch.is_some();
        self.set_expr(&q.body, &order, limit, outer);
        self.ctes.truncate(cte_mark);
    }

    fn set_expr(
        &mut self,
        body: &SetExpr,
        order: &[(Expr, bool, bool)],
        limit: bool,
        outer: &[Rel],
    ) {
        match body {
            SetExpr::Select(s) => self.select(s, order, limit, outer),
            SetExpr::Query(q) => self.query(q, outer),
            SetExpr::SetOperation { left, right, .. } => {
                self.set_expr(left, &[], false, outer);
                self.set_expr(right, &[], false, outer);
            }
            SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) | SetExpr::Merge(s) => {
                self.statement(s)
            }
            _ => {}
        }
    }

    fn select(&mut self, s: &Select, order: &[(Expr, bool, bool)], limit: bool, outer: &[Rel]) {
        let rels = self.block(&s.from, s.selection.as_ref(), order, limit, outer);
        let scope: Vec<Rel> = rels.iter().cloned().chain(outer.iter().cloned()).collect();
        // Selected columns and wildcards.
        for item in &s.projection {
            match item {
                SelectItem::Wildcard(_) => {
                    for r in &rels {
                        if let Some(a) = r.access {
                            self.facts.accesses[a].all_columns = true;
                        }
                    }
                }
                SelectItem::QualifiedWildcard(kind, _) => {
                    let q = kind.to_string().to_lowercase();
                    for r in &rels {
                        if r.alias == q
                            && let Some(a) = r.access
                        {
                            self.facts.accesses[a].all_columns = true;
                        }
                    }
                }
                SelectItem::UnnamedExpr(e)
                | SelectItem::ExprWithAlias { expr: e, .. }
                | SelectItem::ExprWithAliases { expr: e, .. } => {
                    self.reference_all(e, &scope);
                    self.subqueries(e, &scope);
                }
            }
        }
        // GROUP BY columns of one table.
        if let GroupByExpr::Expressions(exprs, _) = &s.group_by {
            for e in exprs {
                if let Some((a, col)) = self.column_of(e, &rels) {
                    self.facts.accesses[a].group_by.push(col);
                }
                self.reference_all(e, &scope);
            }
        }
        if let Some(h) = &s.having {
            self.reference_all(h, &scope);
            self.subqueries(h, &scope);
        }
    }

    /// FROM + WHERE of one query block: resolve relations, then classify
    /// join conditions and WHERE conjuncts. Returns the block's relations.
    fn block(
        &mut self,
        from: &[TableWithJoins],
        selection: Option<&Expr>,
        order: &[(Expr, bool, bool)],
        limit: bool,
        outer: &[Rel],
    ) -> Vec<Rel> {
        let mut rels = Vec::new();
        let mut conds: Vec<Expr> = Vec::new();
        for twj in from {
            self.factor(&twj.relation, &mut rels, outer);
            for j in &twj.joins {
                self.factor(&j.relation, &mut rels, outer);
                let c = match &j.join_operator {
                    JoinOperator::Join(c)
                    | JoinOperator::Inner(c)
                    | JoinOperator::Left(c)
                    | JoinOperator::LeftOuter(c)
                    | JoinOperator::Right(c)
                    | JoinOperator::RightOuter(c)
                    | JoinOperator::FullOuter(c)
                    | JoinOperator::Semi(c)
                    | JoinOperator::LeftSemi(c)
                    | JoinOperator::RightSemi(c)
                    | JoinOperator::Anti(c)
                    | JoinOperator::LeftAnti(c)
                    | JoinOperator::RightAnti(c) => Some(c),
                    _ => None,
                };
                match c {
                    Some(JoinConstraint::On(e)) => conds.push(e.clone()),
                    Some(JoinConstraint::Using(cols)) => {
                        // USING (x): x of the new relation equals x of an earlier one.
                        if let Some(new) = rels.last().cloned() {
                            for c in cols {
                                let col = name_parts(c).pop().unwrap_or_default();
                                if let Some(a) = new.access {
                                    self.push_pred(a, &col, false, PredOp::Eq, None, true);
                                }
                                for r in rels.iter().rev().skip(1) {
                                    if let (Some(a), Some((s, t))) = (r.access, &r.table)
                                        && self
                                            .catalog
                                            .table(s, t)
                                            .is_some_and(|t| t.column(&col).is_some())
                                    {
                                        self.push_pred(a, &col, false, PredOp::Eq, None, true);
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        if let Some(w) = selection {
            conds.push(w.clone());
        }
        let scope: Vec<Rel> = rels.iter().cloned().chain(outer.iter().cloned()).collect();
        for c in &conds {
            for conj in conjuncts(c) {
                self.conjunct(conj, &rels, &scope);
                self.reference_all(conj, &scope);
                self.subqueries(conj, &scope);
            }
        }
        // ORDER BY belongs to a table only when every key is one of its plain columns.
        if !order.is_empty() {
            let keys: Vec<Option<(usize, String)>> = order
                .iter()
                .map(|(e, _, _)| self.column_of(e, &rels))
                .collect();
            if let Some(Some((first, _))) = keys.first()
                && keys.iter().all(|k| matches!(k, Some((a, _)) if a == first))
            {
                let a = *first;
                self.facts.accesses[a].order_by = keys
                    .iter()
                    .zip(order)
                    .filter_map(|(k, (_, desc, nf))| {
                        k.as_ref().map(|(_, col)| SortKey {
                            column: col.clone(),
                            descending: *desc,
                            nulls_first: *nf,
                        })
                    })
                    .collect();
            }
            for (e, _, _) in order {
                self.reference_all(e, &scope);
            }
        }
        if limit {
            for r in &rels {
                if let Some(a) = r.access {
                    self.facts.accesses[a].limit = true;
                }
            }
        }
        rels
    }

    fn factor(&mut self, f: &TableFactor, rels: &mut Vec<Rel>, outer: &[Rel]) {
        match f {
            TableFactor::Table { name, alias, .. } => {
                let table = self.resolve(name);
                let alias_name = alias
                    .as_ref()
                    .map(|a| ident(&a.name))
                    .unwrap_or_else(|| name_parts(name).pop().unwrap_or_default());
                let access = table.as_ref().map(|(s, t)| {
                    self.facts.accesses.push(TableAccess {
                        schema: s.clone(),
                        table: t.clone(),
                        ..TableAccess::default()
                    });
                    self.facts.accesses.len() - 1
                });
                rels.push(Rel {
                    alias: alias_name,
                    table,
                    access,
                });
            }
            TableFactor::Derived {
                subquery,
                alias,
                lateral,
                ..
            } => {
                let scope: Vec<Rel> = if *lateral {
                    rels.iter().cloned().chain(outer.iter().cloned()).collect()
                } else {
                    outer.to_vec()
                };
                self.query(subquery, &scope);
                rels.push(Rel {
                    alias: alias.as_ref().map(|a| ident(&a.name)).unwrap_or_default(),
                    table: None,
                    access: None,
                });
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => {
                let inner = self.block(
                    std::slice::from_ref(table_with_joins),
                    None,
                    &[],
                    false,
                    outer,
                );
                rels.extend(inner);
            }
            other => {
                let alias = match other {
                    TableFactor::Function { alias, .. }
                    | TableFactor::TableFunction { alias, .. }
                    | TableFactor::UNNEST { alias, .. } => alias.as_ref().map(|a| ident(&a.name)),
                    _ => None,
                };
                rels.push(Rel {
                    alias: alias.unwrap_or_default(),
                    table: None,
                    access: None,
                });
            }
        }
    }

    /// Which relation of `rels` a plain column reference belongs to.
    fn column_of(&self, e: &Expr, rels: &[Rel]) -> Option<(usize, String)> {
        let (qual, col) = match strip_nested(e) {
            Expr::Identifier(i) => (None, ident(i)),
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let col = ident(&parts[parts.len() - 1]);
                (Some(ident(&parts[parts.len() - 2])), col)
            }
            _ => return None,
        };
        let rel = match qual {
            Some(q) => rels.iter().find(|r| r.alias == q)?,
            None => {
                let owns = |r: &Rel| {
                    r.table
                        .as_ref()
                        .and_then(|(s, t)| self.catalog.table(s, t))
                        .is_some_and(|t| t.column(&col).is_some())
                };
                let mut owners = rels.iter().filter(|r| owns(r));
                match (owners.next(), owners.next()) {
                    (Some(one), None) => one,
                    (None, _) if rels.len() == 1 && rels[0].table.is_some() => &rels[0],
                    _ => return None,
                }
            }
        };
        let a = rel.access?;
        let (s, t) = rel.table.as_ref()?;
        // A name that is not a column of the table (e.g. a select alias) is not ours.
        match self.catalog.table(s, t) {
            Some(tab) if tab.columns.is_empty() || tab.column(&col).is_some() => Some((a, col)),
            _ => None,
        }
    }

    /// The accesses an expression reads columns of (in `scope`).
    fn accesses_in(&self, e: &Expr, scope: &[Rel]) -> BTreeSet<usize> {
        let mut found = BTreeSet::new();
        let _ = visit_expressions(e, |x| {
            if matches!(x, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
                && let Some((a, _)) = self.column_of(x, scope)
            {
                found.insert(a);
            }
            ControlFlow::<()>::Continue(())
        });
        found
    }

    fn reference_all(&mut self, e: &Expr, scope: &[Rel]) {
        let mut cols = Vec::new();
        let _ = visit_expressions(e, |x| {
            if matches!(x, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
                && let Some(c) = self.column_of(x, scope)
            {
                cols.push(c);
            }
            ControlFlow::<()>::Continue(())
        });
        for (a, c) in cols {
            self.facts.accesses[a].referenced.insert(c);
        }
    }

    /// Subqueries inside an expression are query blocks of their own, with
    /// this block's relations visible for correlation.
    fn subqueries(&mut self, e: &Expr, scope: &[Rel]) {
        let mut subs: Vec<Query> = Vec::new();
        let _ = visit_expressions(e, |x| {
            match x {
                Expr::Subquery(q)
                | Expr::Exists { subquery: q, .. }
                | Expr::InSubquery { subquery: q, .. } => subs.push((**q).clone()),
                _ => {}
            }
            ControlFlow::<()>::Continue(())
        });
        // visit_expressions descends into the subqueries too; only the
        // outermost ones are blocks of this level.
        let mut seen: Vec<String> = Vec::new();
        for q in &subs {
            let text = q.to_string();
            if seen.iter().any(|s| s.contains(&text)) {
                continue;
            }
            seen.push(text);
            self.query(q, scope);
        }
    }

    fn push_pred(
        &mut self,
        a: usize,
        column: &str,
        is_expression: bool,
        op: PredOp,
        constant: Option<String>,
        join: bool,
    ) {
        let p = Pred {
            column: column.to_string(),
            is_expression,
            op,
            constant,
            join,
        };
        let preds = &mut self.facts.accesses[a].preds;
        if !preds.contains(&p) {
            preds.push(p);
        }
    }

    /// Classify one AND-ed condition.
    fn conjunct(&mut self, c: &Expr, rels: &[Rel], scope: &[Rel]) {
        match strip_nested(c) {
            e @ Expr::BinaryOp {
                op: BinaryOperator::Or,
                ..
            } => {
                // OR of equalities on one column is an IN list.
                if let Some(in_list) = or_of_equalities(e) {
                    self.conjunct(&in_list, rels, scope);
                }
            }
            Expr::BinaryOp { left, op, right } => {
                let op_kind = match op {
                    BinaryOperator::Eq => Some(PredOp::Eq),
                    BinaryOperator::Lt
                    | BinaryOperator::LtEq
                    | BinaryOperator::Gt
                    | BinaryOperator::GtEq => Some(PredOp::Range),
                    _ => None,
                };
                let Some(kind) = op_kind else { return };
                self.compare(left, right, kind, rels, scope);
                self.compare(right, left, kind, rels, scope);
            }
            Expr::IsNotDistinctFrom(l, r) => {
                self.compare(l, r, PredOp::Eq, rels, scope);
                self.compare(r, l, PredOp::Eq, rels, scope);
            }
            Expr::InList {
                expr,
                list,
                negated: false,
            } => {
                let constant = if list.len() == 1 {
                    immutable_constant(&list[0])
                } else {
                    None
                };
                if let Some(target) = self.target(expr, rels) {
                    let others = list
                        .iter()
                        .flat_map(|e| self.accesses_in(e, scope))
                        .collect::<BTreeSet<_>>();
                    if !others.contains(&target.0) {
                        self.push_pred(target.0, &target.1, target.2, PredOp::Eq, constant, false);
                    }
                }
            }
            Expr::InSubquery {
                expr,
                negated: false,
                ..
            }
            | Expr::InUnnest {
                expr,
                negated: false,
                ..
            } => {
                if let Some((a, col, is_expr)) = self.target(expr, rels) {
                    self.push_pred(a, &col, is_expr, PredOp::Eq, None, false);
                }
            }
            Expr::AnyOp {
                left,
                compare_op: BinaryOperator::Eq,
                right,
                ..
            } => {
                if let Some((a, col, is_expr)) = self.target(left, rels)
                    && !self.accesses_in(right, scope).contains(&a)
                {
                    self.push_pred(a, &col, is_expr, PredOp::Eq, None, false);
                }
            }
            Expr::Between {
                expr,
                negated: false,
                low,
                high,
            } => {
                if let Some((a, col, is_expr)) = self.target(expr, rels) {
                    let mut others = self.accesses_in(low, scope);
                    others.extend(self.accesses_in(high, scope));
                    if !others.contains(&a) {
                        self.push_pred(a, &col, is_expr, PredOp::Range, None, false);
                    }
                }
            }
            Expr::Like {
                negated: false,
                expr,
                pattern,
                ..
            } => {
                // Only a left-anchored pattern can use a btree (with text_pattern_ops or C collation).
                let anchored = match strip_casts(pattern) {
                    Expr::Value(v) => match &v.value {
                        Value::SingleQuotedString(s) => !s.starts_with('%') && !s.starts_with('_'),
                        _ => false,
                    },
                    _ => false,
                };
                if anchored && let Some((a, col, is_expr)) = self.target(expr, rels) {
                    self.push_pred(a, &col, is_expr, PredOp::Range, None, false);
                }
            }
            Expr::IsNull(e) => {
                if let Some((a, col, false)) = self.target(e, rels) {
                    self.push_pred(a, &col, false, PredOp::IsNull, Some("NULL".into()), false);
                }
            }
            Expr::IsNotNull(e) => {
                if let Some((a, col, false)) = self.target(e, rels) {
                    self.push_pred(
                        a,
                        &col,
                        false,
                        PredOp::IsNotNull,
                        Some("NULL".into()),
                        false,
                    );
                }
            }
            Expr::IsTrue(e) => self.boolean(e, true, rels),
            Expr::IsFalse(e) => self.boolean(e, false, rels),
            Expr::UnaryOp {
                op: sqlparser::ast::UnaryOperator::Not,
                expr,
            } => self.boolean(expr, false, rels),
            e @ (Expr::Identifier(_) | Expr::CompoundIdentifier(_)) => self.boolean(e, true, rels),
            _ => {}
        }
    }

    fn boolean(&mut self, e: &Expr, value: bool, rels: &[Rel]) {
        if let Some((a, col, false)) = self.target(e, rels) {
            let is_bool = self
                .facts
                .accesses
                .get(a)
                .and_then(|acc| self.catalog.table(&acc.schema, &acc.table))
                .and_then(|t| t.column(&col))
                .is_some_and(|c| c.type_name == "boolean");
            if is_bool {
                let op = if value {
                    PredOp::IsTrue
                } else {
                    PredOp::IsFalse
                };
                self.push_pred(a, &col, false, op, Some(value.to_string()), false);
            }
        }
    }

    /// `target` is a column or an expression over exactly one table of
    /// this block: (access, column-or-expression text, is_expression).
    fn target(&self, e: &Expr, rels: &[Rel]) -> Option<(usize, String, bool)> {
        let e = strip_nested(e);
        if let Some((a, col)) = self.column_of(e, rels) {
            return Some((a, col, false));
        }
        // Casts on the column itself (`col::date`) and functions of it (`lower(col)`).
        let accesses = self.accesses_in(e, rels);
        if accesses.len() != 1 {
            return None;
        }
        let a = *accesses.iter().next()?;
        if contains_placeholder_or_subquery(e) {
            return None;
        }
        Some((a, unqualified_text(e), true))
    }

    /// `left <op> right`: a predicate on left's table when right does not
    /// read that table.
    fn compare(&mut self, left: &Expr, right: &Expr, op: PredOp, rels: &[Rel], scope: &[Rel]) {
        let Some((a, col, is_expr)) = self.target(left, rels) else {
            return;
        };
        let others = self.accesses_in(right, scope);
        if others.contains(&a) {
            return;
        }
        let join = !others.is_empty();
        let constant = if op == PredOp::Eq {
            immutable_constant(right)
        } else {
            None
        };
        if constant.is_none() && !join && has_volatile_call(right) {
            self.facts.accesses[a].notes.push(format!(
                "{col} is compared to a non-immutable expression ({right}): a partial index cannot carry that \
                 predicate, so {col} is an index key instead"
            ));
        }
        self.push_pred(a, &col, is_expr, op, constant, join);
    }
}

fn strip_nested(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => strip_nested(inner),
        other => other,
    }
}

fn strip_casts(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => strip_casts(inner),
        Expr::Cast { expr, .. } => strip_casts(expr),
        other => other,
    }
}

/// Split `a AND (b AND c)` into [a, b, c].
fn conjuncts(e: &Expr) -> Vec<&Expr> {
    match strip_nested(e) {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            let mut v = conjuncts(left);
            v.extend(conjuncts(right));
            v
        }
        other => vec![other],
    }
}

/// `a = 1 OR a = 2 OR a = $1` → `a IN (1, 2, $1)`.
fn or_of_equalities(e: &Expr) -> Option<Expr> {
    fn collect<'a>(e: &'a Expr, out: &mut Vec<(&'a Expr, &'a Expr)>) -> bool {
        match strip_nested(e) {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Or,
                right,
            } => collect(left, out) && collect(right, out),
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } => {
                out.push((left, right));
                true
            }
            _ => false,
        }
    }
    let mut pairs = Vec::new();
    if !matches!(
        strip_nested(e),
        Expr::BinaryOp {
            op: BinaryOperator::Or,
            ..
        }
    ) || !collect(e, &mut pairs)
    {
        return None;
    }
    let first = pairs.first()?.0.to_string();
    if pairs.iter().all(|(l, _)| l.to_string() == first) {
        Some(Expr::InList {
            expr: Box::new(pairs[0].0.clone()),
            list: pairs.iter().map(|(_, r)| (*r).clone()).collect(),
            negated: false,
        })
    } else {
        None
    }
}

/// Types whose text input is immutable, so `'x'::type` may appear in an
/// index predicate (timestamptz, date and friends depend on settings).
fn immutable_cast_target(t: &DataType) -> bool {
    let s = t.to_string().to_lowercase();
    matches!(
        s.as_str(),
        "text"
            | "varchar"
            | "character varying"
            | "char"
            | "character"
            | "bpchar"
            | "int"
            | "int2"
            | "int4"
            | "int8"
            | "integer"
            | "smallint"
            | "bigint"
            | "numeric"
            | "decimal"
            | "boolean"
            | "bool"
            | "uuid"
            | "real"
            | "float4"
            | "float8"
            | "double precision"
    ) || s.starts_with("varchar(")
        || s.starts_with("character varying(")
        || s.starts_with("numeric(")
}

/// The SQL text of `e` when it is a literal constant usable in an index
/// predicate: a plain literal, or one cast to a type with immutable input.
pub fn immutable_constant(e: &Expr) -> Option<String> {
    match e {
        Expr::Nested(inner) => immutable_constant(inner),
        Expr::Value(v) => match &v.value {
            Value::Placeholder(_) | Value::Null => None,
            _ => Some(v.to_string()),
        },
        Expr::UnaryOp {
            op: sqlparser::ast::UnaryOperator::Minus,
            expr,
        } => immutable_constant(expr).map(|s| format!("-{s}")),
        Expr::Cast {
            kind: CastKind::DoubleColon | CastKind::Cast,
            expr,
            data_type,
            ..
        } if immutable_cast_target(data_type) => {
            immutable_constant(expr).map(|inner| match strip_nested(expr) {
                Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)) => inner,
                _ => format!("{inner}::{}", data_type.to_string().to_lowercase()),
            })
        }
        _ => None,
    }
}

/// Calls whose result changes between statements (or rows): never in an index predicate.
fn has_volatile_call(e: &Expr) -> bool {
    const NOT_IMMUTABLE: &[&str] = &[
        "now",
        "current_timestamp",
        "current_date",
        "current_time",
        "localtime",
        "localtimestamp",
        "clock_timestamp",
        "statement_timestamp",
        "transaction_timestamp",
        "timeofday",
        "random",
        "gen_random_uuid",
        "uuid_generate_v4",
        "nextval",
        "currval",
        "txid_current",
        "current_user",
        "session_user",
        "current_setting",
    ];
    let mut found = false;
    let _ = visit_expressions(e, |x| {
        if let Expr::Function(f) = x {
            let name = f.name.to_string().to_lowercase();
            let base = name.rsplit('.').next().unwrap_or(&name);
            if NOT_IMMUTABLE.contains(&base) {
                found = true;
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    found
}

fn contains_placeholder_or_subquery(e: &Expr) -> bool {
    let mut found = false;
    let _ = visit_expressions(e, |x| {
        match x {
            Expr::Value(v) if matches!(v.value, Value::Placeholder(_)) => found = true,
            Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => found = true,
            _ => {}
        }
        if found {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    found
}

/// Expression text with table qualifiers removed (index expressions name bare columns).
fn unqualified_text(e: &Expr) -> String {
    let mut e = e.clone();
    let _ = sqlparser::ast::visit_expressions_mut(&mut e, |x| {
        if let Expr::CompoundIdentifier(parts) = x
            && let Some(last) = parts.last().cloned()
        {
            *x = Expr::Identifier(last);
        }
        ControlFlow::<()>::Continue(())
    });
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    fn catalog() -> Catalog {
        crate::catalog::schema_file::parse(include_str!("../../fixtures/seed-platform/schema.sql"))
            .expect("schema")
    }

    fn facts(sql: &str) -> QueryFacts {
        let stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .expect("parses")
            .remove(0);
        extract(&stmt, &catalog())
    }

    fn preds(f: &QueryFacts, table: &str) -> Vec<(String, PredOp, Option<String>)> {
        f.accesses
            .iter()
            .filter(|a| a.table == table)
            .flat_map(|a| {
                a.preds
                    .iter()
                    .map(|p| (p.column.clone(), p.op, p.constant.clone()))
            })
            .collect()
    }

    fn eq(c: &str) -> (String, PredOp, Option<String>) {
        (c.to_string(), PredOp::Eq, None)
    }

    #[test]
    fn equality_against_expressions_of_parameters_counts() {
        let f = facts("SELECT id, status FROM app.customers WHERE email = $1 || $2 || $3");
        assert_eq!(preds(&f, "customers"), vec![eq("email")]);
        let f = facts(
            "SELECT avg(emotion_score), count(*) FROM app.ai_messages WHERE conversation_id = md5($1 || $2)::uuid",
        );
        assert_eq!(preds(&f, "ai_messages"), vec![eq("conversation_id")]);
    }

    #[test]
    fn sort_and_limit_belong_to_the_table() {
        let f = facts(
            "SELECT role, content, \"timestamp\" FROM app.conversation_messages \
             WHERE customer_id = $1 AND role = $2 ORDER BY \"timestamp\" DESC LIMIT $3",
        );
        let a = &f.accesses[0];
        assert_eq!(
            preds(&f, "conversation_messages"),
            vec![eq("customer_id"), eq("role")]
        );
        assert_eq!(
            a.order_by,
            vec![SortKey {
                column: "timestamp".into(),
                descending: true,
                nulls_first: true
            }]
        );
        assert!(a.limit);
        assert!(a.referenced.contains("content"));
    }

    #[test]
    fn constants_and_null_tests_for_partial_indexes() {
        let f = facts(
            "SELECT id, customer_id FROM app.bookings WHERE status = 'confirmed' \
             AND followup_scheduled_at IS NULL AND event_date < date '2024-01-01' + 5 ORDER BY event_date LIMIT 100",
        );
        let p = preds(&f, "bookings");
        assert!(
            p.contains(&("status".into(), PredOp::Eq, Some("'confirmed'".into()))),
            "{p:?}"
        );
        assert!(
            p.contains(&(
                "followup_scheduled_at".into(),
                PredOp::IsNull,
                Some("NULL".into())
            )),
            "{p:?}"
        );
        assert!(
            p.contains(&("event_date".into(), PredOp::Range, None)),
            "{p:?}"
        );
    }

    #[test]
    fn non_immutable_comparisons_are_noted_not_constants() {
        let f = facts(
            "SELECT id FROM app.customers WHERE created_at = now() AND status = 'churned'::text",
        );
        let p = preds(&f, "customers");
        assert!(
            p.contains(&("created_at".into(), PredOp::Eq, None)),
            "{p:?}"
        );
        assert!(
            p.contains(&("status".into(), PredOp::Eq, Some("'churned'".into()))),
            "{p:?}"
        );
        assert_eq!(f.accesses[0].notes.len(), 1);
    }

    #[test]
    fn joins_resolve_aliases_and_unqualified_columns() {
        let f = facts(
            "SELECT c.email, b.event_date FROM app.customers AS c JOIN app.bookings b ON b.customer_id = c.id \
             WHERE tenant_id = $1 AND b.status IN ('confirmed', 'pending')",
        );
        let b = preds(&f, "bookings");
        assert!(b.contains(&eq("customer_id")), "{b:?}");
        assert!(b.contains(&eq("status")), "{b:?}");
        let c = preds(&f, "customers");
        assert!(
            c.contains(&eq("id")) && c.contains(&eq("tenant_id")),
            "{c:?}"
        );
        let join = f
            .accesses
            .iter()
            .find(|a| a.table == "bookings")
            .expect("bookings")
            .preds
            .iter()
            .find(|p| p.column == "customer_id")
            .expect("join");
        assert!(join.join);
    }

    #[test]
    fn search_path_ctes_and_subqueries() {
        let mut c = catalog();
        c.search_path = vec!["app".into()];
        let sql = "WITH recent AS (SELECT customer_id FROM bookings WHERE event_date > $1) \
                   SELECT * FROM customers WHERE id IN (SELECT customer_id FROM recent) \
                   AND EXISTS (SELECT 1 FROM customer_scores s WHERE s.customer_id = customers.id AND s.score > 0.9)";
        let stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .expect("parses")
            .remove(0);
        let f = extract(&stmt, &c);
        assert!(f.unknown_tables.is_empty(), "{:?}", f.unknown_tables);
        assert!(preds(&f, "bookings").contains(&("event_date".into(), PredOp::Range, None)));
        assert!(preds(&f, "customers").contains(&eq("id")));
        let s = preds(&f, "customer_scores");
        assert!(
            s.contains(&eq("customer_id")) && s.contains(&("score".into(), PredOp::Range, None)),
            "{s:?}"
        );
        assert!(
            f.accesses
                .iter()
                .find(|a| a.table == "customers")
                .is_some_and(|a| a.all_columns)
        );
    }

    #[test]
    fn expressions_ranges_and_writes() {
        let f = facts("UPDATE app.customers SET status = 'x' WHERE lower(email) = lower($1)");
        assert_eq!(
            f.writes_to,
            vec![("app".to_string(), "customers".to_string())]
        );
        let a = &f.accesses[0];
        assert_eq!(a.preds[0].column, "lower(email)");
        assert!(a.preds[0].is_expression);
        let f = facts("DELETE FROM app.bookings WHERE created_at BETWEEN $1 AND $2 OR guests > 3");
        assert!(
            preds(&f, "bookings").is_empty(),
            "an OR of different columns is not indexable as one"
        );
        let f =
            facts("SELECT 1 FROM app.customers WHERE email LIKE 'user1%' AND department LIKE '%x'");
        assert_eq!(
            preds(&f, "customers"),
            vec![("email".into(), PredOp::Range, None)]
        );
        let f = facts(
            "SELECT department, count(*) FROM app.customers WHERE status = 'active' GROUP BY department",
        );
        assert_eq!(f.accesses[0].group_by, vec!["department".to_string()]);
        let f = facts("SELECT 1 FROM nosuch.t WHERE a = 1");
        assert_eq!(f.unknown_tables, vec!["nosuch.t".to_string()]);
    }
}
