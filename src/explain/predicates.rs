//! Column conditions inside plan expressions (`Filter`, `Index Cond`,
//! `Recheck Cond`, `Join Filter`): PostgreSQL prints them as SQL
//! expressions, e.g. `((status = 'confirmed'::text) AND (followup_scheduled_at
//! IS NULL))`, which sqlparser reads. Only top-level AND terms are
//! classified; OR groups and anything unparseable are left out, so a
//! condition is never misread into a wrong index.

use std::ops::ControlFlow;

use sqlparser::ast::{BinaryOperator, Expr, visit_expressions};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// How a condition uses its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CondKind {
    Equality,
    Range,
    IsNull,
    IsNotNull,
    /// `<>`, `LIKE`, OR groups, comparisons of two columns of one table…
    Other,
}

/// One classified AND term.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Table alias the column is qualified with (`b` in `b.customer_id`).
    pub qualifier: Option<String>,
    pub column: String,
    pub kind: CondKind,
    /// The column sits inside a function or cast (`lower(email)`,
    /// `(created_at)::date`): a plain index on it cannot serve the condition.
    pub wrapped: bool,
    /// The other side is a column of this alias (a join condition).
    pub joined_with: Option<String>,
}

/// Conditions of an expression; `None` when sqlparser cannot read it.
pub fn conditions(expr_text: &str) -> Option<Vec<Condition>> {
    let dialect = PostgreSqlDialect {};
    let expr = Parser::new(&dialect)
        .try_with_sql(expr_text)
        .ok()?
        .parse_expr()
        .ok()?;
    let mut out = Vec::new();
    collect(&expr, &mut out);
    Some(out)
}

fn collect(expr: &Expr, out: &mut Vec<Condition>) {
    match expr {
        Expr::Nested(e) => collect(e, out),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            collect(left, out);
            collect(right, out);
        }
        Expr::BinaryOp { left, op, right } => {
            let kind = match op {
                BinaryOperator::Eq => CondKind::Equality,
                BinaryOperator::Lt
                | BinaryOperator::LtEq
                | BinaryOperator::Gt
                | BinaryOperator::GtEq => CondKind::Range,
                _ => CondKind::Other,
            };
            comparison(left, right, kind, out);
        }
        Expr::IsNull(e) => single(e, CondKind::IsNull, out),
        Expr::IsNotNull(e) => single(e, CondKind::IsNotNull, out),
        Expr::InList {
            expr,
            list,
            negated,
        } => {
            let kind = if *negated {
                CondKind::Other
            } else {
                CondKind::Equality
            };
            if list.iter().all(|e| columns(e).is_empty()) {
                single(expr, kind, out);
            }
        }
        Expr::AnyOp {
            left,
            compare_op,
            right,
            ..
        } => {
            let kind = if *compare_op == BinaryOperator::Eq {
                CondKind::Equality
            } else {
                CondKind::Other
            };
            comparison(left, right, kind, out);
        }
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => {
            if columns(low).is_empty() && columns(high).is_empty() {
                let kind = if *negated {
                    CondKind::Other
                } else {
                    CondKind::Range
                };
                single(expr, kind, out);
            }
        }
        other => {
            // Anything else (OR groups, LIKE, function calls) still names
            // columns the misestimate advice may want to mention.
            for (q, c, _) in columns(other) {
                out.push(Condition {
                    qualifier: q,
                    column: c,
                    kind: CondKind::Other,
                    wrapped: true,
                    joined_with: None,
                });
            }
        }
    }
}

fn single(expr: &Expr, kind: CondKind, out: &mut Vec<Condition>) {
    if let Some((q, c, wrapped)) = column_of(expr) {
        out.push(Condition {
            qualifier: q,
            column: c,
            kind,
            wrapped,
            joined_with: None,
        });
    }
}

fn comparison(left: &Expr, right: &Expr, kind: CondKind, out: &mut Vec<Condition>) {
    let (l, r) = (column_of(left), column_of(right));
    let (lc, rc) = (columns(left), columns(right));
    match (l, r) {
        // col = constant (either side)
        (Some((q, c, w)), _) if rc.is_empty() => out.push(Condition {
            qualifier: q,
            column: c,
            kind,
            wrapped: w,
            joined_with: None,
        }),
        (_, Some((q, c, w))) if lc.is_empty() => out.push(Condition {
            qualifier: q,
            column: c,
            kind,
            wrapped: w,
            joined_with: None,
        }),
        // a.col = b.col: a join condition, one entry per side
        (Some((lq, lcol, lw)), Some((rq, rcol, rw))) if lq != rq => {
            out.push(Condition {
                qualifier: lq.clone(),
                column: lcol,
                kind,
                wrapped: lw,
                joined_with: rq.clone().or(Some(String::new())),
            });
            out.push(Condition {
                qualifier: rq,
                column: rcol,
                kind,
                wrapped: rw,
                joined_with: lq.or(Some(String::new())),
            });
        }
        _ => {
            for (q, c, _) in lc.into_iter().chain(rc) {
                out.push(Condition {
                    qualifier: q,
                    column: c,
                    kind: CondKind::Other,
                    wrapped: true,
                    joined_with: None,
                });
            }
        }
    }
}

/// The single column an operand is about: bare, or wrapped in casts and
/// function calls (then `wrapped` is true).
fn column_of(expr: &Expr) -> Option<(Option<String>, String, bool)> {
    match expr {
        Expr::Identifier(i) => Some((None, i.value.clone(), false)),
        Expr::CompoundIdentifier(parts) => {
            let col = parts.last()?.value.clone();
            let q = parts.len().checked_sub(2).map(|i| parts[i].value.clone());
            Some((q, col, false))
        }
        Expr::Nested(e) => column_of(e),
        _ => {
            let cols = columns(expr);
            match cols.as_slice() {
                [(q, c, _)] => Some((q.clone(), c.clone(), true)),
                _ => None,
            }
        }
    }
}

/// Every column reference inside an expression.
fn columns(expr: &Expr) -> Vec<(Option<String>, String, bool)> {
    let mut out = Vec::new();
    let _ = visit_expressions(expr, |e| {
        match e {
            Expr::Identifier(i) => out.push((None, i.value.clone(), true)),
            Expr::CompoundIdentifier(parts) => {
                if let Some(last) = parts.last() {
                    let q = parts.len().checked_sub(2).map(|i| parts[i].value.clone());
                    out.push((q, last.value.clone(), true));
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<(String, CondKind, bool)> {
        conditions(s)
            .expect("parses")
            .into_iter()
            .map(|c| (c.column, c.kind, c.wrapped))
            .collect()
    }

    #[test]
    fn plan_filters() {
        assert_eq!(
            kinds("((status = 'confirmed'::text) AND (followup_scheduled_at IS NULL))"),
            vec![
                ("status".into(), CondKind::Equality, false),
                ("followup_scheduled_at".into(), CondKind::IsNull, false)
            ]
        );
        assert_eq!(
            kinds("(event_date < '2024-12-16'::date)"),
            vec![("event_date".into(), CondKind::Range, false)]
        );
        assert_eq!(
            kinds("(status = ANY ('{a,b}'::text[]))"),
            vec![("status".into(), CondKind::Equality, false)]
        );
        assert_eq!(
            kinds("((n)::numeric > $1)"),
            vec![("n".into(), CondKind::Range, true)]
        );
        assert_eq!(
            kinds("(lower(email) = 'x'::text)"),
            vec![("email".into(), CondKind::Equality, true)]
        );
    }

    #[test]
    fn join_conditions_name_both_sides() {
        let c = conditions("(s.customer_id = b.customer_id)").expect("parses");
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].qualifier.as_deref(), Some("b"));
        assert_eq!(c[1].joined_with.as_deref(), Some("s"));
        assert_eq!(c[1].kind, CondKind::Equality);
    }

    #[test]
    fn or_groups_are_not_index_keys() {
        let c = conditions("((a = 1) OR (b = 2))").expect("parses");
        assert!(c.iter().all(|c| c.kind == CondKind::Other));
    }

    #[test]
    fn garbage_is_none() {
        assert!(conditions("(alternatives: SubPlan 1 or hashed SubPlan 2)").is_none());
    }
}
