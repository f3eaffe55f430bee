//! Lexical normalization: from a statement's text to its normalized text
//! (docs/fingerprint.md, "Normalized text") in one pass over the lexer's
//! tokens, without parsing. Constants become `$n`, keywords upper-case,
//! unquoted identifiers lower-case, comments and extra whitespace go, and
//! IN lists, ARRAY[…] constructors and multi-row VALUES fold to one item.
//! The normalized text is also the cache key of the fingerprinter and the
//! input of the parser, so a fingerprint is a function of it alone.

use super::keywords::is_keyword;
use super::lexer::{Kind, Lexer, Token};

/// A token of the normalized statement.
#[derive(Debug, Clone, Copy)]
pub(crate) enum N<'a> {
    /// Keyword, rendered upper-case.
    Kw(&'a str),
    /// Unquoted identifier, rendered lower-case (PostgreSQL folds it so).
    Ident(&'a str),
    /// Quoted identifier, rendered as written.
    Quoted(&'a str),
    /// A constant or parameter: `$n` in the text, `$` in canonical forms.
    Param,
    /// A number kept as written: type modifiers such as `numeric(10, 2)`.
    Lit(&'a str),
    Op(&'a str),
    Punct(u8),
    Cast,
}

impl N<'_> {
    fn is_word(&self, w: &str) -> bool {
        match self {
            N::Kw(s) | N::Ident(s) => s.eq_ignore_ascii_case(w),
            _ => false,
        }
    }

    fn word(&self) -> Option<&str> {
        match self {
            N::Kw(s) | N::Ident(s) => Some(s),
            _ => None,
        }
    }

    fn is_punct(&self, p: u8) -> bool {
        matches!(self, N::Punct(b) if *b == p)
    }

    /// Whether a `-` right after this token is binary (`a - 1`), not a sign (`= -1`).
    fn ends_value(&self) -> bool {
        match self {
            N::Ident(_) | N::Quoted(_) | N::Param | N::Lit(_) => true,
            N::Punct(b) => *b == b')' || *b == b']',
            N::Kw(w) => VALUE_KEYWORDS.iter().any(|k| w.eq_ignore_ascii_case(k)),
            N::Op(_) | N::Cast => false,
        }
    }
}

/// Equality as rendered: words compare case-insensitively, constants all alike.
fn same(a: &N<'_>, b: &N<'_>) -> bool {
    match (a, b) {
        (N::Kw(x), N::Kw(y)) | (N::Ident(x), N::Ident(y)) => x.eq_ignore_ascii_case(y),
        (N::Quoted(x), N::Quoted(y)) | (N::Lit(x), N::Lit(y)) | (N::Op(x), N::Op(y)) => x == y,
        (N::Param, N::Param) | (N::Cast, N::Cast) => true,
        (N::Punct(x), N::Punct(y)) => x == y,
        _ => false,
    }
}

fn same_seq(a: &[N<'_>], b: &[N<'_>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
}

/// Keywords that end an operand, so a following `-` is binary.
const VALUE_KEYWORDS: &[&str] = &[
    "end",
    "null",
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "current_user",
    "session_user",
    "user",
    "current_role",
    "current_schema",
    "current_catalog",
];

/// Type names whose `( … )` holds type modifiers, kept as written.
const TYPMOD_TYPES: &[&str] = &[
    "varchar",
    "char",
    "character",
    "varying",
    "nchar",
    "numeric",
    "decimal",
    "dec",
    "bit",
    "varbit",
    "timestamp",
    "timestamptz",
    "time",
    "timetz",
    "interval",
    "float",
];

/// Words that make `word 'string'` one typed constant.
const TYPED_LITERAL_WORDS: &[&str] = &["date", "time", "timestamp", "timestamptz", "interval"];

const INTERVAL_FIELDS: &[&str] = &["year", "month", "day", "hour", "minute", "second"];

/// Nesting beyond which lists are left unfolded (keeps recursion bounded on hostile input).
const MAX_DEPTH: usize = 32;

fn one_of(word: &str, list: &[&str]) -> bool {
    list.iter().any(|k| word.eq_ignore_ascii_case(k))
}

/// The normalized text of one statement (docs/fingerprint.md).
pub(crate) fn normalize(sql: &str) -> String {
    let toks = tokens(sql);
    let mut out = String::with_capacity(sql.len().min(4096));
    render(&toks, &mut out, false);
    out
}

/// The token-level canonical form hashed for statements the parser
/// rejects: the normalized tokens with every constant as `$` and casts
/// applied directly to constants dropped, separated as in the text.
pub(crate) fn token_canonical(sql: &str) -> String {
    let toks = tokens(sql);
    let mut out = String::with_capacity(sql.len());
    render(&toks, &mut out, true);
    out
}

/// Lex, classify and fold.
fn tokens(sql: &str) -> Vec<N<'_>> {
    let raw: Vec<Token<'_>> = Lexer::skipping_meta_commands(sql)
        .filter(|t| !t.is_comment())
        .collect();
    let mut n = classify(&raw);
    while n.last().is_some_and(|t| t.is_punct(b';')) {
        n.pop();
    }
    let mut folded = Vec::with_capacity(n.len());
    fold(&n, &mut folded, 0);
    folded
}

/// First pass: raw tokens to normalized tokens, constants replaced.
fn classify<'a>(raw: &[Token<'a>]) -> Vec<N<'a>> {
    let mut n: Vec<N<'a>> = Vec::with_capacity(raw.len());
    let mut typmod_depth = 0usize;
    let mut bracket_depth = 0usize;
    let mut i = 0;
    while i < raw.len() {
        let t = raw[i];
        let next = raw.get(i + 1);
        let tok = match t.kind {
            Kind::Number if typmod_depth > 0 => N::Lit(t.text),
            Kind::String | Kind::DollarString | Kind::Number | Kind::Param => N::Param,
            Kind::Word => {
                if t.text.eq_ignore_ascii_case("true") || t.text.eq_ignore_ascii_case("false") {
                    N::Param
                } else if t.text.eq_ignore_ascii_case("null")
                    && !n
                        .last()
                        .is_some_and(|p| p.is_word("is") || p.is_word("not"))
                {
                    // A NULL constant is a constant; `IS [NOT] NULL` and
                    // the `NOT NULL` constraint are syntax.
                    N::Param
                } else if t.text.eq_ignore_ascii_case("key")
                    && n.last().is_some_and(|p| {
                        p.is_word("primary")
                            || p.is_word("foreign")
                            || p.is_word("no")
                            || p.is_word("for")
                    })
                {
                    N::Kw(t.text)
                } else if one_of(t.text, TYPED_LITERAL_WORDS)
                    && next.is_some_and(|x| x.kind == Kind::String)
                {
                    i += 1;
                    if t.text.eq_ignore_ascii_case("interval") {
                        i = skip_interval_fields(raw, i + 1) - 1;
                    }
                    N::Param
                } else if is_name_slot(&n)
                    && !one_of(
                        t.text,
                        &["savepoint", "prepare", "all", "transaction", "work"],
                    )
                {
                    N::Param
                } else if is_keyword(t.text) {
                    N::Kw(t.text)
                } else {
                    N::Ident(t.text)
                }
            }
            Kind::QuotedIdent if is_name_slot(&n) => N::Param,
            Kind::QuotedIdent => N::Quoted(t.text),
            Kind::Operator
                if (t.text == "-" || t.text == "+")
                    && next.is_some_and(|x| x.kind == Kind::Number)
                    && !n.last().is_some_and(N::ends_value) =>
            {
                i += 1;
                N::Param
            }
            Kind::Operator => N::Op(t.text),
            Kind::Cast => N::Cast,
            // psql / pgbench variables (`:cid`, `:'name'`, `:"ident"`)
            // stand for values; `a[lo:hi]` is an array slice.
            Kind::Punct
                if t.text == ":"
                    && bracket_depth == 0
                    && next.is_some_and(|x| {
                        x.start == t.start + 1
                            && matches!(x.kind, Kind::Word | Kind::String | Kind::QuotedIdent)
                    }) =>
            {
                i += 1;
                N::Param
            }
            Kind::Punct => {
                let b = t.text.as_bytes().first().copied().unwrap_or(b'?');
                if b == b'[' {
                    bracket_depth += 1;
                } else if b == b']' {
                    bracket_depth = bracket_depth.saturating_sub(1);
                }
                if b == b'(' {
                    let typmod = typmod_depth > 0
                        || n.last()
                            .and_then(N::word)
                            .is_some_and(|w| one_of(w, TYPMOD_TYPES));
                    if typmod {
                        typmod_depth += 1;
                    }
                } else if b == b')' {
                    typmod_depth = typmod_depth.saturating_sub(1);
                }
                N::Punct(b)
            }
            Kind::LineComment | Kind::BlockComment => {
                i += 1;
                continue;
            }
        };
        n.push(tok);
        i += 1;
    }
    n
}

/// After `INTERVAL '…'`: the index past `DAY`, `HOUR TO MINUTE`, ….
fn skip_interval_fields(raw: &[Token<'_>], mut i: usize) -> usize {
    let is_field = |t: Option<&Token<'_>>| {
        t.is_some_and(|t| t.kind == Kind::Word && one_of(t.text, INTERVAL_FIELDS))
    };
    if is_field(raw.get(i)) {
        i += 1;
        if raw
            .get(i)
            .is_some_and(|t| t.kind == Kind::Word && t.text.eq_ignore_ascii_case("to"))
            && is_field(raw.get(i + 1))
        {
            i += 2;
        }
    }
    i
}

/// Whether the next name is a savepoint or prepared-statement name, which
/// the fingerprint ignores like a constant (`SAVEPOINT sp1` = `SAVEPOINT $1`).
fn is_name_slot(n: &[N<'_>]) -> bool {
    let Some(last) = n.last() else { return false };
    let first = &n[0];
    if last.is_word("savepoint") {
        return true;
    }
    if n.len() == 1
        && ["release", "deallocate", "prepare", "execute", "close"]
            .iter()
            .any(|w| last.is_word(w))
    {
        return true;
    }
    if n.len() == 2 && last.is_word("prepare") && first.is_word("deallocate") {
        return true;
    }
    // ROLLBACK [WORK | TRANSACTION] TO name
    last.is_word("to") && first.is_word("rollback") && n.len() <= 3
}

/// Second pass: fold constant lists and repeated VALUES rows.
fn fold<'a>(n: &[N<'a>], out: &mut Vec<N<'a>>, depth: usize) {
    let mut i = 0;
    while i < n.len() {
        let t = n[i];
        if depth < MAX_DEPTH {
            let (open, close) = if t.is_word("in") {
                (b'(', b')')
            } else if t.is_word("array") {
                (b'[', b']')
            } else {
                (0, 0)
            };
            if open != 0
                && n.get(i + 1).is_some_and(|x| x.is_punct(open))
                && let Some((first_end, close_at)) = const_list(n, i + 2, close)
            {
                out.push(t);
                out.push(N::Punct(open));
                out.extend_from_slice(&n[i + 2..first_end]);
                out.push(N::Punct(close));
                i = close_at + 1;
                continue;
            }
            if t.is_word("values")
                && n.get(i + 1).is_some_and(|x| x.is_punct(b'('))
                && let Some(end) = fold_values(n, i + 1, out, depth)
            {
                i = end;
                continue;
            }
        }
        out.push(t);
        i += 1;
    }
}

/// `VALUES (…), (…), …` starting at the first `(` (index `j`): pushes
/// `VALUES` and the distinct rows, returns the index after the last row.
fn fold_values<'a>(n: &[N<'a>], mut j: usize, out: &mut Vec<N<'a>>, depth: usize) -> Option<usize> {
    let values_kw = n[j - 1];
    let mut kept: Vec<Vec<N<'a>>> = Vec::new();
    loop {
        let close = matching(n, j)?;
        let mut row = Vec::with_capacity(close + 1 - j);
        fold(&n[j..=close], &mut row, depth + 1);
        if !kept.iter().any(|k| same_seq(k, &row)) {
            kept.push(row);
        }
        j = close + 1;
        if n.get(j).is_some_and(|x| x.is_punct(b','))
            && n.get(j + 1).is_some_and(|x| x.is_punct(b'('))
        {
            j += 1;
        } else {
            break;
        }
    }
    out.push(values_kw);
    for (k, row) in kept.iter().enumerate() {
        if k > 0 {
            out.push(N::Punct(b','));
        }
        out.extend_from_slice(row);
    }
    Some(j)
}

/// Index of the bracket closing the one at `open`.
fn matching(n: &[N<'_>], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, t) in n.iter().enumerate().skip(open) {
        match t {
            N::Punct(b'(') | N::Punct(b'[') => depth += 1,
            N::Punct(b')') | N::Punct(b']') => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

/// A list of constant items from `start` up to `close`: the end of the
/// first item and the index of the closing bracket.
fn const_list(n: &[N<'_>], start: usize, close: u8) -> Option<(usize, usize)> {
    let first_end = const_item(n, start, 0)?;
    let mut j = first_end;
    loop {
        match n.get(j)? {
            N::Punct(b) if *b == close => return Some((first_end, j)),
            N::Punct(b',') => j = const_item(n, j + 1, 0)?,
            _ => return None,
        }
    }
}

/// A constant (with casts), or a parenthesized row of them; returns its end.
fn const_item(n: &[N<'_>], j: usize, depth: usize) -> Option<usize> {
    match n.get(j)? {
        N::Param => {
            let mut k = j + 1;
            while n.get(k).is_some_and(|x| matches!(x, N::Cast)) {
                k = skip_type(n, k + 1)?;
            }
            Some(k)
        }
        N::Punct(b'(') if depth < MAX_DEPTH => {
            let mut k = const_item(n, j + 1, depth + 1)?;
            loop {
                match n.get(k)? {
                    N::Punct(b')') => return Some(k + 1),
                    N::Punct(b',') => k = const_item(n, k + 1, depth + 1)?,
                    _ => return None,
                }
            }
        }
        _ => None,
    }
}

/// The end of a type name starting at `k` (after `::`): `bigint`,
/// `pg_catalog.int4`, `double precision`, `character varying(10)`,
/// `timestamp with time zone`, `int[]`.
fn skip_type(n: &[N<'_>], mut k: usize) -> Option<usize> {
    let first = match n.get(k)? {
        N::Kw(w) | N::Ident(w) => Some(*w),
        N::Quoted(_) => None,
        _ => return None,
    };
    k += 1;
    while n.get(k).is_some_and(|x| x.is_punct(b'.'))
        && n.get(k + 1)
            .is_some_and(|x| matches!(x, N::Kw(_) | N::Ident(_) | N::Quoted(_)))
    {
        k += 2;
    }
    if let Some(w) = first {
        if w.eq_ignore_ascii_case("double") && n.get(k).is_some_and(|x| x.is_word("precision")) {
            k += 1;
        }
        if one_of(w, &["character", "char", "bit", "national"])
            && n.get(k).is_some_and(|x| x.is_word("varying"))
        {
            k += 1;
        }
    }
    if n.get(k).is_some_and(|x| x.is_punct(b'(')) {
        let close = matching(n, k)?;
        if n[k + 1..close]
            .iter()
            .all(|x| matches!(x, N::Lit(_) | N::Param | N::Punct(b',')))
        {
            k = close + 1;
        }
    }
    if first.is_some_and(|w| one_of(w, &["timestamp", "time"]))
        && n.get(k)
            .is_some_and(|x| x.is_word("with") || x.is_word("without"))
        && n.get(k + 1).is_some_and(|x| x.is_word("time"))
        && n.get(k + 2).is_some_and(|x| x.is_word("zone"))
    {
        k += 3;
    }
    while n.get(k).is_some_and(|x| x.is_punct(b'[')) {
        match (n.get(k + 1), n.get(k + 2)) {
            (Some(N::Punct(b']')), _) => k += 2,
            (Some(N::Lit(_) | N::Param), Some(N::Punct(b']'))) => k += 3,
            _ => break,
        }
    }
    Some(k)
}

/// Keywords written like functions: no space before their `(`.
const CALL_KEYWORDS: &[&str] = &[
    "any",
    "all",
    "some",
    "cast",
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "extract",
    "substring",
    "trim",
    "overlay",
    "normalize",
    "treat",
    "grouping",
    "xmlelement",
];

/// Render tokens: `$n` numbered left to right (or `$` when `canonical`,
/// which also drops casts applied to constants), one space between tokens
/// except around `.`, `::` and inside brackets.
fn render(n: &[N<'_>], out: &mut String, canonical: bool) {
    let mut param = 0usize;
    let mut prev: Option<N<'_>> = None;
    // Inside the table name after INTO / TABLE / REFERENCES / EXISTS,
    // where a `(` opens a column list, not a call.
    let mut relation = false;
    let mut brackets = 0usize;
    let mut i = 0;
    while i < n.len() {
        let t = n[i];
        if let Some(p) = prev
            && needs_space(&p, &t, brackets > 0, relation)
        {
            out.push(' ');
        }
        relation = match t {
            N::Kw(w) | N::Ident(w) if one_of(w, &["into", "table", "references", "exists"]) => true,
            N::Ident(_) | N::Quoted(_) | N::Punct(b'.') => relation,
            _ => false,
        };
        if t.is_punct(b'[') {
            brackets += 1;
        } else if t.is_punct(b']') {
            brackets = brackets.saturating_sub(1);
        }
        match t {
            N::Kw(w) => {
                for c in w.chars() {
                    out.push(c.to_ascii_uppercase());
                }
            }
            N::Ident(w) => {
                for c in w.chars() {
                    out.push(c.to_ascii_lowercase());
                }
            }
            N::Quoted(w) | N::Lit(w) | N::Op(w) => out.push_str(w),
            N::Param => {
                if canonical {
                    out.push('$');
                    let mut k = i + 1;
                    while n.get(k).is_some_and(|x| matches!(x, N::Cast)) {
                        match skip_type(n, k + 1) {
                            Some(end) => k = end,
                            None => break,
                        }
                    }
                    i = k;
                    prev = Some(t);
                    continue;
                }
                param += 1;
                out.push('$');
                push_usize(out, param);
            }
            N::Punct(b) => out.push(char::from(b)),
            N::Cast => out.push_str("::"),
        }
        prev = Some(t);
        i += 1;
    }
}

fn push_usize(out: &mut String, v: usize) {
    use std::fmt::Write;
    let _ = write!(out, "{v}");
}

fn needs_space(prev: &N<'_>, cur: &N<'_>, in_brackets: bool, relation: bool) -> bool {
    if prev.is_punct(b':') {
        // Read again, `: :` must not become `::` (a cast), nor `: name`
        // `:name` (a psql variable) outside an array slice.
        return matches!(cur, N::Punct(b':') | N::Cast)
            || (!in_brackets && matches!(cur, N::Kw(_) | N::Ident(_) | N::Quoted(_)));
    }
    if cur.is_punct(b':') {
        return false;
    }
    match cur {
        N::Punct(b',' | b')' | b']' | b';' | b'.' | b'[') | N::Cast => return false,
        _ => {}
    }
    match prev {
        N::Punct(b'(' | b'[' | b'.') | N::Cast => return false,
        _ => {}
    }
    if cur.is_punct(b'(') {
        return match prev {
            // `INTO t (a, b)` is a column list, `f(a, b)` a call.
            N::Ident(_) | N::Quoted(_) => relation,
            N::Kw(w) => !one_of(w, CALL_KEYWORDS),
            _ => true,
        };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_keywords_identifiers_comments() {
        assert_eq!(
            normalize(
                "select  Id, \"Name\" from Users -- c\n where id = 42 and name = 'x' /* y */;"
            ),
            "SELECT id, \"Name\" FROM users WHERE id = $1 AND name = $2"
        );
    }

    #[test]
    fn lists_fold_to_one() {
        assert_eq!(
            normalize("SELECT * FROM t WHERE id IN (1, 2, 3) AND k IN ('a'::text, 'b')"),
            "SELECT * FROM t WHERE id IN ($1) AND k IN ($2::text)"
        );
        assert_eq!(
            normalize("INSERT INTO app.t(a) VALUES (f(1))"),
            "INSERT INTO app.t (a) VALUES (f($1))"
        );
        assert_eq!(
            normalize("SELECT * FROM t WHERE id IN ($1 /*, ... */)"),
            "SELECT * FROM t WHERE id IN ($1)"
        );
        assert_eq!(normalize("SELECT ARRAY[1, 2, 3]"), "SELECT ARRAY[$1]");
        assert_eq!(
            normalize("SELECT 1 WHERE (a, b) IN ((1, 2), (3, 4))"),
            "SELECT $1 WHERE (a, b) IN (($2, $3))"
        );
        // Not all constants: kept as written.
        assert_eq!(
            normalize("SELECT 1 WHERE a IN (b, 2)"),
            "SELECT $1 WHERE a IN (b, $2)"
        );
    }

    #[test]
    fn values_rows_fold() {
        assert_eq!(
            normalize(
                "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, NULL) ON CONFLICT DO NOTHING"
            ),
            "INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            normalize("INSERT INTO t VALUES (1, now()), (2, 'x'), (3, now())"),
            "INSERT INTO t VALUES ($1, now()), ($2, $3)"
        );
        assert_eq!(
            normalize("SELECT 1 FROM t WHERE a IS NULL AND b IS NOT NULL AND c = NULL"),
            "SELECT $1 FROM t WHERE a IS NULL AND b IS NOT NULL AND c = $2"
        );
    }

    #[test]
    fn signs_typed_literals_and_typmods() {
        assert_eq!(
            normalize("SELECT a - 1, -2, x = -3.5"),
            "SELECT a - $1, $2, x = $3"
        );
        assert_eq!(
            normalize("SELECT DATE '2024-01-01', now() - interval '1' day, true"),
            "SELECT $1, now() - $2, $3"
        );
        assert_eq!(
            normalize("SELECT 1::numeric(10,2), CAST(2 AS varchar(20))"),
            "SELECT $1::numeric(10, 2), CAST($2 AS varchar(20))"
        );
    }

    #[test]
    fn utility_names_are_constants() {
        assert_eq!(normalize("SAVEPOINT sp1"), "SAVEPOINT $1");
        assert_eq!(normalize("RELEASE SAVEPOINT sp1"), "RELEASE SAVEPOINT $1");
        assert_eq!(
            normalize("ROLLBACK TO SAVEPOINT \"x\""),
            "ROLLBACK TO SAVEPOINT $1"
        );
        assert_eq!(normalize("DEALLOCATE p1"), "DEALLOCATE $1");
        assert_eq!(normalize("DEALLOCATE ALL"), "DEALLOCATE ALL");
        assert_eq!(normalize("EXECUTE p1(42)"), "EXECUTE $1 ($2)");
        assert_eq!(normalize("ROLLBACK WORK TO sp"), "ROLLBACK WORK TO $1");
    }

    #[test]
    fn psql_variables_are_constants_but_slices_stay() {
        assert_eq!(
            normalize("SELECT a[1:2], b[lo:hi] FROM t WHERE id = :cid AND n = :'name'"),
            "SELECT a[$1:$2], b[lo:hi] FROM t WHERE id = $3 AND n = $4"
        );
    }

    #[test]
    fn meta_commands_inside_a_statement_are_not_sql() {
        assert_eq!(normalize("SELECT a \\set x 1\nFROM t"), "SELECT a FROM t");
    }

    #[test]
    fn canonical_drops_casts_on_constants() {
        assert_eq!(
            token_canonical("SELECT $1::bigint, '2'::timestamp with time zone, x::int"),
            "SELECT $, $, x::int"
        );
    }

    #[test]
    fn normalizing_twice_changes_nothing() {
        for sql in [
            "SELECT f(1), ARRAY[1,2] FROM t WHERE a = ANY('{1,2}'::int[]) LIMIT 10",
            "INSERT INTO t VALUES (1, now()), (2, NOW())",
            "SELECT a.b.c, count(*) FILTER (WHERE x > 0) OVER (PARTITION BY y) FROM t a",
        ] {
            let once = normalize(sql);
            assert_eq!(normalize(&once), once, "{sql}");
        }
    }
}
