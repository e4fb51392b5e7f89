//! The `--filter`, `--sort` and `--columns` language of `mlops runs list`.
//!
//! People who pick up `mlops` usually come from MLflow, so filters are written
//! in MLflow's `search_runs` grammar (`metrics.acc > 0.9 and params.model =
//! 'LR'`): the same identifiers, scope aliases, quoting rules and comparators,
//! so a filter copied from an MLflow notebook works unchanged. MLflow only
//! allows a flat `AND` of comparisons; here `or`, `not` and parentheses are
//! added because "this model or that one" is the first thing people miss. The
//! parser is hand-written (no parser generator) so that every error can name
//! what was expected and point at the exact column.
//!
//! # Grammar
//!
//! ```text
//! filter     := or
//! or         := and ("or" and)*
//! and        := not ("and" not)*
//! not        := "not" not | primary            -- precedence: not > and > or
//! primary    := "(" or ")" | comparison
//! comparison := field ("=" | "!=" | "<>" | ">" | ">=" | "<" | "<=") value
//!             | field ["not"] ("like" | "ilike") string
//!             | field ["not"] "in" "(" value ("," value)* ")"
//!             | field "is" ["not"] "null"
//! field      := scope "." key | attribute
//! scope      := metric(s) | param(s) | parameter(s) | tag(s)
//!             | attribute(s) | attr | run         -- optionally in backticks
//! key        := bare-key | `backticked` | "double quoted" | 'single quoted'
//! value      := number | 'string' | "string" | true | false
//! ```
//!
//! Keywords (`and`, `like`, `is not null`, `true`, ...) and scope names are
//! case-insensitive; keys and string values are case-sensitive.
//!
//! # Decisions, and where they differ from MLflow
//!
//! - **Identifiers.** As in MLflow, a field without a scope is a run
//!   attribute, and attribute names are checked (see [`ATTRIBUTES`]) so that
//!   `acc > 0.9` fails with a hint instead of silently matching nothing.
//!   MLflow's aliases `created` (for `start_time`) and `run name` are kept;
//!   attribute names, being fixed words, are matched in any case.
//!   A bare key may contain letters, digits, `_`, `.`, `-` and `/`
//!   (`metrics.val/loss`, `params.optimizer.lr`); MLflow wants those quoted,
//!   and quoting still works. Only the first `.` separates scope from key.
//! - **Strings.** Single or double quotes, as in MLflow. MLflow keeps escape
//!   sequences raw (`'it''s'` searches for `it''s`); here a doubled quote
//!   (SQL style) or a backslash-escaped quote stands for the quote itself and
//!   `\\` for one backslash; any other backslash is kept as written, so
//!   Windows paths and regex-looking text need no escaping.
//! - **Values are typed, comparisons coerce.** A run's value is a [`Value`].
//!   Number vs number compares numerically. A string value (params and tags
//!   are strings) against a number literal compares numerically if the string
//!   parses as a number (`params.lr > 0.001` works on `"0.01"`), and is false
//!   otherwise, for every operator including `!=`. A quoted literal is a
//!   string: `params.lr = '0.01'` compares text. String vs string compares
//!   byte-wise lexicographically for `<` and `>`. A boolean matches `true` /
//!   `false` literals and the strings `"true"` / `"false"` (any case); a
//!   boolean against a number is false. NaN follows IEEE (only `!=` is true).
//!   MLflow rejects `params.x = 5` and `params.x > 'a'`; both are accepted.
//! - **Metrics are numbers.** As in MLflow, comparing a metric with a string
//!   that is not a number, or using `like` on a metric, is a parse error.
//! - **Missing keys.** Any comparison (`=`, `!=`, `like`, `in`, `not in`, ...)
//!   on a key the run lacks is false, as in SQL and as MLflow drops runs that
//!   lack the metric; test presence with `is null` / `is not null` (allowed on
//!   every scope, where MLflow allows it on params and tags only).
//! - **Two-valued logic.** `not x` is exactly the runs for which `x` is false,
//!   so `not metrics.acc > 0.9` includes runs that have no `acc` (SQL's
//!   three-valued logic would drop them); write `metrics.acc <= 0.9` to exclude
//!   them. `not in`, `not like` are single operators and stay false on a
//!   missing key; `x not in (a, b)` means `x != a and x != b`.
//! - **LIKE.** `%` is any run of characters, `_` is one character, the match is
//!   anchored at both ends, `ilike` ignores case. `\%` and `\_` match a literal
//!   `%` or `_` (MLflow has no escape). A number or boolean is matched through
//!   its text (`1`, `0.5`, `true`).
//! - **Operators.** `<>` is accepted as `!=` (SQL); `==` is rejected with a
//!   hint to write `=`, as MLflow rejects it.
//! - **Sorting.** `--sort -metrics.acc,params.lr` or MLflow's `metrics.acc
//!   DESC`. Runs lacking the key (and NaN) sort last in both directions, as in
//!   MLflow; a string that parses as a number sorts as that number, so params
//!   order `0.001 < 0.01 < 0.1` (MLflow compares them as text).
//! - **Not supported:** MLflow's `dataset.` scope and `RLIKE`.

use std::cmp::Ordering;
use std::fmt;

/// The attribute names a filter may use without a scope. Checked at parse
/// time because a misspelt or forgotten-scope name (`acc > 0.9`) would
/// otherwise match no run and look like an empty result.
pub const ATTRIBUTES: &[&str] = &[
    "run_id",
    "run_name",
    "status",
    "experiment",
    "start_time",
    "end_time",
    "duration",
    "exit_code",
];

/// Where a key lives in a run; decides which store a lookup reads from.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    Metric,
    Param,
    Tag,
    Attribute,
}

/// A column of a run: `metrics.acc`, `params.lr`, `status`.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub scope: Scope,
    pub key: String,
}

/// A typed value, either of a run or written in a filter. Typed so that
/// `0.01 < 0.1` holds where the strings `"0.01" < "0.1"` would need luck.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Num(f64),
    Str(String),
    Bool(bool),
}

/// The ordering operators; `like`, `in` and `is null` have their own
/// [`Expr`] variants because their right-hand sides differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed filter. `And` and `Or` hold flattened operand lists, so
/// `a and b and c` is one node, which keeps the tree (and its `Display`) flat.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Cmp {
        field: Field,
        op: CmpOp,
        value: Value,
    },
    /// `like` / `ilike` (`case_insensitive`), `not like` (`negated`).
    Like {
        field: Field,
        pattern: String,
        case_insensitive: bool,
        negated: bool,
    },
    /// `in` / `not in` (`negated`).
    In {
        field: Field,
        values: Vec<Value>,
        negated: bool,
    },
    /// `is null` / `is not null` (`negated`).
    IsNull {
        field: Field,
        negated: bool,
    },
}

/// One `--sort` key.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub field: Field,
    pub descending: bool,
}

/// A filter, sort or column spec the user must fix. It keeps the input and a
/// 1-based character column so the CLI can print a caret line under it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid filter at column {column}: {message}")]
pub struct FilterError {
    pub message: String,
    pub column: usize,
    pub input: String,
}

impl FilterError {
    /// The input and, under it, a `^` at the column: the hint line that makes
    /// "column 37" findable in a long filter. Tabs before the column are
    /// repeated so the caret lines up however the terminal expands them.
    pub fn caret(&self) -> String {
        let pad: String = self
            .input
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("{}\n{pad}^", self.input)
    }
}

/// Parses a `--filter` expression.
pub fn parse(input: &str) -> Result<Expr, FilterError> {
    let mut p = Parser::new(input);
    p.skip_ws();
    if p.at_end() {
        return Err(p.err(
            p.pos,
            "the filter is empty; expected a comparison such as `metrics.acc > 0.9`",
        ));
    }
    let expr = p.parse_or()?;
    p.skip_ws();
    match p.peek() {
        None => Ok(expr),
        Some(')') => Err(p.err(p.pos, "found `)` without a matching `(`")),
        Some(_) => Err(p.err(
            p.pos,
            format!(
                "expected `and`, `or` or the end of the filter, found {}",
                p.found(p.pos)
            ),
        )),
    }
}

/// Parses a `--sort` spec: comma-separated fields, each descending with a
/// leading `-` (`-metrics.acc,params.lr`) or, as in MLflow's `order_by`, a
/// trailing `asc` / `desc` (`metrics.acc DESC`). Ascending is the default.
pub fn parse_sort(input: &str) -> Result<Vec<SortKey>, FilterError> {
    let mut p = Parser::new(input);
    let mut keys = Vec::new();
    loop {
        p.skip_ws();
        let sign = match p.peek() {
            Some('-') => Some(true),
            Some('+') => Some(false),
            _ => None,
        };
        if sign.is_some() {
            p.pos += 1;
        }
        let start = p.pos;
        let field = p.parse_field("a sort key such as `-metrics.acc`")?;
        let field_text = p.text(start, p.pos);
        p.skip_ws();
        let dir_at = p.pos;
        let mut descending = sign.unwrap_or(false);
        for (word, desc) in [("asc", false), ("desc", true)] {
            if p.eat_keyword(word) {
                if sign.is_some() {
                    return Err(p.err(
                        dir_at,
                        format!(
                            "`{field_text}` has both a sign and `{word}`; use either a leading `-` or a trailing `desc`"
                        ),
                    ));
                }
                descending = desc;
            }
        }
        keys.push(SortKey { field, descending });
        p.skip_ws();
        match p.peek() {
            None => return Ok(keys),
            Some(',') => p.pos += 1,
            Some(_) => {
                return Err(p.err(
                    p.pos,
                    format!(
                        "expected `,`, `asc`, `desc` or the end after `{field_text}`, found {}",
                        p.found(p.pos)
                    ),
                ))
            }
        }
    }
}

/// Parses one field name, as `--columns` lists them (`metrics.acc`,
/// ``metrics.`f1 score` ``, `status`).
pub fn parse_field(s: &str) -> Result<Field, FilterError> {
    let mut p = Parser::new(s);
    let field = p.parse_field("a field such as `metrics.acc`")?;
    p.skip_ws();
    if !p.at_end() {
        return Err(p.err(
            p.pos,
            format!(
                "expected the end of the field name after `{}`, found {}",
                p.text(0, p.pos).trim(),
                p.found(p.pos)
            ),
        ));
    }
    Ok(field)
}

/// Orders two values ascending for `--sort`, with missing values after all
/// present ones. NaN goes after every number but before missing values. A
/// string that parses as a number sorts as that number, so `params.lr`
/// (stored as text) sorts `0.001 < 0.01 < 0.1`; across types, numbers come
/// before booleans before other strings.
///
/// For descending order use [`SortKey::compare`] rather than reversing this:
/// missing values (and NaN) stay last in **both** directions, as in MLflow,
/// because the runs that lack the metric are never the interesting ones.
pub fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    compare_directed(a, b, false)
}

impl SortKey {
    /// Orders two values of this key's field in this key's direction, missing
    /// values and NaN last either way (see [`compare`]).
    pub fn compare(&self, a: Option<&Value>, b: Option<&Value>) -> Ordering {
        compare_directed(a, b, self.descending)
    }
}

impl Expr {
    /// Whether a run matches. `lookup` gives a run's value of a field, `None`
    /// when the run lacks it; see the module docs for the typing rules.
    pub fn eval(&self, lookup: &dyn Fn(&Field) -> Option<Value>) -> bool {
        match self {
            Expr::Or(items) => items.iter().any(|e| e.eval(lookup)),
            Expr::And(items) => items.iter().all(|e| e.eval(lookup)),
            Expr::Not(e) => !e.eval(lookup),
            Expr::Cmp { field, op, value } => {
                lookup(field).is_some_and(|have| compare_values(&have, *op, value))
            }
            Expr::Like {
                field,
                pattern,
                case_insensitive,
                negated,
            } => lookup(field).is_some_and(|have| {
                like(&have.to_string(), pattern, *case_insensitive) != *negated
            }),
            Expr::In {
                field,
                values,
                negated,
            } => lookup(field).is_some_and(|have| {
                if *negated {
                    values.iter().all(|v| compare_values(&have, CmpOp::Ne, v))
                } else {
                    values.iter().any(|v| compare_values(&have, CmpOp::Eq, v))
                }
            }),
            Expr::IsNull { field, negated } => lookup(field).is_none() != *negated,
        }
    }

    /// The fields the filter reads, each once, in order of first appearance:
    /// lets the caller load only the metrics and params a filter needs.
    pub fn fields(&self) -> Vec<&Field> {
        let mut out: Vec<&Field> = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a Field>) {
        let field = match self {
            Expr::Or(items) | Expr::And(items) => {
                items.iter().for_each(|e| e.collect_fields(out));
                return;
            }
            Expr::Not(e) => return e.collect_fields(out),
            Expr::Cmp { field, .. }
            | Expr::Like { field, .. }
            | Expr::In { field, .. }
            | Expr::IsNull { field, .. } => field,
        };
        if !out.contains(&field) {
            out.push(field);
        }
    }
}

// ---------------------------------------------------------------------------
// Display: a canonical spelling, so the CLI can echo what it understood
// (with explicit parentheses) and tests can state precedence plainly.

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Metric => "metrics",
            Scope::Param => "params",
            Scope::Tag => "tags",
            Scope::Attribute => "attributes",
        })
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = !self.key.is_empty() && self.key.chars().all(is_key_char);
        match (&self.scope, plain) {
            (Scope::Attribute, true) => f.write_str(&self.key),
            (scope, true) => write!(f, "{scope}.{}", self.key),
            (scope, false) => write!(
                f,
                "{scope}.`{}`",
                self.key.replace('\\', "\\\\").replace('`', "``")
            ),
        }
    }
}

/// The text of a value: how `like` sees numbers and booleans, and how a table
/// cell shows them (`3`, not `3.0`).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Num(n) => write!(f, "{n}"),
            Value::Str(s) => f.write_str(s),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        })
    }
}

/// A value as a filter literal that parses back to itself: strings
/// single-quoted, quotes doubled, backslashes doubled (a lone backslash
/// before the closing quote would otherwise escape it).
struct Literal<'a>(&'a Value);

impl fmt::Display for Literal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Str(s) => write!(f, "'{}'", s.replace('\\', "\\\\").replace('\'', "''")),
            other => write!(f, "{other}"),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Parenthesise an operand only where precedence would regroup it.
        fn operand(f: &mut fmt::Formatter<'_>, e: &Expr, parent_binds: u8) -> fmt::Result {
            let binds = match e {
                Expr::Or(_) => 1,
                Expr::And(_) => 2,
                _ => 3,
            };
            if binds < parent_binds {
                write!(f, "({e})")
            } else {
                write!(f, "{e}")
            }
        }
        let list = |f: &mut fmt::Formatter<'_>, items: &[Expr], sep: &str, binds: u8| {
            for (i, e) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                operand(f, e, binds)?;
            }
            Ok(())
        };
        match self {
            Expr::Or(items) => list(f, items, " or ", 1),
            Expr::And(items) => list(f, items, " and ", 2),
            Expr::Not(e) => {
                f.write_str("not ")?;
                operand(f, e, 3)
            }
            Expr::Cmp { field, op, value } => write!(f, "{field} {op} {}", Literal(value)),
            Expr::Like {
                field,
                pattern,
                case_insensitive,
                negated,
            } => write!(
                f,
                "{field} {}{} {}",
                if *negated { "not " } else { "" },
                if *case_insensitive { "ilike" } else { "like" },
                Literal(&Value::Str(pattern.clone()))
            ),
            Expr::In {
                field,
                values,
                negated,
            } => {
                write!(f, "{field} {}in (", if *negated { "not " } else { "" })?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", Literal(v))?;
                }
                f.write_str(")")
            }
            Expr::IsNull { field, negated } => {
                write!(f, "{field} is {}null", if *negated { "not " } else { "" })
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Evaluation.

/// A string's number, if it is written as one. Requires a digit so that
/// words Rust would parse (`inf`, `NaN`) stay text.
fn numeric(s: &str) -> Option<f64> {
    let t = s.trim();
    if !t.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn boolean(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `have op want` under the coercions of the module docs; false when the
/// types cannot be compared.
fn compare_values(have: &Value, op: CmpOp, want: &Value) -> bool {
    use Value::*;
    let nums = match (have, want) {
        (Num(a), Num(b)) => Some((*a, *b)),
        (Num(a), Str(s)) => numeric(s).map(|b| (*a, b)),
        (Str(s), Num(b)) => numeric(s).map(|a| (a, *b)),
        _ => None,
    };
    if let Some((a, b)) = nums {
        // Plain f64 operators, so NaN behaves as in IEEE and Python.
        return match op {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
        };
    }
    let ord = match (have, want) {
        (Str(a), Str(b)) => Some(a.cmp(b)),
        (Bool(a), Bool(b)) => Some(a.cmp(b)),
        (Bool(a), Str(s)) => boolean(s).map(|b| a.cmp(&b)),
        (Str(s), Bool(b)) => boolean(s).map(|a| a.cmp(b)),
        _ => None,
    };
    ord.is_some_and(|o| match op {
        CmpOp::Eq => o.is_eq(),
        CmpOp::Ne => o.is_ne(),
        CmpOp::Gt => o.is_gt(),
        CmpOp::Ge => o.is_ge(),
        CmpOp::Lt => o.is_lt(),
        CmpOp::Le => o.is_le(),
    })
}

/// SQL `LIKE`, anchored at both ends: `%` any run, `_` one character,
/// `\%` / `\_` / `\\` literal. Backtracks only to the last `%`, so the cost
/// stays linear-ish however many `%` a pattern has.
fn like(text: &str, pattern: &str, case_insensitive: bool) -> bool {
    #[derive(PartialEq)]
    enum Tok {
        Any,
        One,
        Lit(char),
    }
    let fold = |s: &str| -> Vec<char> {
        if case_insensitive {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let text = fold(text);
    let pat_chars = fold(pattern);
    let mut pat = Vec::with_capacity(pat_chars.len());
    let mut i = 0;
    while i < pat_chars.len() {
        match pat_chars[i] {
            '\\' if matches!(pat_chars.get(i + 1), Some('%' | '_' | '\\')) => {
                pat.push(Tok::Lit(pat_chars[i + 1]));
                i += 1;
            }
            '%' => pat.push(Tok::Any),
            '_' => pat.push(Tok::One),
            c => pat.push(Tok::Lit(c)),
        }
        i += 1;
    }
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(Tok::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Tok::One) => {
                t += 1;
                p += 1;
            }
            Some(Tok::Lit(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|tok| *tok == Tok::Any)
}

/// Sort classes, in ascending order; the last two stay last when descending.
enum SortClass<'a> {
    Num(f64),
    Bool(bool),
    Str(&'a str),
    NaN,
    Missing,
}

impl SortClass<'_> {
    fn rank(&self) -> u8 {
        match self {
            SortClass::Num(_) => 0,
            SortClass::Bool(_) => 1,
            SortClass::Str(_) => 2,
            SortClass::NaN => 3,
            SortClass::Missing => 4,
        }
    }
}

fn sort_class(v: Option<&Value>) -> SortClass<'_> {
    let num = |n: f64| {
        if n.is_nan() {
            SortClass::NaN
        } else {
            SortClass::Num(n)
        }
    };
    match v {
        None => SortClass::Missing,
        Some(Value::Num(n)) => num(*n),
        Some(Value::Bool(b)) => SortClass::Bool(*b),
        Some(Value::Str(s)) => numeric(s).map_or(SortClass::Str(s), num),
    }
}

fn compare_directed(a: Option<&Value>, b: Option<&Value>, descending: bool) -> Ordering {
    let (a, b) = (sort_class(a), sort_class(b));
    if a.rank() >= 3 || b.rank() >= 3 {
        return a.rank().cmp(&b.rank());
    }
    let ord = match (&a, &b) {
        // NaN is excluded above, so partial_cmp is total here.
        (SortClass::Num(x), SortClass::Num(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (SortClass::Bool(x), SortClass::Bool(y)) => x.cmp(y),
        (SortClass::Str(x), SortClass::Str(y)) => x.cmp(y),
        _ => a.rank().cmp(&b.rank()),
    };
    if descending {
        ord.reverse()
    } else {
        ord
    }
}

// ---------------------------------------------------------------------------
// Parsing: recursive descent straight over the characters. The grammar is
// context-sensitive in small ways (a key after `metrics.` may contain `.` and
// `-`; a word is a keyword in one place and a value in another), which a
// scanner driven by the parser handles more simply than a separate lexer.

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "like", "ilike", "is", "null", "true", "false",
];

/// Characters of an unquoted scope, attribute or keyword.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Characters of an unquoted key after `scope.`.
fn is_key_char(c: char) -> bool {
    is_word_char(c) || matches!(c, '.' | '-' | '/')
}

fn scope_named(word: &str) -> Option<Scope> {
    Some(match word.to_ascii_lowercase().as_str() {
        "metric" | "metrics" => Scope::Metric,
        "param" | "params" | "parameter" | "parameters" => Scope::Param,
        "tag" | "tags" => Scope::Tag,
        "attribute" | "attributes" | "attr" | "run" => Scope::Attribute,
        _ => return None,
    })
}

/// The canonical attribute a name (or MLflow alias) stands for.
fn attribute_named(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let canonical = match lower.as_str() {
        "created" => "start_time",
        "run name" => "run_name",
        other => other,
    };
    ATTRIBUTES.iter().copied().find(|a| *a == canonical)
}

/// Edit distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (distance(&word, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

struct Parser<'a> {
    input: &'a str,
    chars: Vec<char>,
    pos: usize,
    /// The last keyword or `(` consumed, for "expected ... after `or`".
    prev: Option<String>,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Parser {
            input,
            chars: input.chars().collect(),
            pos: 0,
            prev: None,
        }
    }

    fn err(&self, at: usize, message: impl Into<String>) -> FilterError {
        FilterError {
            message: message.into(),
            column: at + 1,
            input: self.input.to_string(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn text(&self, from: usize, to: usize) -> String {
        self.chars[from..to].iter().collect()
    }

    fn word_end(&self, from: usize) -> usize {
        let mut end = from;
        while self.chars.get(end).copied().is_some_and(is_word_char) {
            end += 1;
        }
        end
    }

    /// Consumes `kw` (any case) if it is the next whole word.
    fn eat_keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let end = self.word_end(self.pos);
        if end > self.pos && self.text(self.pos, end).eq_ignore_ascii_case(kw) {
            self.prev = Some(kw.to_string());
            self.pos = end;
            true
        } else {
            false
        }
    }

    /// How the input at `at` reads in an error: a whole token, quoted.
    fn found(&self, at: usize) -> String {
        let Some(&c) = self.chars.get(at) else {
            return "the end of the filter".to_string();
        };
        if c.is_whitespace() {
            return "whitespace".to_string();
        }
        let end = match c {
            '\'' | '"' | '`' => {
                let mut end = at + 1;
                while end < self.chars.len() && self.chars[end] != c {
                    end += 1;
                }
                (end + 1).min(self.chars.len())
            }
            c if is_key_char(c) => {
                let mut end = at;
                while self.chars.get(end).copied().is_some_and(is_key_char) {
                    end += 1;
                }
                end
            }
            '=' | '!' | '<' | '>' => {
                let mut end = at;
                while matches!(self.chars.get(end), Some('=' | '!' | '<' | '>')) {
                    end += 1;
                }
                end
            }
            _ => at + 1,
        };
        let mut token = self.text(at, end);
        if token.chars().count() > 40 {
            token = token.chars().take(40).collect::<String>() + "…";
        }
        format!("`{token}`")
    }

    fn after_prev(&self) -> String {
        match &self.prev {
            Some(p) => format!(" after `{p}`"),
            None => String::new(),
        }
    }

    fn parse_or(&mut self) -> Result<Expr, FilterError> {
        let mut items = vec![self.parse_and()?];
        while self.eat_keyword("or") {
            items.push(self.parse_and()?);
        }
        Ok(flatten(items, true))
    }

    fn parse_and(&mut self) -> Result<Expr, FilterError> {
        let mut items = vec![self.parse_not()?];
        while self.eat_keyword("and") {
            items.push(self.parse_not()?);
        }
        Ok(flatten(items, false))
    }

    fn parse_not(&mut self) -> Result<Expr, FilterError> {
        if self.eat_keyword("not") {
            return Ok(Expr::Not(Box::new(self.parse_not()?)));
        }
        self.parse_primary()
    }

    fn parse_primary(&mut self) -> Result<Expr, FilterError> {
        self.skip_ws();
        if self.peek() != Some('(') {
            return self.parse_comparison();
        }
        let open = self.pos;
        self.pos += 1;
        self.prev = Some("(".to_string());
        let inner = self.parse_or()?;
        self.skip_ws();
        if self.peek() != Some(')') {
            return Err(self.err(
                self.pos,
                format!(
                    "expected `)` to close the `(` at column {}, found {}",
                    open + 1,
                    self.found(self.pos)
                ),
            ));
        }
        self.pos += 1;
        Ok(inner)
    }

    fn parse_comparison(&mut self) -> Result<Expr, FilterError> {
        let what = format!(
            "a comparison such as `metrics.acc > 0.9`{}",
            self.after_prev()
        );
        self.skip_ws();
        let start = self.pos;
        let field = self.parse_field(&what)?;
        let field_text = self.text(start, self.pos);
        self.skip_ws();
        let op_at = self.pos;
        let rest: String = self.chars[self.pos..].iter().take(2).collect();
        let symbolic = [
            ("!=", CmpOp::Ne),
            ("<>", CmpOp::Ne),
            (">=", CmpOp::Ge),
            ("<=", CmpOp::Le),
            ("==", CmpOp::Eq),
            ("=", CmpOp::Eq),
            (">", CmpOp::Gt),
            ("<", CmpOp::Lt),
        ];
        if let Some((text, op)) = symbolic.iter().find(|(t, _)| rest.starts_with(*t)) {
            if *text == "==" {
                return Err(self.err(op_at, "`==` is not an operator; use `=`"));
            }
            self.pos += text.len();
            let value_at = self.skip_ws_then_pos();
            let value = self.parse_value(text)?;
            check_metric_value(self, &field, &value, value_at, text)?;
            return Ok(Expr::Cmp {
                field,
                op: *op,
                value,
            });
        }
        let negated = self.eat_keyword("not");
        for (kw, case_insensitive) in [("like", false), ("ilike", true)] {
            if self.eat_keyword(kw) {
                if field.scope == Scope::Metric {
                    return Err(self.err(
                        op_at,
                        format!(
                            "metrics are numbers, so `{field_text}` cannot be matched with \
                             `{kw}`; compare it with `=`, `<`, `>`"
                        ),
                    ));
                }
                let value_at = self.skip_ws_then_pos();
                return match self.parse_value(kw)? {
                    Value::Str(pattern) => Ok(Expr::Like {
                        field,
                        pattern,
                        case_insensitive,
                        negated,
                    }),
                    _ => Err(self.err(
                        value_at,
                        format!(
                            "`{kw}` needs a quoted pattern such as '%loss%', found {}",
                            self.found(value_at)
                        ),
                    )),
                };
            }
        }
        if self.eat_keyword("in") {
            let values = self.parse_list(&field)?;
            return Ok(Expr::In {
                field,
                values,
                negated,
            });
        }
        if negated {
            self.skip_ws();
            return Err(self.err(
                self.pos,
                format!(
                    "expected `in`, `like` or `ilike` after `not`, found {}",
                    self.found(self.pos)
                ),
            ));
        }
        if self.eat_keyword("is") {
            let negated = self.eat_keyword("not");
            if !self.eat_keyword("null") {
                let at = self.skip_ws_then_pos();
                return Err(self.err(
                    at,
                    format!(
                        "expected `null` or `not null` after `is`, found {}",
                        self.found(at)
                    ),
                ));
            }
            return Ok(Expr::IsNull { field, negated });
        }
        Err(self.err(
            op_at,
            format!(
                "expected a comparison operator after `{field_text}`, found {}",
                self.found(op_at)
            ),
        ))
    }

    fn skip_ws_then_pos(&mut self) -> usize {
        self.skip_ws();
        self.pos
    }

    /// `scope.key` or a bare attribute. `what` names what the caller wanted,
    /// for the error when there is no field at all.
    fn parse_field(&mut self, what: &str) -> Result<Field, FilterError> {
        self.skip_ws();
        let start = self.pos;
        let not_a_field = |p: &Self| {
            if p.at_end() && p.input.trim().is_empty() {
                p.err(start, format!("expected {what}, found nothing"))
            } else {
                p.err(start, format!("expected {what}, found {}", p.found(start)))
            }
        };
        let (first, quoted) = match self.peek() {
            Some('`') => (self.quoted('`')?, true),
            Some(c) if is_word_char(c) && !c.is_ascii_digit() => {
                let end = self.word_end(self.pos);
                let word = self.text(self.pos, end);
                self.pos = end;
                (word, false)
            }
            _ => return Err(not_a_field(self)),
        };
        if self.peek() != Some('.') {
            if !quoted && KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(&first)) {
                self.pos = start;
                return Err(not_a_field(self));
            }
            return self.attribute(&first, start);
        }
        self.pos += 1;
        let Some(scope) = scope_named(&first) else {
            let scopes = "`metrics`, `params`, `tags` and `attributes`";
            let message = if first.eq_ignore_ascii_case("dataset")
                || first.eq_ignore_ascii_case("datasets")
            {
                format!("mlops runs have no `{first}` scope; the scopes are {scopes}")
            } else {
                let hint = suggest(
                    &first,
                    &["metrics", "params", "parameters", "tags", "attributes"],
                )
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
                format!("unknown scope `{first}`; the scopes are {scopes}{hint}")
            };
            return Err(self.err(start, message));
        };
        let key_at = self.pos;
        let key = match self.peek() {
            Some(q @ ('`' | '"' | '\'')) => self.quoted(q)?,
            Some(c) if is_key_char(c) => {
                while self.peek().is_some_and(is_key_char) {
                    self.pos += 1;
                }
                self.text(key_at, self.pos)
            }
            _ => {
                return Err(self.err(
                    key_at,
                    format!(
                        "expected a key after `{}`, found {}",
                        self.text(start, key_at),
                        self.found(key_at)
                    ),
                ))
            }
        };
        if key.is_empty() {
            return Err(self.err(key_at, "the key is empty"));
        }
        if scope == Scope::Attribute {
            return self.attribute(&key, key_at);
        }
        Ok(Field { scope, key })
    }

    fn attribute(&self, name: &str, at: usize) -> Result<Field, FilterError> {
        match attribute_named(name) {
            Some(key) => Ok(Field {
                scope: Scope::Attribute,
                key: key.to_string(),
            }),
            None => {
                let hint = match suggest(name, ATTRIBUTES) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "for a logged value write `metrics.{name}`, `params.{name}` or `tags.{name}`"
                    ),
                };
                Err(self.err(
                    at,
                    format!(
                        "unknown attribute `{name}`; attributes are {}; {hint}",
                        ATTRIBUTES.join(", ")
                    ),
                ))
            }
        }
    }

    /// A quoted string or key starting at the current quote character. A
    /// doubled quote or a backslash before the quote (or before another
    /// backslash) stands for that character; other backslashes are literal.
    fn quoted(&mut self, q: char) -> Result<String, FilterError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                let what = if q == '`' { "quoted key" } else { "string" };
                let closing = if q == '`' {
                    "backtick".to_string()
                } else {
                    format!("`{q}`")
                };
                return Err(self.err(
                    open,
                    format!(
                        "unterminated {what}: no closing {closing} for the one at column {}",
                        open + 1
                    ),
                ));
            };
            let next = self.chars.get(self.pos + 1).copied();
            if c == q && next == Some(q) || c == '\\' && (next == Some(q) || next == Some('\\')) {
                out.push(next.unwrap_or(c));
                self.pos += 2;
            } else if c == q {
                self.pos += 1;
                return Ok(out);
            } else {
                out.push(c);
                self.pos += 1;
            }
        }
    }

    /// A literal after the operator `after`.
    fn parse_value(&mut self, after: &str) -> Result<Value, FilterError> {
        self.skip_ws();
        let at = self.pos;
        match self.peek() {
            None => Err(self.err(
                at,
                format!("expected a value after `{after}`, found the end of the filter"),
            )),
            Some(q @ ('\'' | '"')) => Ok(Value::Str(self.quoted(q)?)),
            Some('`') => Err(self.err(
                at,
                "backticks quote keys, not values; quote the value with ' or \"",
            )),
            Some(c) if c.is_ascii_digit() || matches!(c, '.' | '-' | '+') => self.number(after),
            Some(c) if is_word_char(c) => {
                let end = self.word_end(at);
                let word = self.text(at, end);
                if let Some(b) = boolean(&word) {
                    self.pos = end;
                    return Ok(Value::Bool(b));
                }
                if word.eq_ignore_ascii_case("null") {
                    return Err(self.err(
                        at,
                        "compare with null using `is null` or `is not null`",
                    ));
                }
                Err(self.err(
                    at,
                    format!(
                        "expected a value after `{after}`, found {}; strings need quotes, e.g. '{word}'",
                        self.found(at)
                    ),
                ))
            }
            Some(_) => Err(self.err(
                at,
                format!(
                    "expected a value (a number, a quoted string, true or false) after `{after}`, found {}",
                    self.found(at)
                ),
            )),
        }
    }

    /// `-1`, `2.5`, `.5`, `1e-3`, `+3`.
    fn number(&mut self, after: &str) -> Result<Value, FilterError> {
        let at = self.pos;
        let digit_at = |p: &Self, i: usize| p.chars.get(i).is_some_and(char::is_ascii_digit);
        let mut i = at;
        if matches!(self.chars.get(i), Some('-' | '+')) {
            i += 1;
        }
        let mantissa = i;
        while digit_at(self, i) {
            i += 1;
        }
        if self.chars.get(i) == Some(&'.') {
            i += 1;
            while digit_at(self, i) {
                i += 1;
            }
        }
        if !self.chars[mantissa..i].iter().any(char::is_ascii_digit) {
            return Err(self.err(
                at,
                format!("expected a value after `{after}`, found {}", self.found(at)),
            ));
        }
        if matches!(self.chars.get(i), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.chars.get(i + 1), Some('-' | '+')));
            if digit_at(self, i + 1 + sign) {
                i += 1 + sign;
                while digit_at(self, i) {
                    i += 1;
                }
            }
        }
        if self.chars.get(i).copied().is_some_and(is_key_char) {
            let mut end = i;
            while self.chars.get(end).copied().is_some_and(is_key_char) {
                end += 1;
            }
            return Err(self.err(at, format!("`{}` is not a number", self.text(at, end))));
        }
        let text = self.text(at, i);
        self.pos = i;
        // The scan above admits only what f64's parser accepts.
        text.parse()
            .map(Value::Num)
            .map_err(|_| self.err(at, format!("`{text}` is not a number")))
    }

    fn parse_list(&mut self, field: &Field) -> Result<Vec<Value>, FilterError> {
        self.skip_ws();
        if self.peek() != Some('(') {
            return Err(self.err(
                self.pos,
                format!(
                    "expected a list in parentheses such as ('a', 'b') after `in`, found {}",
                    self.found(self.pos)
                ),
            ));
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(')') {
            return Err(self.err(
                self.pos,
                "the `in` list is empty; expected at least one value",
            ));
        }
        let mut values = Vec::new();
        let mut after = "(";
        loop {
            let value_at = self.skip_ws_then_pos();
            let value = self.parse_value(after)?;
            check_metric_value(self, field, &value, value_at, after)?;
            values.push(value);
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.pos += 1;
                    after = ",";
                }
                Some(')') => {
                    self.pos += 1;
                    return Ok(values);
                }
                _ => {
                    return Err(self.err(
                        self.pos,
                        format!(
                            "expected `,` or `)` in the `in` list, found {}",
                            self.found(self.pos)
                        ),
                    ))
                }
            }
        }
    }
}

/// Metrics only ever hold numbers, so a non-numeric literal is a mistake
/// worth reporting rather than a comparison that is always false.
fn check_metric_value(
    p: &Parser<'_>,
    field: &Field,
    value: &Value,
    at: usize,
    after: &str,
) -> Result<(), FilterError> {
    let ok = match value {
        Value::Num(_) => true,
        Value::Str(s) => numeric(s).is_some(),
        Value::Bool(_) => false,
    };
    if field.scope == Scope::Metric && !ok {
        return Err(p.err(
            at,
            format!(
                "metrics are numbers; expected a number after `{after}`, found {}",
                p.found(at)
            ),
        ));
    }
    Ok(())
}

/// One operand stays itself; several become an `Or` / `And`, absorbing
/// operands of the same kind so chains stay flat.
fn flatten(items: Vec<Expr>, or: bool) -> Expr {
    if items.len() == 1 {
        return items.into_iter().next().expect("one item");
    }
    let mut flat = Vec::with_capacity(items.len());
    for e in items {
        match (e, or) {
            (Expr::Or(inner), true) | (Expr::And(inner), false) => flat.extend(inner),
            (e, _) => flat.push(e),
        }
    }
    if or {
        Expr::Or(flat)
    } else {
        Expr::And(flat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(x: f64) -> Value {
        Value::Num(x)
    }

    fn st(x: &str) -> Value {
        Value::Str(x.to_string())
    }

    fn field(scope: Scope, key: &str) -> Field {
        Field {
            scope,
            key: key.to_string(),
        }
    }

    fn parsed(filter: &str) -> Expr {
        parse(filter).unwrap_or_else(|e| panic!("{e}\n{}", e.caret()))
    }

    /// Evaluates `filter` against a run given as `(field, value)` pairs.
    fn matches(filter: &str, run: &[(&str, Value)]) -> bool {
        let run: Vec<(Field, Value)> = run
            .iter()
            .map(|(k, v)| (parse_field(k).unwrap(), v.clone()))
            .collect();
        parsed(filter).eval(&|f: &Field| run.iter().find(|(g, _)| g == f).map(|(_, v)| v.clone()))
    }

    fn error(filter: &str) -> FilterError {
        match parse(filter) {
            Ok(e) => panic!("`{filter}` parsed as `{e}`"),
            Err(e) => e,
        }
    }

    /// Asserts the error's column and that its message contains every part.
    fn fails(filter: &str, column: usize, parts: &[&str]) {
        let e = error(filter);
        let text = e.to_string();
        assert_eq!(e.column, column, "{filter}: {text}");
        assert!(text.starts_with(&format!("invalid filter at column {column}: ")));
        assert!(!text.contains('\n'), "{text}");
        for part in parts {
            assert!(text.contains(part), "{filter}: `{text}` lacks `{part}`");
        }
    }

    #[test]
    fn comparison_operators() {
        let run = [("metrics.acc", num(0.9))];
        for (filter, want) in [
            ("metrics.acc = 0.9", true),
            ("metrics.acc = 0.8", false),
            ("metrics.acc != 0.8", true),
            ("metrics.acc <> 0.9", false),
            ("metrics.acc > 0.8", true),
            ("metrics.acc > 0.9", false),
            ("metrics.acc >= 0.9", true),
            ("metrics.acc < 1", true),
            ("metrics.acc < 0.9", false),
            ("metrics.acc <= 0.9", true),
            ("metrics.acc<=0.89", false),
            ("metrics.acc > -1", true),
            ("metrics.acc > -1.5e3", true),
            ("metrics.acc < 9E-1", false),
            ("metrics.acc = .9", true),
            ("metrics.acc < +1", true),
            ("metrics.acc = 9e-1", true),
            ("metrics.acc = '0.9'", true),
        ] {
            assert_eq!(matches(filter, &run), want, "{filter}");
        }
    }

    #[test]
    fn like_and_ilike() {
        let run = [("params.model", st("ResNet_50%"))];
        for (filter, want) in [
            ("params.model like 'Res%'", true),
            ("params.model like 'res%'", false),
            ("params.model ilike 'res%'", true),
            ("params.model like '%Net%'", true),
            ("params.model like 'Net%'", false),
            ("params.model like 'ResNet_5_%'", true),
            ("params.model like 'ResNet_5'", false),
            ("params.model like '%'", true),
            ("params.model like '%%50%%'", true),
            ("params.model like 'ResNet\\_50\\%'", true),
            ("params.model like 'ResNet\\_5\\%'", false),
            ("params.model not like 'Res%'", false),
            ("params.model not ilike 'x%'", true),
            ("params.missing not like 'x%'", false),
        ] {
            assert_eq!(matches(filter, &run), want, "{filter}");
        }
        // Numbers and booleans are matched through their text.
        assert!(matches(
            "attributes.exit_code like '1%'",
            &[("exit_code", num(137.0))]
        ));
        assert!(matches(
            "tags.ok ilike 'TR%'",
            &[("tags.ok", Value::Bool(true))]
        ));
        // Backtracking over several `%`.
        assert!(like("aXbXcXd", "a%b%c%d", false));
        assert!(!like("aXbXcX", "a%b%c%d", false));
        assert!(like("", "%", false));
        assert!(!like("", "_", false));
        assert!(like("ÄBC", "äb_", true));
    }

    #[test]
    fn in_and_not_in() {
        let run = [("params.opt", st("adam")), ("params.bs", st("32"))];
        for (filter, want) in [
            ("params.opt in ('adam', 'sgd')", true),
            ("params.opt IN ('sgd')", false),
            ("params.opt not in ('sgd', \"rmsprop\")", true),
            ("params.opt NOT IN ('adam')", false),
            ("params.bs in (16, 32)", true),
            ("params.bs in (16, '32')", true),
            ("params.bs not in (16, 64)", true),
            ("params.missing in ('x')", false),
            ("params.missing not in ('x')", false),
            // Not-in is `!= each`, and "adam" vs a number is no comparison.
            ("params.opt not in (1, 2)", false),
        ] {
            assert_eq!(matches(filter, &run), want, "{filter}");
        }
        assert!(matches(
            "status in ('FINISHED','FAILED')",
            &[("status", st("FAILED"))]
        ));
    }

    #[test]
    fn is_null_on_every_scope() {
        let run = [("tags.env", st("prod")), ("metrics.acc", num(1.0))];
        assert!(matches("tags.env is not null", &run));
        assert!(!matches("tags.env is null", &run));
        assert!(matches("params.lr IS NULL", &run));
        assert!(matches(
            "metrics.acc is not null and metrics.loss is null",
            &run
        ));
        assert!(matches("end_time is null", &run));
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        assert_eq!(
            parsed("metrics.a = 1 or metrics.b = 1 and metrics.c = 1").to_string(),
            "metrics.a = 1 or metrics.b = 1 and metrics.c = 1"
        );
        // a or (b and c): with a true, b and c false, it holds.
        let run = [
            ("metrics.a", num(1.0)),
            ("metrics.b", num(0.0)),
            ("metrics.c", num(0.0)),
        ];
        assert!(matches(
            "metrics.a = 1 or metrics.b = 1 and metrics.c = 1",
            &run
        ));
        assert!(!matches(
            "(metrics.a = 1 or metrics.b = 1) and metrics.c = 1",
            &run
        ));
        // (not a) and b, not not (a and b).
        let run = [("metrics.a", num(0.0)), ("metrics.b", num(0.0))];
        assert!(!matches("not metrics.a = 1 and metrics.b = 1", &run));
        assert!(matches("not (metrics.a = 1 and metrics.b = 1)", &run));
        assert!(matches("not not metrics.a = 0", &run));
        match parsed("not metrics.a = 1 and metrics.b = 1") {
            Expr::And(items) => assert!(matches!(items[0], Expr::Not(_))),
            other => panic!("{other:?}"),
        }
        match parsed("metrics.a = 1 and metrics.b = 1 or metrics.c = 1 and metrics.d = 1") {
            Expr::Or(items) => {
                assert_eq!(items.len(), 2);
                assert!(items
                    .iter()
                    .all(|e| matches!(e, Expr::And(v) if v.len() == 2)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parentheses_group_and_display_keeps_them() {
        for (input, canonical) in [
            (
                "(metrics.a > 1 or metrics.b > 1) and params.m = 'x'",
                "(metrics.a > 1 or metrics.b > 1) and params.m = 'x'",
            ),
            ("((metrics.a > 1))", "metrics.a > 1"),
            (
                "(metrics.a>1)and(metrics.b<2)",
                "metrics.a > 1 and metrics.b < 2",
            ),
            (
                "not (metrics.a > 1 or status = 'FAILED')",
                "not (metrics.a > 1 or status = 'FAILED')",
            ),
            (
                "metrics.a > 1 and (metrics.b > 1 and metrics.c > 1)",
                "metrics.a > 1 and metrics.b > 1 and metrics.c > 1",
            ),
            (
                "params.x in ('a', 2) or tags.t not ilike 'q%' or run_id is not null",
                "params.x in ('a', 2) or tags.t not ilike 'q%' or run_id is not null",
            ),
            ("params.`odd key` = 'it''s'", "params.`odd key` = 'it''s'"),
            ("params.m = 'a\\\\'", "params.m = 'a\\\\'"),
            ("params.m = 'C:\\x'", "params.m = 'C:\\\\x'"),
            ("metrics.`a\\\\` > 1", "metrics.`a\\\\` > 1"),
        ] {
            let e = parsed(input);
            assert_eq!(e.to_string(), canonical, "{input}");
            assert_eq!(parsed(canonical), e, "display of {input} reparses");
        }
    }

    #[test]
    fn keys_and_strings_are_quoted_as_in_mlflow() {
        for (input, scope, key) in [
            ("metrics.`f1 score`", Scope::Metric, "f1 score"),
            ("params.\"my.param\"", Scope::Param, "my.param"),
            ("params.'single quoted'", Scope::Param, "single quoted"),
            ("`metrics`.acc", Scope::Metric, "acc"),
            ("metrics.val/loss", Scope::Metric, "val/loss"),
            ("params.optimizer.lr", Scope::Param, "optimizer.lr"),
            ("metrics.x-y", Scope::Metric, "x-y"),
            ("metrics.`a``b`", Scope::Metric, "a`b"),
            ("tags.\"q\\\"t\"", Scope::Tag, "q\"t"),
        ] {
            assert_eq!(parse_field(input).unwrap(), field(scope, key), "{input}");
        }
        for (input, want) in [
            ("params.m = 'it''s'", "it's"),
            ("params.m = 'it\\'s'", "it's"),
            ("params.m = \"say \"\"hi\"\"\"", "say \"hi\""),
            ("params.m = \"say \\\"hi\\\"\"", "say \"hi\""),
            ("params.m = 'C:\\data\\x'", "C:\\data\\x"),
            ("params.m = 'a\\\\'", "a\\"),
            ("params.m = \"L'Hosp\"", "L'Hosp"),
            ("params.m = ''", ""),
            ("params.m = 'ünïcödé ✓'", "ünïcödé ✓"),
        ] {
            match parsed(input) {
                Expr::Cmp { value, .. } => assert_eq!(value, st(want), "{input}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn keywords_and_scopes_are_case_insensitive() {
        let run = [
            ("metrics.acc", num(0.9)),
            ("params.m", st("abc")),
            ("tags.ok", Value::Bool(true)),
        ];
        assert!(matches(
            "METRICS.acc > 0.5 AND Params.m LIKE 'a%' aNd NOT tags.t IS NOT NULL",
            &run
        ));
        assert!(matches("metrics.acc > 5 Or tags.ok = TRUE", &run));
        assert!(matches(
            "params.m In ('abc') and params.m Not In ('x')",
            &run
        ));
        assert!(matches("STATUS is null and RUN_ID IS NULL", &run));
        // Keys and values are not.
        assert!(!matches("metrics.ACC > 0.5", &run));
        assert!(!matches("params.m = 'ABC'", &run));
    }

    #[test]
    fn missing_keys_make_every_comparison_false() {
        let run = [("metrics.other", num(1.0))];
        for filter in [
            "metrics.acc = 1",
            "metrics.acc != 1",
            "metrics.acc > 1",
            "metrics.acc >= 1",
            "metrics.acc < 1",
            "metrics.acc <= 1",
            "params.m like '%'",
            "params.m not like 'x'",
            "params.m ilike '%'",
            "params.m in ('a')",
            "params.m not in ('a')",
            "params.m is not null",
        ] {
            assert!(!matches(filter, &run), "{filter}");
        }
        // `not` is the exact complement.
        assert!(matches("not metrics.acc > 0.9", &run));
        assert!(matches("params.m is null", &run));
    }

    #[test]
    fn typed_comparisons() {
        let run = [
            ("params.lr", st("0.01")),
            ("params.opt", st("adam")),
            ("params.flag", st("True")),
            ("tags.ok", Value::Bool(true)),
            ("metrics.nan", num(f64::NAN)),
            ("metrics.n", num(3.0)),
        ];
        for (filter, want) in [
            // A numeric string against a number compares as numbers.
            ("params.lr > 0.001", true),
            ("params.lr = 0.010", true),
            ("params.lr < 1e-3", false),
            // A quoted literal is text.
            ("params.lr = '0.01'", true),
            ("params.lr = '0.010'", false),
            // A non-numeric string against a number: false, `!=` too.
            ("params.opt > 1", false),
            ("params.opt != 1", false),
            ("params.opt = 1", false),
            // Strings order lexicographically.
            ("params.opt < 'sgd'", true),
            ("params.opt > 'Adam'", true),
            ("params.opt >= 'adam'", true),
            // Booleans and their spellings.
            ("tags.ok = true", true),
            ("tags.ok != false", true),
            ("tags.ok = 'TRUE'", true),
            ("params.flag = true", true),
            ("tags.ok = 1", false),
            ("tags.ok != 1", false),
            ("params.opt = true", false),
            // A metric against a quoted number.
            ("metrics.n = '3'", true),
            // NaN as in IEEE.
            ("metrics.nan = 1", false),
            ("metrics.nan > 1", false),
            ("metrics.nan != 1", true),
        ] {
            assert_eq!(matches(filter, &run), want, "{filter}");
        }
    }

    #[test]
    fn fields_are_listed_once_in_order() {
        let e = parsed(
            "metrics.acc > 1 and (params.lr = '1' or not metrics.acc < 2) and status is null",
        );
        assert_eq!(
            e.fields(),
            vec![
                &field(Scope::Metric, "acc"),
                &field(Scope::Param, "lr"),
                &field(Scope::Attribute, "status"),
            ]
        );
    }

    #[test]
    fn attributes_and_aliases() {
        for (input, key) in [
            ("status", "status"),
            ("attributes.status", "status"),
            ("attribute.run_id", "run_id"),
            ("attr.experiment", "experiment"),
            ("run.duration", "duration"),
            ("created", "start_time"),
            ("attributes.`Run name`", "run_name"),
            ("`run name`", "run_name"),
            ("exit_code", "exit_code"),
            ("End_Time", "end_time"),
        ] {
            assert_eq!(
                parse_field(input).unwrap(),
                field(Scope::Attribute, key),
                "{input}"
            );
        }
        for (input, scope) in [
            ("metric.a", Scope::Metric),
            ("param.a", Scope::Param),
            ("parameter.a", Scope::Param),
            ("parameters.a", Scope::Param),
            ("tag.a", Scope::Tag),
        ] {
            assert_eq!(parse_field(input).unwrap().scope, scope, "{input}");
        }
        assert_eq!(field(Scope::Attribute, "status").to_string(), "status");
        assert_eq!(
            field(Scope::Metric, "f1 score").to_string(),
            "metrics.`f1 score`"
        );
        assert_eq!(field(Scope::Param, "a.b").to_string(), "params.a.b");
    }

    #[test]
    fn error_display_and_caret() {
        let e = error("metrics.acc 0.9");
        assert_eq!(
            e.to_string(),
            "invalid filter at column 13: expected a comparison operator after `metrics.acc`, found `0.9`"
        );
        assert_eq!(e.caret(), "metrics.acc 0.9\n            ^");
        let e = error("\tmetrics.acc 0.9");
        assert_eq!(e.caret(), "\tmetrics.acc 0.9\n\t            ^");
        // Columns count characters, not bytes.
        let e = error("params.\"é\" 1");
        assert_eq!(e.column, 12);
    }

    #[test]
    fn every_error_names_what_was_expected_and_where() {
        fails("", 1, &["empty"]);
        fails("   ", 4, &["empty"]);
        fails(
            "metrik.acc > 1",
            1,
            &[
                "unknown scope `metrik`",
                "`metrics`, `params`, `tags` and `attributes`",
                "did you mean `metrics`?",
            ],
        );
        fails(
            "dataset.name = 'x'",
            1,
            &["no `dataset` scope", "`metrics`"],
        );
        fails("params.x = 'abc", 12, &["unterminated string", "`'`"]);
        fails("params.x = \"abc", 12, &["unterminated string"]);
        fails(
            "metrics.`a > 1",
            9,
            &["unterminated quoted key", "backtick"],
        );
        fails(
            "metrics.a > 1 metrics.b < 2",
            15,
            &["expected `and`, `or` or the end of the filter, found `metrics.b`"],
        );
        fails("metrics.a > 1; metrics.b < 2", 14, &["found `;`"]);
        fails(
            "params.x in 'a'",
            13,
            &[
                "expected a list in parentheses",
                "after `in`",
                "found `'a'`",
            ],
        );
        fails("params.x not in 'a'", 17, &["expected a list"]);
        fails("params.x in ()", 14, &["`in` list is empty"]);
        fails(
            "params.x in ('a' 'b')",
            18,
            &["expected `,` or `)`", "found `'b'`"],
        );
        fails(
            "params.x in ('a',)",
            18,
            &["expected a value", "after `,`", "found `)`"],
        );
        fails(
            "params.x in ('a'",
            17,
            &["expected `,` or `)`", "the end of the filter"],
        );
        fails(
            "params.x like 5",
            15,
            &["`like` needs a quoted pattern", "found `5`"],
        );
        fails(
            "params.x ilike true",
            16,
            &["`ilike` needs a quoted pattern"],
        );
        fails(
            "metrics.a like '%x'",
            11,
            &["metrics are numbers", "`like`"],
        );
        fails(
            "(metrics.a > 1",
            15,
            &[
                "expected `)` to close the `(` at column 1",
                "found the end of the filter",
            ],
        );
        fails(
            "(metrics.a > 1 metrics.b",
            16,
            &["expected `)`", "found `metrics.b`"],
        );
        fails("metrics.a > 1)", 14, &["`)` without a matching `(`"]);
        fails(
            "()",
            2,
            &["expected a comparison", "after `(`", "found `)`"],
        );
        fails("metrics.a == 1", 11, &["`==` is not an operator; use `=`"]);
        fails(
            "metrics.a >",
            12,
            &["expected a value after `>`", "the end of the filter"],
        );
        fails(
            "metrics.a > -",
            13,
            &["expected a value after `>`", "found `-`"],
        );
        fails(
            "params.m = LR",
            12,
            &["expected a value after `=`", "found `LR`", "'LR'"],
        );
        fails("params.m = `LR`", 12, &["backticks quote keys, not values"]);
        fails("params.m = null", 12, &["`is null`"]);
        fails(
            "params.m = ,",
            12,
            &["expected a value (a number", "found `,`"],
        );
        fails(
            "metrics.acc = 'LR'",
            15,
            &["metrics are numbers", "found `'LR'`"],
        );
        fails("metrics.acc = true", 15, &["metrics are numbers"]);
        fails(
            "metrics.acc in (1, 'x')",
            20,
            &["metrics are numbers", "after `,`"],
        );
        fails(
            "acc > 0.9",
            1,
            &[
                "unknown attribute `acc`",
                "run_id, run_name, status",
                "`metrics.acc`",
            ],
        );
        fails("statu = 'x'", 1, &["did you mean `status`?"]);
        fails("attributes.nope = 'x'", 12, &["unknown attribute `nope`"]);
        fails(
            "metrics.a > 1 and",
            18,
            &[
                "expected a comparison such as `metrics.acc > 0.9` after `and`",
                "found the end of the filter",
            ],
        );
        fails("metrics.a > 1 or not", 21, &["after `not`"]);
        fails(
            "and metrics.a > 1",
            1,
            &["expected a comparison", "found `and`"],
        );
        fails("1 = 1", 1, &["expected a comparison", "found `1`"]);
        fails(
            "'a' = params.x",
            1,
            &["expected a comparison", "found `'a'`"],
        );
        fails(
            "metrics. > 1",
            9,
            &["expected a key after `metrics.`", "found whitespace"],
        );
        fails(
            "metrics.>1",
            9,
            &["expected a key after `metrics.`", "found `>`"],
        );
        fails("metrics.\"\" > 1", 9, &["the key is empty"]);
        fails(
            "params.x is 'a'",
            13,
            &["expected `null` or `not null` after `is`", "found `'a'`"],
        );
        fails(
            "params.x is not 'a'",
            17,
            &["expected `null` or `not null`"],
        );
        fails(
            "params.x not = 'a'",
            14,
            &["expected `in`, `like` or `ilike` after `not`", "found `=`"],
        );
        fails("metrics.a > 1.2.3", 13, &["`1.2.3` is not a number"]);
        fails("metrics.a > 1e", 13, &["`1e` is not a number"]);
        fails(
            "metrics.a > 1and metrics.b > 1",
            13,
            &["`1and` is not a number"],
        );
        fails(
            "metrics.a",
            10,
            &[
                "expected a comparison operator after `metrics.a`",
                "the end of the filter",
            ],
        );
        fails(
            "metrics.a ~ 1",
            11,
            &["expected a comparison operator", "found `~`"],
        );
    }

    #[test]
    fn long_tokens_are_shortened_in_errors() {
        let long = "x".repeat(100);
        let e = error(&format!("metrics.a > 1 {long}"));
        assert!(e.message.contains('…'));
        assert!(e.message.len() < 150);
    }

    #[test]
    fn sort_specs() {
        let key = |scope, k: &str, descending| SortKey {
            field: field(scope, k),
            descending,
        };
        assert_eq!(
            parse_sort("-metrics.acc,params.lr").unwrap(),
            vec![
                key(Scope::Metric, "acc", true),
                key(Scope::Param, "lr", false)
            ]
        );
        assert_eq!(
            parse_sort("metrics.acc DESC").unwrap(),
            vec![key(Scope::Metric, "acc", true)]
        );
        assert_eq!(
            parse_sort(" +start_time , metrics.loss asc,tags.t desc ").unwrap(),
            vec![
                key(Scope::Attribute, "start_time", false),
                key(Scope::Metric, "loss", false),
                key(Scope::Tag, "t", true),
            ]
        );
        // From MLflow's tests.
        assert_eq!(
            parse_sort("metrics.`Mean Square Error` DESC").unwrap(),
            vec![key(Scope::Metric, "Mean Square Error", true)]
        );
        assert_eq!(
            parse_sort("params.my_param aSc, attributes.status  ASC").unwrap(),
            vec![
                key(Scope::Param, "my_param", false),
                key(Scope::Attribute, "status", false)
            ]
        );
        assert_eq!(
            parse_sort("metrics.\"a,b\" desc").unwrap(),
            vec![key(Scope::Metric, "a,b", true)]
        );

        let sort_err = |s: &str| parse_sort(s).unwrap_err();
        let e = sort_err("-metrics.acc desc");
        assert_eq!(e.column, 14);
        assert!(e.message.contains("both a sign and `desc`"), "{e}");
        let e = sort_err("attribute.run_id ACS");
        assert_eq!(e.column, 18);
        assert!(
            e.message.contains(
                "expected `,`, `asc`, `desc` or the end after `attribute.run_id`, found `ACS`"
            ),
            "{e}"
        );
        let e = sort_err("metrics.a,");
        assert_eq!(e.column, 11);
        assert!(
            e.message
                .contains("expected a sort key such as `-metrics.acc`"),
            "{e}"
        );
        let e = sort_err("");
        assert_eq!(e.column, 1);
        assert!(e.message.contains("found nothing"), "{e}");
        for bad in [
            "m.acc",
            "acc",
            "attri.x",
            "`metrics.A",
            "`metrics.A`",
            "attribute.start",
            "metrics.A != 1",
        ] {
            assert!(parse_sort(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parse_field_for_columns() {
        assert_eq!(
            parse_field(" metrics.acc ").unwrap(),
            field(Scope::Metric, "acc")
        );
        let e = parse_field("metrics.acc extra").unwrap_err();
        assert_eq!(e.column, 13);
        assert!(
            e.message.contains("after `metrics.acc`, found `extra`"),
            "{e}"
        );
        assert!(parse_field("")
            .unwrap_err()
            .message
            .contains("found nothing"));
        assert!(parse_field("metrik.x")
            .unwrap_err()
            .message
            .contains("unknown scope"));
    }

    #[test]
    fn compare_puts_missing_and_nan_last_in_both_directions() {
        let values = [
            Some(num(f64::NAN)),
            Some(num(f64::INFINITY)),
            None,
            Some(num(-1000.0)),
            Some(num(0.0)),
            Some(num(f64::NEG_INFINITY)),
            Some(num(1000.0)),
        ];
        let show = |v: &Option<Value>| v.as_ref().map_or("None".to_string(), Value::to_string);
        let mut asc = values.to_vec();
        asc.sort_by(|a, b| compare(a.as_ref(), b.as_ref()));
        assert_eq!(
            asc.iter().map(show).collect::<Vec<_>>(),
            ["-inf", "-1000", "0", "1000", "inf", "NaN", "None"]
        );
        let desc_key = SortKey {
            field: field(Scope::Metric, "x"),
            descending: true,
        };
        let mut desc = values.to_vec();
        desc.sort_by(|a, b| desc_key.compare(a.as_ref(), b.as_ref()));
        assert_eq!(
            desc.iter().map(show).collect::<Vec<_>>(),
            ["inf", "1000", "0", "-1000", "-inf", "NaN", "None"]
        );
    }

    #[test]
    fn compare_orders_numeric_strings_as_numbers() {
        let mut v = vec![
            st("0.1"),
            st("adam"),
            st("0.001"),
            num(0.01),
            Value::Bool(false),
            st("10"),
        ];
        v.sort_by(|a, b| compare(Some(a), Some(b)));
        assert_eq!(
            v,
            vec![
                st("0.001"),
                num(0.01),
                st("0.1"),
                st("10"),
                Value::Bool(false),
                st("adam")
            ]
        );
        assert_eq!(compare(Some(&st("b")), Some(&st("a"))), Ordering::Greater);
        assert_eq!(compare(None, None), Ordering::Equal);
        assert_eq!(compare(Some(&num(0.0)), Some(&num(-0.0))), Ordering::Equal);
    }

    /// Filters from MLflow's `tests/utils/test_search_utils.py::test_filter`
    /// and `test_correct_quote_trimming`, verbatim, with the comparisons
    /// MLflow expects.
    #[test]
    fn mlflow_filters_parse_the_same() {
        let cmp = |scope, key: &str, op, value| Expr::Cmp {
            field: field(scope, key),
            op,
            value,
        };
        use CmpOp::*;
        use Scope::*;
        for (filter, want) in [
            ("metric.acc >= 0.94", cmp(Metric, "acc", Ge, num(0.94))),
            ("metric.acc>=100", cmp(Metric, "acc", Ge, num(100.0))),
            ("params.m!='tf'", cmp(Param, "m", Ne, st("tf"))),
            ("params.\"m\"!=\"tf\"", cmp(Param, "m", Ne, st("tf"))),
            (
                "metric.\"legit name\" >= 0.243",
                cmp(Metric, "legit name", Ge, num(0.243)),
            ),
            ("metrics.XYZ = 3", cmp(Metric, "XYZ", Eq, num(3.0))),
            (
                "params.\"cat dog\" = \"pets\"",
                cmp(Param, "cat dog", Eq, st("pets")),
            ),
            ("metrics.\"X-Y-Z\" = 3", cmp(Metric, "X-Y-Z", Eq, num(3.0))),
            (
                "metrics.\"X//Y#$$@&Z\" = 3",
                cmp(Metric, "X//Y#$$@&Z", Eq, num(3.0)),
            ),
            (
                "params.model = 'LinearRegression'",
                cmp(Param, "model", Eq, st("LinearRegression")),
            ),
            ("`metric`.a >= 0.1", cmp(Metric, "a", Ge, num(0.1))),
            ("`params`.model >= 'LR'", cmp(Param, "model", Ge, st("LR"))),
            (
                "tags.version = 'commit-hash'",
                cmp(Tag, "version", Eq, st("commit-hash")),
            ),
            (
                "`tags`.source_name = 'a notebook'",
                cmp(Tag, "source_name", Eq, st("a notebook")),
            ),
            (
                "metrics.\"accuracy.2.0\" > 5",
                cmp(Metric, "accuracy.2.0", Gt, num(5.0)),
            ),
            (
                "metrics.`spacey name` > 5",
                cmp(Metric, "spacey name", Gt, num(5.0)),
            ),
            (
                "params.\"p.a.r.a.m\" != \"a\"",
                cmp(Param, "p.a.r.a.m", Ne, st("a")),
            ),
            ("tags.\"t.a.g\" = \"a\"", cmp(Tag, "t.a.g", Eq, st("a"))),
            (
                "attribute.start_time >= 1234",
                cmp(Attribute, "start_time", Ge, num(1234.0)),
            ),
            (
                "run.status = 'RUNNING'",
                cmp(Attribute, "status", Eq, st("RUNNING")),
            ),
            ("params.m = 'LR'", cmp(Param, "m", Eq, st("LR"))),
            ("params.m = \"LR\"", cmp(Param, "m", Eq, st("LR"))),
            ("params.m = \"L'Hosp\"", cmp(Param, "m", Eq, st("L'Hosp"))),
            (
                "tags.version IS NULL",
                Expr::IsNull {
                    field: field(Tag, "version"),
                    negated: false,
                },
            ),
            (
                "tags.version IS NOT NULL",
                Expr::IsNull {
                    field: field(Tag, "version"),
                    negated: true,
                },
            ),
            (
                "params.lr IS NULL",
                Expr::IsNull {
                    field: field(Param, "lr"),
                    negated: false,
                },
            ),
            (
                "params.lr IS NOT NULL",
                Expr::IsNull {
                    field: field(Param, "lr"),
                    negated: true,
                },
            ),
            (
                "metrics.rmse < 1 and params.model_class = 'LR'",
                Expr::And(vec![
                    cmp(Metric, "rmse", Lt, num(1.0)),
                    cmp(Param, "model_class", Eq, st("LR")),
                ]),
            ),
            (
                "tags.a IS NULL AND params.b = 'val'",
                Expr::And(vec![
                    Expr::IsNull {
                        field: field(Tag, "a"),
                        negated: false,
                    },
                    cmp(Param, "b", Eq, st("val")),
                ]),
            ),
        ] {
            assert_eq!(parsed(filter), want, "{filter}");
        }
    }

    /// Filters MLflow's tests expect to fail, verbatim; they fail here too
    /// (a few MLflow rejects are accepted on purpose, see the module docs).
    #[test]
    fn mlflow_rejected_filters_are_rejected() {
        for filter in [
            "metric.acc >= 0.94; metrics.rmse < 1",
            "m.acc >= 0.94",
            "acc >= 0.94",
            "p.model >= 'LR'",
            "attri.x != 1",
            "a.x != 1",
            "model >= 'LR'",
            "metrics.A > 0.1 NAND params.B = 'LR'",
            "`metrics.A > 0.1",
            "param`.A > 0.1",
            "`dummy.A > 0.1",
            "dummy`.A > 0.1",
            "attribute.start != 1",
            "attribute.experiment_id != 1",
            "attribute.lifecycle_stage = 'ACTIVE'",
            "attribute.name != 1",
            "attribute.time != 1",
            "attribute._status != 'RUNNING'",
            "dataset.status = 'true'",
            "metric.model = 'LR'",
            "metrics.acc != metrics.acc",
            "1.0 > metrics.acc",
            "params.acc = LR",
            "tags.acc = LR",
            "params.acc = `LR`",
            "params.'acc = LR",
            "params.acc = 'LR",
            "params.acc = LR'",
            "params.acc = \"LR'",
            "tags.acc = \"LR'",
            "tags.acc = = 'LR'",
            "attribute.status IS 'RUNNING'",
            "params.acc LR !=",
            "params.acc LR",
            "metric.acc !=",
            "acc != 1.0",
            "foo is null",
            "1=1",
            "1==2",
        ] {
            assert!(parse(filter).is_err(), "{filter} should fail");
        }
        // MLflow's documented gaps that this grammar fills.
        for filter in [
            "metrics.A > 0.1 OR params.B = 'LR'",
            "metrics.A > 0.1 AND (params.B = 'LR')",
            "params.acc = 5",
            "metrics.acc IS NULL",
        ] {
            assert!(parse(filter).is_ok(), "{filter} should parse");
        }
    }

    /// MLflow's `test_correct_filtering` runs and expectations (the dataset
    /// cases aside).
    #[test]
    fn mlflow_filtering_examples() {
        let runs: Vec<Vec<(&str, Value)>> = vec![
            vec![
                ("status", st("FAILED")),
                ("metrics.key1", num(121.0)),
                ("params.my_param", st("A")),
            ],
            vec![
                ("status", st("FINISHED")),
                ("metrics.key1", num(123.0)),
                ("params.my_param", st("A")),
                ("tags.tag1", st("C")),
            ],
            vec![
                ("status", st("FAILED")),
                ("metrics.key1", num(125.0)),
                ("params.my_param", st("B")),
                ("tags.tag1", st("D")),
            ],
        ];
        for (filter, want) in [
            ("attributes.status = 'FAILED'", vec![0, 2]),
            ("metrics.key1 = 123", vec![1]),
            ("metrics.key1 != 123", vec![0, 2]),
            ("metrics.key1 >= 123", vec![1, 2]),
            ("params.my_param = 'A'", vec![0, 1]),
            ("tags.tag1 = 'D'", vec![2]),
            ("tags.tag1 != 'D'", vec![1]),
            (
                "params.my_param = 'A' AND attributes.status = 'FAILED'",
                vec![0],
            ),
        ] {
            let got: Vec<usize> = (0..runs.len())
                .filter(|i| matches(filter, &runs[*i]))
                .collect();
            assert_eq!(got, want, "{filter}");
        }
    }

    /// MLflow's `test_correct_sorting`: runs start in MLflow's natural order
    /// (start time descending, then run id), then sort by the keys.
    #[test]
    fn mlflow_sorting_examples() {
        let runs: Vec<Vec<(&str, Value)>> = vec![
            vec![
                ("run_id", st("9")),
                ("status", st("FAILED")),
                ("start_time", num(0.0)),
                ("metrics.key1", num(121.0)),
                ("params.my_param", st("A")),
            ],
            vec![
                ("run_id", st("8")),
                ("status", st("FINISHED")),
                ("start_time", num(1.0)),
                ("metrics.key1", num(123.0)),
                ("params.my_param", st("A")),
                ("tags.tag1", st("C")),
            ],
            vec![
                ("run_id", st("7")),
                ("status", st("FAILED")),
                ("start_time", num(1.0)),
                ("metrics.key1", num(125.0)),
                ("params.my_param", st("B")),
                ("tags.tag1", st("D")),
            ],
        ];
        let get = |run: usize, f: &Field| {
            runs[run]
                .iter()
                .find(|(k, _)| parse_field(k).unwrap() == *f)
                .map(|(_, v)| v.clone())
        };
        for (order_bys, want) in [
            (vec!["tags.noSuchTag"], vec![2, 1, 0]),
            (vec!["attributes.status"], vec![2, 0, 1]),
            (vec!["attributes.start_time"], vec![0, 2, 1]),
            (vec!["metrics.key1 asc"], vec![0, 1, 2]),
            (vec!["metrics.\"key1\"  desc"], vec![2, 1, 0]),
            (vec!["params.my_param"], vec![1, 0, 2]),
            (
                vec!["params.my_param aSc", "attributes.status  ASC"],
                vec![0, 1, 2],
            ),
            (
                vec!["params.my_param", "attributes.status DESC"],
                vec![1, 0, 2],
            ),
            (
                vec!["params.my_param DESC", "attributes.status   DESC"],
                vec![2, 1, 0],
            ),
            (
                vec!["params.`my_param` DESC", "attributes.status DESC"],
                vec![2, 1, 0],
            ),
            (vec!["tags.tag1"], vec![1, 2, 0]),
            (vec!["tags.tag1    DESC"], vec![2, 1, 0]),
        ] {
            let keys = parse_sort(&order_bys.join(",")).unwrap();
            let mut order = vec![2, 1, 0];
            order.sort_by(|a, b| {
                keys.iter()
                    .map(|k| k.compare(get(*a, &k.field).as_ref(), get(*b, &k.field).as_ref()))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            });
            assert_eq!(order, want, "{order_bys:?}");
        }
    }
}
