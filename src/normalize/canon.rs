//! The canonical form of a parsed statement: the text the fingerprint
//! hashes when sqlparser understands the statement (docs/fingerprint.md,
//! "Canonical form"). It walks the AST once, bottom-up, and rewrites what
//! must not change a query's shape: constant values and casts applied to
//! them, column aliases, IN-list and ARRAY lengths, `= ANY(…)`, repeated
//! VALUES rows, and the order of SELECT items, AND/OR operands and INSERT
//! columns. The result is only hashed, never shown or executed.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, JoinOperator, OnConflictAction, OnInsert, Query, Select, SelectItem,
    SetExpr, Statement, UnaryOperator, Value, Values, VisitMut, VisitorMut,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// The canonical text of a normalized statement, or `None` when sqlparser
/// cannot be trusted with it (parse error, or a shape it misreads).
pub(crate) fn canonical(normalized: &str) -> Option<String> {
    if misread_by_sqlparser(normalized) {
        return None;
    }
    let parsed = std::panic::catch_unwind(|| Parser::parse_sql(&PostgreSqlDialect {}, normalized));
    let mut stmts = parsed.ok()?.ok()?;
    if stmts.is_empty() {
        return None;
    }
    let _ = stmts.visit(&mut Canon);
    let mut out = String::with_capacity(normalized.len());
    for (i, stmt) in stmts.iter().enumerate() {
        if i > 0 {
            out.push_str(";\n");
        }
        out.push_str(&stmt.to_string());
    }
    Some(out)
}

/// Shapes sqlparser accepts but reads differently from PostgreSQL: an
/// empty SELECT list followed by a clause (`SELECT WHERE (a) IN (…)`,
/// `SELECT FROM t`) is read as a column called `WHERE`/`FROM`.
fn misread_by_sqlparser(normalized: &str) -> bool {
    const CLAUSES: &[&str] = &[
        "WHERE",
        "FROM",
        "GROUP",
        "HAVING",
        "ORDER",
        "LIMIT",
        "OFFSET",
        "UNION",
        "INTERSECT",
        "EXCEPT",
        "WINDOW",
        "FOR",
        "INTO",
    ];
    let mut prev = "";
    for w in normalized.split([' ', '(', ')']).filter(|w| !w.is_empty()) {
        if prev == "SELECT" && CLAUSES.contains(&w) {
            return true;
        }
        prev = w;
    }
    false
}

fn placeholder() -> Expr {
    Expr::value(Value::Placeholder("$".to_string()))
}

fn is_placeholder(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(&v.value, Value::Placeholder(p) if p == "$"))
}

/// A constant, or a row of constants (`(a, b) IN (($1, $2))`).
fn is_constant_item(e: &Expr) -> bool {
    match e {
        Expr::Tuple(items) => !items.is_empty() && items.iter().all(is_constant_item),
        other => is_placeholder(other),
    }
}

/// Expressions whose parentheses carry no meaning.
fn is_atomic(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Value(_)
            | Expr::Identifier(_)
            | Expr::CompoundIdentifier(_)
            | Expr::Function(_)
            | Expr::Nested(_)
            | Expr::Cast { .. }
            | Expr::Subquery(_)
    )
}

/// Operators that bind tighter than AND/OR: `(a = $)` as an operand needs no parentheses.
fn is_comparison(e: &Expr) -> bool {
    matches!(
        e,
        Expr::BinaryOp {
            op: BinaryOperator::Eq
                | BinaryOperator::NotEq
                | BinaryOperator::Lt
                | BinaryOperator::LtEq
                | BinaryOperator::Gt
                | BinaryOperator::GtEq,
            ..
        } | Expr::IsNull(_)
            | Expr::IsNotNull(_)
            | Expr::Like { .. }
            | Expr::ILike { .. }
            | Expr::Between { .. }
            | Expr::InSubquery { .. }
            | Expr::Exists { .. }
    )
}

fn unnest_top(e: &mut Expr) {
    while let Expr::Nested(inner) = e {
        let inner = std::mem::replace(inner.as_mut(), placeholder());
        *e = inner;
    }
}

struct Canon;

impl VisitorMut for Canon {
    type Break = ();

    /// An AND/OR chain is flattened on the way down, before its operands
    /// are visited, and sorted once on the way up: no quadratic re-sorting
    /// of long generated chains, no deep recursion over them.
    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::BinaryOp {
            op: op @ (BinaryOperator::And | BinaryOperator::Or),
            ..
        } = expr
        {
            let op = op.clone();
            let whole = std::mem::replace(expr, placeholder());
            *expr = Expr::BinaryOp {
                left: Box::new(Expr::Tuple(flatten(whole, &op))),
                op,
                right: Box::new(Expr::value(Value::Placeholder(CHAIN_MARK.to_string()))),
            };
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        canon_expr(expr);
        ControlFlow::Continue(())
    }

    fn post_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        canon_projection(&mut select.projection);
        // `JOIN` is `INNER JOIN`, `LEFT JOIN` is `LEFT OUTER JOIN`: one spelling each.
        for table in &mut select.from {
            for join in &mut table.joins {
                let op = std::mem::replace(&mut join.join_operator, JoinOperator::CrossApply);
                join.join_operator = match op {
                    JoinOperator::Join(c) => JoinOperator::Inner(c),
                    JoinOperator::LeftOuter(c) => JoinOperator::Left(c),
                    JoinOperator::RightOuter(c) => JoinOperator::Right(c),
                    other => other,
                };
            }
        }
        if let Some(e) = select.selection.as_mut() {
            unnest_top(e);
        }
        if let Some(e) = select.having.as_mut() {
            unnest_top(e);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Values(values) = query.body.as_mut() {
            dedup_rows(values);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_statement(&mut self, stmt: &mut Statement) -> ControlFlow<()> {
        if let Statement::Insert(insert) = stmt {
            if let Some(values) = insert.source.as_mut().and_then(|q| match q.body.as_mut() {
                SetExpr::Values(v) => Some(v),
                _ => None,
            }) {
                let n = insert.columns.len();
                if n > 0 && values.rows.iter().all(|r| r.content.len() == n) {
                    let keys: Vec<String> = insert.columns.iter().map(|c| c.to_string()).collect();
                    let mut order: Vec<usize> = (0..n).collect();
                    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
                    insert.columns = order.iter().map(|&i| insert.columns[i].clone()).collect();
                    for row in &mut values.rows {
                        row.content = order.iter().map(|&i| row.content[i].clone()).collect();
                    }
                    dedup_rows(values);
                }
            }
            if let Some(OnInsert::OnConflict(conflict)) = insert.on.as_mut()
                && let OnConflictAction::DoUpdate(update) = &mut conflict.action
            {
                update.assignments.sort_by_cached_key(|a| a.to_string());
            }
            if let Some(returning) = insert.returning.as_mut() {
                drop_aliases(returning);
            }
        }
        if let Statement::Update(update) = stmt {
            update.assignments.sort_by_cached_key(|a| a.to_string());
            if let Some(e) = update.selection.as_mut() {
                unnest_top(e);
            }
            if let Some(returning) = update.returning.as_mut() {
                drop_aliases(returning);
            }
        }
        if let Statement::Delete(delete) = stmt {
            if let Some(e) = delete.selection.as_mut() {
                unnest_top(e);
            }
            if let Some(returning) = delete.returning.as_mut() {
                drop_aliases(returning);
            }
        }
        ControlFlow::Continue(())
    }
}

fn drop_aliases(items: &mut [SelectItem]) {
    for item in items.iter_mut() {
        if let SelectItem::ExprWithAlias { expr, .. } = item {
            let expr = std::mem::replace(expr, placeholder());
            *item = SelectItem::UnnamedExpr(expr);
        }
    }
}

/// Aliases dropped, sorted, duplicates removed (`SELECT a, a` = `SELECT a`,
/// as libpg_query's fingerprint has it).
fn canon_projection(items: &mut Vec<SelectItem>) {
    drop_aliases(items);
    let mut keyed: Vec<(String, SelectItem)> = items
        .drain(..)
        .map(|item| (item.to_string(), item))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    items.extend(keyed.into_iter().map(|(_, item)| item));
}

fn dedup_rows(values: &mut Values) {
    let mut keyed: Vec<(String, usize)> = values
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let key: Vec<String> = r.content.iter().map(|e| e.to_string()).collect();
            (key.join(", "), i)
        })
        .collect();
    keyed.sort();
    keyed.dedup_by(|a, b| a.0 == b.0);
    let rows = std::mem::take(&mut values.rows);
    let mut slots: Vec<Option<_>> = rows.into_iter().map(Some).collect();
    values.rows = keyed.iter().filter_map(|(_, i)| slots[*i].take()).collect();
}

fn canon_expr(expr: &mut Expr) {
    let replace = match expr {
        Expr::Value(v) => {
            if !matches!(v.value, Value::Null) && !is_placeholder_value(&v.value) {
                v.value = Value::Placeholder("$".to_string());
            }
            None
        }
        Expr::TypedString(_) => Some(placeholder()),
        Expr::Cast { expr: inner, .. } if is_placeholder(inner) => Some(placeholder()),
        Expr::UnaryOp {
            op: UnaryOperator::Minus | UnaryOperator::Plus,
            expr: inner,
        } if is_placeholder(inner) => Some(placeholder()),
        Expr::Nested(inner) if is_atomic(inner) => {
            Some(std::mem::replace(inner.as_mut(), placeholder()))
        }
        Expr::Array(array) if !array.elem.is_empty() && array.elem.iter().all(is_placeholder) => {
            Some(placeholder())
        }
        Expr::InList {
            expr: left,
            list,
            negated,
        } if !list.is_empty() && list.iter().all(is_constant_item) => {
            let right = list.swap_remove(0);
            Some(Expr::BinaryOp {
                left: Box::new(std::mem::replace(left.as_mut(), placeholder())),
                op: if *negated {
                    BinaryOperator::NotEq
                } else {
                    BinaryOperator::Eq
                },
                right: Box::new(right),
            })
        }
        Expr::AnyOp {
            left,
            compare_op: BinaryOperator::Eq,
            right,
            ..
        } if is_placeholder(right) => Some(Expr::BinaryOp {
            left: Box::new(std::mem::replace(left.as_mut(), placeholder())),
            op: BinaryOperator::Eq,
            right: Box::new(placeholder()),
        }),
        Expr::AllOp {
            left,
            compare_op: BinaryOperator::NotEq,
            right,
        } if is_placeholder(right) => Some(Expr::BinaryOp {
            left: Box::new(std::mem::replace(left.as_mut(), placeholder())),
            op: BinaryOperator::NotEq,
            right: Box::new(placeholder()),
        }),
        Expr::BinaryOp {
            left,
            op: op @ (BinaryOperator::And | BinaryOperator::Or),
            right,
        } if is_chain_mark(right) => {
            let Expr::Tuple(operands) = left.as_mut() else {
                return;
            };
            let mut operands = std::mem::take(operands);
            for o in &mut operands {
                if let Expr::Nested(inner) = o
                    && is_comparison(inner)
                {
                    let inner = std::mem::replace(inner.as_mut(), placeholder());
                    *o = inner;
                }
            }
            let mut keyed: Vec<(String, Expr)> =
                operands.into_iter().map(|e| (e.to_string(), e)).collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            Some(balanced(keyed.into_iter().map(|(_, e)| e).collect(), op))
        }
        _ => None,
    };
    if let Some(new) = replace {
        *expr = new;
    }
}

fn is_placeholder_value(v: &Value) -> bool {
    matches!(v, Value::Placeholder(p) if p == "$" || p == CHAIN_MARK)
}

/// Stands for "the operands of this chain are in the tuple on the left"
/// between the two visits; it cannot come out of the parser.
const CHAIN_MARK: &str = "$chain";

fn is_chain_mark(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(&v.value, Value::Placeholder(p) if p == CHAIN_MARK))
}

/// Operands of a chain of one operator (`a AND (b AND c)` → a, b, c),
/// iteratively: generated chains can have thousands of operands.
fn flatten(e: Expr, op: &BinaryOperator) -> Vec<Expr> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::BinaryOp { left, op: o, right } if o == *op => {
                stack.push(*right);
                stack.push(*left);
            }
            Expr::Nested(inner) if matches!(inner.as_ref(), Expr::BinaryOp { op: o, .. } if o == op) =>
            {
                stack.push(*inner);
            }
            other => out.push(other),
        }
    }
    out
}

/// A chain rebuilt as a balanced tree (depth log n). It renders exactly
/// like the left-deep chain the parser builds: `a AND b AND c`.
fn balanced(mut operands: Vec<Expr>, op: &BinaryOperator) -> Expr {
    if operands.len() <= 1 {
        return operands.pop().unwrap_or_else(placeholder);
    }
    let right = operands.split_off(operands.len() / 2);
    Expr::BinaryOp {
        left: Box::new(balanced(operands, op)),
        op: op.clone(),
        right: Box::new(balanced(right, op)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(sql: &str) -> String {
        canonical(sql).unwrap_or_else(|| panic!("sqlparser rejected {sql}"))
    }

    #[test]
    fn constants_casts_and_aliases() {
        assert_eq!(
            canon("SELECT a AS x, $1::bigint, CAST($2 AS uuid) FROM t WHERE b = -$3"),
            "SELECT $, a FROM t WHERE b = $"
        );
    }

    #[test]
    fn in_any_and_equality_meet() {
        let want = "SELECT a FROM t WHERE b = $";
        assert_eq!(canon("SELECT a FROM t WHERE b IN ($1)"), want);
        assert_eq!(canon("SELECT a FROM t WHERE b = ANY($1)"), want);
        assert_eq!(canon("SELECT a FROM t WHERE b = ANY(ARRAY[$1])"), want);
        assert_eq!(canon("SELECT a FROM t WHERE (b = $1)"), want);
    }

    #[test]
    fn and_or_operands_sorted() {
        assert_eq!(
            canon("SELECT a FROM t WHERE c = $1 AND (b = $2 OR a = $3) AND (d = $4)"),
            canon("SELECT a FROM t WHERE (a = $1 OR b = $2) AND d = $3 AND c = $4")
        );
        // Grouping still matters.
        assert_ne!(
            canon("SELECT a FROM t WHERE (a = $1 OR b = $2) AND c = $3"),
            canon("SELECT a FROM t WHERE a = $1 OR (b = $2 AND c = $3)")
        );
    }

    #[test]
    fn insert_columns_sorted_with_their_values() {
        assert_eq!(
            canon("INSERT INTO t (b, a) VALUES ($1, now())"),
            canon("INSERT INTO t (a, b) VALUES (now(), $1)")
        );
        assert_ne!(
            canon("INSERT INTO t (b, a) VALUES ($1, now())"),
            canon("INSERT INTO t (a, b) VALUES ($1, now())")
        );
    }

    #[test]
    fn update_assignments_sorted_and_select_items_deduplicated() {
        assert_eq!(
            canon("UPDATE t SET b = $1, a = $2 WHERE (id = $3)"),
            "UPDATE t SET a = $, b = $ WHERE id = $"
        );
        assert_eq!(
            canon("SELECT a, b AS x, a AS y FROM t"),
            "SELECT a, b FROM t"
        );
    }

    #[test]
    fn select_where_is_not_trusted_to_sqlparser() {
        assert!(canonical("SELECT WHERE ($1) IN ($2)").is_none());
        assert!(canonical("SELECT a FROM t WHERE a IN ($1)").is_some());
    }
}
