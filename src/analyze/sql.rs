//! Understanding one SQL statement with `sqlparser` (PostgreSQL dialect):
//! which relations it reads (through aliases, joins, subqueries, CTEs and
//! views) and which of their columns appear in equality and range
//! predicates, joins, ORDER BY (with direction) and GROUP BY.
//!
//! Extraction is purely syntactic. Unqualified columns in a scope with
//! several tables are returned with every possible owner; the catalog
//! decides later ([`ColumnUse::owners`] is a list of tiers, innermost scope
//! first). Predicates on a derived table, a view or a non-materialized CTE
//! are mapped through its select list onto base columns, as the planner
//! pushes them down; a `MATERIALIZED` CTE is an optimisation fence and is
//! not mapped through.

use std::collections::HashMap;

use sqlparser::ast::{
    AssignmentTarget, BinaryOperator, CteAsMaterialized, Expr, FromTable, FunctionArg,
    FunctionArgExpr, FunctionArguments, GroupByExpr, Ident, InTarget, JoinConstraint, JoinOperator,
    ObjectName, ObjectNamePart, OrderByExpr, OrderByKind, OrderBySort, Query, Select, SelectItem,
    SetExpr, Statement, TableFactor, TableObject, TableWithJoins, UpdateTableFromKind, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use super::names::RelName;
use super::predicates::{self, GinOp, PatternShape};

/// How a column is used by a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseKind {
    /// `col = …`, `col IN (…)`, `col = ANY(…)`, `col IS NULL`.
    Eq,
    /// `<`, `<=`, `>`, `>=`, `BETWEEN`.
    Range,
    /// One side of an equi-join.
    Join,
    /// `ORDER BY col [DESC]`, position within the ORDER BY list.
    OrderBy { desc: bool, pos: usize },
    /// `GROUP BY col`.
    GroupBy,
    /// `LIKE` / `ILIKE` / regular-expression match.
    Pattern(PatternShape),
    /// An operator GIN serves (`@>`, `?`, `?|`, `?&`, `&&`, `@@`).
    Gin(GinOp),
    /// Any other reference in a SELECT (output, filter, order): what an
    /// index would have to hold for an index-only scan.
    Touch,
    /// `*` over this owner: every column is read (`column` is `*`).
    Star,
}

/// A constant predicate on a column (`status = 'failed'`, `deleted_at IS
/// NULL`): what a partial index's `WHERE` would say.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Constant {
    /// The predicate as SQL, qualifiers dropped.
    pub predicate: String,
    /// The compared value, unquoted (`None` for `IS NULL`).
    pub value: Option<String>,
}

/// One reference to a base relation in the statement (a self-join gives two).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    pub rel: RelName,
    /// Distinguishes several references to the same relation.
    pub inst: u32,
}

/// A base column a written column may stand for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ColTarget {
    pub owner: Owner,
    /// The column name in the base relation.
    pub column: String,
    /// `lower` / `upper` when the use is that function of the column (an
    /// expression index serves it).
    pub func: Option<String>,
    /// Any other key expression over this owner's columns, as SQL with
    /// qualifiers dropped (`payload ->> 'id'`); `column` is its first column.
    pub expr: Option<String>,
}

/// A column use; `owners` lists the possible base columns per scope,
/// innermost first (a qualified column has exactly one).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnUse {
    /// The column as written (after case folding).
    pub column: String,
    pub owners: Vec<Vec<ColTarget>>,
    pub kind: UseKind,
    /// For an equality with a literal (or `IS NULL`): the constant predicate.
    pub constant: Option<Constant>,
    /// Set when the use sits in one branch of an `OR`: (group, branch).
    pub branch: Option<(u32, u32)>,
}

/// The statement kinds dbload can give index advice for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StmtKind {
    Select,
    Insert,
    Update,
    Delete,
}

/// What one statement reads and how it uses columns.
#[derive(Debug, Clone)]
pub struct Extracted {
    pub kind: StmtKind,
    /// Every relation named in FROM/JOIN/UPDATE/DELETE (views included,
    /// CTE names excluded), in order of appearance.
    pub relations: Vec<RelName>,
    pub uses: Vec<ColumnUse>,
    /// The highest `$n` parameter number (0 when none).
    pub params: usize,
    /// Advice about predicates no index serves (rewrite hints).
    pub hints: Vec<String>,
    /// For an UPDATE: the columns it sets (an index on one of them makes
    /// the update non-HOT).
    pub set_columns: Vec<String>,
}

/// Why a statement could not be extracted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtractError {
    /// Not a query or DML statement (SET, BEGIN, DDL, …); the keyword.
    Utility(String),
    /// sqlparser refused it; its message.
    Parse(String),
}

/// Leading keywords of statements that never get index advice.
const UTILITY: &[&str] = &[
    "abort",
    "alter",
    "analyze",
    "begin",
    "call",
    "checkpoint",
    "close",
    "cluster",
    "comment",
    "commit",
    "copy",
    "create",
    "deallocate",
    "declare",
    "discard",
    "do",
    "drop",
    "end",
    "explain",
    "fetch",
    "grant",
    "import",
    "listen",
    "load",
    "lock",
    "move",
    "notify",
    "prepare",
    "reassign",
    "refresh",
    "reindex",
    "release",
    "reset",
    "revoke",
    "rollback",
    "savepoint",
    "security",
    "set",
    "show",
    "start",
    "truncate",
    "unlisten",
    "vacuum",
];

/// The first keyword of `sql`, lower-cased, skipping comments.
pub fn first_keyword(sql: &str) -> String {
    let mut s = sql.trim_start();
    loop {
        if let Some(r) = s.strip_prefix("--") {
            s = r.split_once('\n').map(|x| x.1).unwrap_or("").trim_start();
        } else if let Some(r) = s.strip_prefix("/*") {
            s = r.split_once("*/").map(|x| x.1).unwrap_or("").trim_start();
        } else {
            break;
        }
    }
    s.chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '_')
        .collect::<String>()
        .to_lowercase()
}

/// Looks up a view's definition (`SELECT …`) by name; `None` for anything
/// that is not a view.
pub type ViewLookup<'a> = &'a dyn Fn(&RelName) -> Option<String>;

/// Extract tables and column uses from one statement.
pub fn extract(sql: &str, views: ViewLookup<'_>) -> Result<Extracted, ExtractError> {
    let kw = first_keyword(sql);
    if UTILITY.contains(&kw.as_str()) {
        return Err(ExtractError::Utility(kw.to_uppercase()));
    }
    let dialect = PostgreSqlDialect {};
    let mut stmts =
        Parser::parse_sql(&dialect, sql).map_err(|e| ExtractError::Parse(e.to_string()))?;
    if stmts.len() != 1 {
        return Err(ExtractError::Parse(format!(
            "expected one statement, found {}",
            stmts.len()
        )));
    }
    let stmt = stmts.remove(0);
    let params = max_param(sql);
    let mut set_columns = Vec::new();
    let mut x = Extractor {
        views,
        next_inst: 0,
        scopes: Vec::new(),
        ctes: Vec::new(),
        relations: Vec::new(),
        uses: Vec::new(),
        hints: Vec::new(),
        depth: 0,
        branch: None,
        or_groups: 0,
    };
    let kind = match &stmt {
        Statement::Query(q) => {
            x.query(q);
            StmtKind::Select
        }
        Statement::Insert(ins) => {
            if let TableObject::TableName(n) = &ins.table
                && let Some(r) = rel_name(n)
            {
                x.relations.push(r);
            }
            if let Some(src) = &ins.source {
                x.query(src);
            }
            StmtKind::Insert
        }
        Statement::Update(u) => {
            x.scopes.push(Vec::new());
            x.table_with_joins(&u.table);
            if let Some(UpdateTableFromKind::AfterSet(f) | UpdateTableFromKind::BeforeSet(f)) =
                &u.from
            {
                for t in f {
                    x.table_with_joins(t);
                }
            }
            for a in &u.assignments {
                x.walk_subqueries(&a.value);
                let names = match &a.target {
                    AssignmentTarget::ColumnName(n) => vec![n],
                    AssignmentTarget::Tuple(v) => v.iter().collect(),
                };
                for n in names {
                    if let Some(c) = idents(n).pop()
                        && !set_columns.contains(&c)
                    {
                        set_columns.push(c);
                    }
                }
            }
            if let Some(w) = &u.selection {
                x.predicate(w);
            }
            x.scopes.pop();
            StmtKind::Update
        }
        Statement::Delete(d) => {
            x.scopes.push(Vec::new());
            let (FromTable::WithFromKeyword(f) | FromTable::WithoutKeyword(f)) = &d.from;
            for t in f {
                x.table_with_joins(t);
            }
            for t in d.using.iter().flatten() {
                x.table_with_joins(t);
            }
            if let Some(w) = &d.selection {
                x.predicate(w);
            }
            x.scopes.pop();
            StmtKind::Delete
        }
        other => {
            let s = other.to_string();
            return Err(ExtractError::Utility(first_keyword(&s).to_uppercase()));
        }
    };
    Ok(Extracted {
        kind,
        relations: x.relations,
        uses: x.uses,
        params,
        hints: x.hints,
        set_columns,
    })
}

/// The highest `$n` placeholder in `sql` (tokenized, so quotes are respected).
pub fn max_param(sql: &str) -> usize {
    let dialect = PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        return 0;
    };
    tokens
        .iter()
        .filter_map(|t| match t {
            Token::Placeholder(p) => p.strip_prefix('$')?.parse::<usize>().ok(),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

fn norm(id: &Ident) -> String {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_lowercase()
    }
}

fn idents(o: &ObjectName) -> Vec<String> {
    o.0.iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(norm(i)),
            _ => None,
        })
        .collect()
}

/// `[db.]schema.table` or `table` as a [`RelName`] (a database part is dropped).
fn rel_name(o: &ObjectName) -> Option<RelName> {
    let parts = idents(o);
    match parts.as_slice() {
        [t] => Some(RelName::new(None, t)),
        [.., s, t] => Some(RelName::new(Some(s), t)),
        [] => None,
    }
}

/// What a name visible in a FROM scope stands for.
#[derive(Debug, Clone)]
enum Source {
    Base(Owner),
    /// A derived table, CTE or view: its output columns mapped to base
    /// column candidates; `star` are owners whose columns pass through `*`.
    Derived {
        cols: HashMap<String, Tiers>,
        star: Vec<Owner>,
    },
    /// Columns of this source cannot be traced (function, materialized CTE).
    Opaque,
}

#[derive(Debug, Clone)]
struct Entry {
    name: String,
    source: Source,
}

struct Cte {
    name: String,
    source: Source,
}

struct Extractor<'v> {
    views: ViewLookup<'v>,
    next_inst: u32,
    scopes: Vec<Vec<Entry>>,
    ctes: Vec<Vec<Cte>>,
    relations: Vec<RelName>,
    uses: Vec<ColumnUse>,
    hints: Vec<String>,
    depth: usize,
    /// The OR branch being walked, if any.
    branch: Option<(u32, u32)>,
    or_groups: u32,
}

/// Owner tiers for a column: the resolved candidates.
type Tiers = Vec<Vec<ColTarget>>;

impl Extractor<'_> {
    fn owner(&mut self, rel: RelName) -> Owner {
        self.next_inst += 1;
        Owner {
            rel,
            inst: self.next_inst,
        }
    }

    fn emit(&mut self, column: String, owners: Tiers, kind: UseKind) {
        self.emit_const(column, owners, kind, None);
    }

    fn emit_const(
        &mut self,
        column: String,
        owners: Tiers,
        kind: UseKind,
        constant: Option<Constant>,
    ) {
        if !owners.is_empty() {
            self.uses.push(ColumnUse {
                column,
                owners,
                kind,
                constant,
                branch: self.branch,
            });
        }
    }

    /// Record every column an expression names (as [`UseKind::Touch`]):
    /// dotted names in its text that are not functions or type names and
    /// resolve in scope. Over-approximates (a subquery's columns may land
    /// on an outer table of the same column name), which only ever makes a
    /// covering index less likely.
    fn touch(&mut self, e: &Expr) {
        let dialect = PostgreSqlDialect {};
        let Ok(tokens) = Tokenizer::new(&dialect, &e.to_string()).tokenize() else {
            return;
        };
        let toks: Vec<&Token> = tokens
            .iter()
            .filter(|t| {
                !matches!(
                    t,
                    Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab)
                )
            })
            .collect();
        let mut i = 0;
        while i < toks.len() {
            let Token::Word(_) = toks[i] else {
                i += 1;
                continue;
            };
            let after_cast = i > 0 && matches!(toks[i - 1], Token::DoubleColon);
            let mut chain = Vec::new();
            while let Some(Token::Word(w)) = toks.get(i) {
                let mut id = Ident::new(w.value.clone());
                id.quote_style = w.quote_style;
                chain.push(id);
                if matches!(toks.get(i + 1), Some(Token::Period)) {
                    i += 2;
                } else {
                    i += 1;
                    break;
                }
            }
            if after_cast || matches!(toks.get(i), Some(Token::LParen)) || chain.is_empty() {
                continue;
            }
            let ex = if chain.len() == 1 {
                Expr::Identifier(chain.remove(0))
            } else {
                Expr::CompoundIdentifier(chain)
            };
            if let Some(tiers) = self.column(&ex)
                && let Some([t]) = tiers.first().map(Vec::as_slice)
            {
                self.uses.push(ColumnUse {
                    column: t.column.clone(),
                    owners: vec![vec![t.clone()]],
                    kind: UseKind::Touch,
                    constant: None,
                    branch: None,
                });
            }
        }
    }

    /// A column, `lower()`/`upper()` of one, or another key expression over
    /// the columns of a single table reference.
    fn key(&self, e: &Expr) -> Option<Tiers> {
        self.column(e).or_else(|| self.expression(e))
    }

    /// A key expression: every column it names resolves to one base column
    /// of the same table reference (written under its own name).
    fn expression(&self, e: &Expr) -> Option<Tiers> {
        let mut cols = Vec::new();
        if !predicates::key_columns(e, &mut cols) || cols.is_empty() {
            return None;
        }
        let mut found: Option<ColTarget> = None;
        for c in cols {
            let tiers = self.column(c)?;
            let [t] = tiers.first()?.as_slice() else {
                return None;
            };
            if t.func.is_some() || t.expr.is_some() || t.column != col_name(c) {
                return None;
            }
            match &found {
                None => found = Some(t.clone()),
                Some(f) if f.owner == t.owner => {}
                Some(_) => return None,
            }
        }
        let first = found?;
        Some(vec![vec![ColTarget {
            expr: Some(predicates::strip_qualifiers(&e.to_string())),
            ..first
        }]])
    }

    /// Analyse a query; returns its output columns (for derived tables).
    fn query(&mut self, q: &Query) -> Source {
        self.depth += 1;
        if self.depth > 32 {
            self.depth -= 1;
            return Source::Opaque;
        }
        let mut pushed_ctes = false;
        if let Some(with) = &q.with {
            self.ctes.push(Vec::new());
            pushed_ctes = true;
            for cte in &with.cte_tables {
                let name = norm(&cte.alias.name);
                let src = if with.recursive {
                    // The recursive part refers to itself: register it opaque first.
                    self.ctes.last_mut().unwrap().push(Cte {
                        name: name.clone(),
                        source: Source::Opaque,
                    });
                    self.query(&cte.query);
                    Source::Opaque
                } else {
                    self.query(&cte.query)
                };
                let src = if matches!(cte.materialized, Some(CteAsMaterialized::Materialized)) {
                    Source::Opaque
                } else {
                    src
                };
                let list = self.ctes.last_mut().unwrap();
                list.retain(|c| c.name != name);
                list.push(Cte { name, source: src });
            }
        }
        let out = match q.body.as_ref() {
            SetExpr::Select(sel) => {
                self.scopes.push(Vec::new());
                let out = self.select(sel);
                if let Some(ob) = &q.order_by
                    && let OrderByKind::Expressions(items) = &ob.kind
                {
                    self.order_by(items, &sel.projection);
                }
                self.scopes.pop();
                out
            }
            other => {
                self.set_expr(other);
                Source::Opaque
            }
        };
        if pushed_ctes {
            self.ctes.pop();
        }
        self.depth -= 1;
        out
    }

    fn set_expr(&mut self, s: &SetExpr) {
        match s {
            SetExpr::Select(sel) => {
                self.scopes.push(Vec::new());
                self.select(sel);
                self.scopes.pop();
            }
            SetExpr::Query(q) => {
                self.query(q);
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.set_expr(left);
                self.set_expr(right);
            }
            _ => {}
        }
    }

    /// Analyse a SELECT in the scope already pushed; returns its outputs.
    fn select(&mut self, sel: &Select) -> Source {
        for t in &sel.from {
            self.table_with_joins(t);
        }
        if let Some(w) = &sel.selection {
            self.predicate(w);
            self.touch(w);
        }
        if let Some(h) = &sel.having {
            self.touch(h);
        }
        for item in &sel.projection {
            match item {
                SelectItem::UnnamedExpr(e)
                | SelectItem::ExprWithAlias { expr: e, .. }
                | SelectItem::ExprWithAliases { expr: e, .. } => self.touch(e),
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                    let owners: Vec<ColTarget> = self
                        .scopes
                        .last()
                        .into_iter()
                        .flatten()
                        .filter_map(|e| match &e.source {
                            Source::Base(o) => Some(ColTarget {
                                owner: o.clone(),
                                column: "*".into(),
                                func: None,
                                expr: None,
                            }),
                            _ => None,
                        })
                        .collect();
                    if !owners.is_empty() {
                        self.uses.push(ColumnUse {
                            column: "*".into(),
                            owners: vec![owners],
                            kind: UseKind::Star,
                            constant: None,
                            branch: None,
                        });
                    }
                }
            }
        }
        if let GroupByExpr::Expressions(exprs, _) = &sel.group_by {
            for e in exprs {
                self.touch(e);
            }
            let cols: Vec<_> = exprs
                .iter()
                .filter_map(|e| self.column(e).map(|t| (col_name(e), t)))
                .collect();
            if cols.len() == exprs.len() {
                for (name, tiers) in cols {
                    self.emit(name, tiers, UseKind::GroupBy);
                }
            }
        }
        if let Some(h) = &sel.having {
            self.walk_subqueries(h);
        }
        // Outputs.
        let mut cols = HashMap::new();
        let mut star = Vec::new();
        for item in &sel.projection {
            match item {
                SelectItem::UnnamedExpr(e) => {
                    self.walk_subqueries(e);
                    if let Some(t) = self.column(e) {
                        cols.insert(col_name(e), t);
                    }
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    self.walk_subqueries(expr);
                    if let Some(t) = self.column(expr) {
                        cols.insert(norm(alias), t);
                    }
                }
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                    if let Some(scope) = self.scopes.last() {
                        for e in scope {
                            match &e.source {
                                Source::Base(o) => star.push(o.clone()),
                                Source::Derived { cols: c, star: s } => {
                                    for (k, v) in c {
                                        cols.entry(k.clone()).or_insert_with(|| v.clone());
                                    }
                                    star.extend(s.iter().cloned());
                                }
                                Source::Opaque => {}
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Source::Derived { cols, star }
    }

    fn order_by(&mut self, items: &[OrderByExpr], projection: &[SelectItem]) {
        let mut resolved = Vec::new();
        for it in items {
            self.touch(&it.expr);
        }
        for (pos, it) in items.iter().enumerate() {
            let desc = matches!(it.options.sort, Some(OrderBySort::Desc));
            // ORDER BY 2, or ORDER BY an output alias.
            let expr = match &it.expr {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => n
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| projection.get(i.wrapping_sub(1)))
                        .and_then(|p| match p {
                            SelectItem::UnnamedExpr(e) => Some(e),
                            SelectItem::ExprWithAlias { expr, .. } => Some(expr),
                            _ => None,
                        }),
                    _ => None,
                },
                Expr::Identifier(id) => projection
                    .iter()
                    .find_map(|p| match p {
                        SelectItem::ExprWithAlias { expr, alias } if norm(alias) == norm(id) => {
                            Some(expr)
                        }
                        _ => None,
                    })
                    .or(Some(&it.expr)),
                e => Some(e),
            };
            match expr.and_then(|e| self.key(e).map(|t| (col_name(e), t))) {
                Some((name, tiers)) => resolved.push((name, tiers, desc, pos)),
                None => return, // an expression: no plain index serves the order
            }
        }
        for (name, tiers, desc, pos) in resolved {
            self.emit(name, tiers, UseKind::OrderBy { desc, pos });
        }
    }

    fn lookup_cte(&self, name: &str) -> Option<Source> {
        self.ctes
            .iter()
            .rev()
            .flat_map(|l| l.iter().rev())
            .find(|c| c.name == name)
            .map(|c| c.source.clone())
    }

    fn table_with_joins(&mut self, t: &TableWithJoins) {
        self.factor(&t.relation);
        for j in &t.joins {
            let before = self.scopes.last().map(|s| s.len()).unwrap_or(0);
            self.factor(&j.relation);
            let constraint = match &j.join_operator {
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
                | JoinOperator::RightAnti(c)
                | JoinOperator::StraightJoin(c) => Some(c),
                _ => None,
            };
            match constraint {
                Some(JoinConstraint::On(e)) => {
                    self.predicate(e);
                    self.touch(e);
                }
                Some(JoinConstraint::Using(cols)) => {
                    let scope = self.scopes.last().cloned().unwrap_or_default();
                    for c in cols {
                        let Some(col) = idents(c).pop() else { continue };
                        let (left, right) = scope.split_at(before.min(scope.len()));
                        for side in [left, right] {
                            let tiers = entries_column(side, &col);
                            self.emit(col.clone(), tiers, UseKind::Join);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn push_entry(&mut self, name: String, source: Source) {
        if let Some(s) = self.scopes.last_mut() {
            s.push(Entry { name, source });
        }
    }

    fn factor(&mut self, f: &TableFactor) {
        match f {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                if args.is_some() {
                    // A set-returning function call.
                    let n = alias
                        .as_ref()
                        .map(|a| norm(&a.name))
                        .or_else(|| idents(name).pop())
                        .unwrap_or_default();
                    self.push_entry(n, Source::Opaque);
                    return;
                }
                let Some(rel) = rel_name(name) else { return };
                let visible = alias
                    .as_ref()
                    .map(|a| norm(&a.name))
                    .unwrap_or_else(|| rel.name.clone());
                if rel.schema.is_none()
                    && let Some(src) = self.lookup_cte(&rel.name)
                {
                    self.push_entry(visible, src);
                    return;
                }
                self.relations.push(rel.clone());
                if let Some(def) = (self.views)(&rel) {
                    let src = self.view(&def);
                    self.push_entry(visible, src);
                    return;
                }
                let o = self.owner(rel);
                self.push_entry(visible, Source::Base(o));
            }
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                let src = self.query(subquery);
                let n = alias.as_ref().map(|a| norm(&a.name)).unwrap_or_default();
                self.push_entry(n, src);
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.table_with_joins(table_with_joins),
            TableFactor::Function { alias, .. }
            | TableFactor::TableFunction { alias, .. }
            | TableFactor::UNNEST { alias, .. } => {
                let n = alias.as_ref().map(|a| norm(&a.name)).unwrap_or_default();
                self.push_entry(n, Source::Opaque);
            }
            _ => {}
        }
    }

    /// A view used in FROM: analyse its definition in a fresh scope stack.
    fn view(&mut self, def: &str) -> Source {
        if self.depth > 16 {
            return Source::Opaque;
        }
        let dialect = PostgreSqlDialect {};
        let Ok(mut stmts) = Parser::parse_sql(&dialect, def) else {
            return Source::Opaque;
        };
        let Some(Statement::Query(q)) = stmts.pop() else {
            return Source::Opaque;
        };
        let saved_scopes = std::mem::take(&mut self.scopes);
        let saved_ctes = std::mem::take(&mut self.ctes);
        self.depth += 1;
        let src = self.query(&q);
        self.depth -= 1;
        self.scopes = saved_scopes;
        self.ctes = saved_ctes;
        src
    }

    /// Resolve a column expression to owner tiers.
    fn column(&self, e: &Expr) -> Option<Tiers> {
        match e {
            Expr::Nested(x) => self.column(x),
            // lower(col) / upper(col): served by an expression index.
            Expr::Function(f) => {
                let name = idents(&f.name).pop()?;
                if name != "lower" && name != "upper" {
                    return None;
                }
                let FunctionArguments::List(l) = &f.args else {
                    return None;
                };
                let [FunctionArg::Unnamed(FunctionArgExpr::Expr(x))] = l.args.as_slice() else {
                    return None;
                };
                let tiers = self.column(x)?;
                let tiers: Tiers = tiers
                    .into_iter()
                    .map(|t| {
                        t.into_iter()
                            .filter(|c| c.func.is_none() && c.expr.is_none())
                            .map(|c| ColTarget {
                                func: Some(name.clone()),
                                ..c
                            })
                            .collect::<Vec<_>>()
                    })
                    .filter(|t| !t.is_empty())
                    .collect();
                (!tiers.is_empty()).then_some(tiers)
            }
            Expr::Identifier(id) => {
                let col = norm(id);
                let tiers: Tiers = self
                    .scopes
                    .iter()
                    .rev()
                    .map(|s| entries_column(s, &col))
                    .filter_map(|t| t.into_iter().next())
                    .collect();
                (!tiers.is_empty()).then_some(tiers)
            }
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let col = norm(parts.last()?);
                let q = &parts[..parts.len() - 1];
                let qual = norm(q.last()?);
                let schema = (q.len() >= 2).then(|| norm(&q[q.len() - 2]));
                for scope in self.scopes.iter().rev() {
                    for e in scope.iter().rev() {
                        let matches = e.name == qual
                            && match (&schema, &e.source) {
                                (Some(s), Source::Base(o)) => {
                                    o.rel.schema.as_deref().is_none_or(|x| x == s)
                                }
                                _ => true,
                            };
                        if matches {
                            return source_column(&e.source, &col);
                        }
                    }
                }
                None
            }
            _ => None,
        }
    }

    /// A WHERE/ON/HAVING expression: split on AND, classify each conjunct.
    fn predicate(&mut self, e: &Expr) {
        match e {
            Expr::Nested(x) => self.predicate(x),
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                self.predicate(left);
                self.predicate(right);
            }
            Expr::BinaryOp {
                op: BinaryOperator::Or,
                ..
            } if self.branch.is_none() => {
                // Each branch's uses are tagged: a BitmapOr needs one index per branch.
                let mut branches = Vec::new();
                or_branches(e, &mut branches);
                let group = self.or_groups;
                self.or_groups += 1;
                for (i, b) in branches.into_iter().enumerate() {
                    self.branch = Some((group, i as u32));
                    self.predicate(b);
                }
                self.branch = None;
            }
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } if matches!((left.as_ref(), right.as_ref()), (Expr::Tuple(a), Expr::Tuple(b)) if a.len() == b.len()) =>
            {
                // (a, b) = ($1, $2): pairwise equalities.
                if let (Expr::Tuple(a), Expr::Tuple(b)) = (left.as_ref(), right.as_ref()) {
                    for (l, r) in a.iter().zip(b) {
                        self.predicate(&Expr::BinaryOp {
                            left: Box::new(l.clone()),
                            op: BinaryOperator::Eq,
                            right: Box::new(r.clone()),
                        });
                    }
                }
            }
            Expr::BinaryOp { left, op, right } if is_comparison(op) => {
                let l = self.key(left);
                let r = self.key(right);
                match (l, r) {
                    (Some(l), Some(r)) => {
                        if *op == BinaryOperator::Eq {
                            self.emit(col_name(left), l, UseKind::Join);
                            self.emit(col_name(right), r, UseKind::Join);
                        }
                    }
                    (Some(l), None) => {
                        self.walk_subqueries(right);
                        let c = (*op == BinaryOperator::Eq)
                            .then(|| constant(left, right))
                            .flatten();
                        self.emit_const(col_name(left), l, comparison_kind(op), c);
                    }
                    (None, Some(r)) => {
                        self.walk_subqueries(left);
                        let c = (*op == BinaryOperator::Eq)
                            .then(|| constant(right, left))
                            .flatten();
                        self.emit_const(col_name(right), r, comparison_kind(op), c);
                    }
                    (None, None) => {
                        self.walk_subqueries(left);
                        self.walk_subqueries(right);
                    }
                }
            }
            Expr::BinaryOp { left, op, right } if GinOp::of(op).is_some() => {
                let g = GinOp::of(op).expect("checked");
                // `q @@ tsv` is as valid as `tsv @@ q`.
                let (k, other) = match self.key(left) {
                    Some(t) => (Some((col_name(left), t)), right),
                    None if g == GinOp::TextMatch => {
                        (self.key(right).map(|t| (col_name(right), t)), left)
                    }
                    None => (None, right),
                };
                self.walk_subqueries(other);
                if let Some((name, t)) = k {
                    self.emit(name, t, UseKind::Gin(g));
                }
            }
            Expr::BinaryOp {
                left,
                op:
                    op @ (BinaryOperator::PGRegexMatch
                    | BinaryOperator::PGRegexIMatch
                    | BinaryOperator::PGLikeMatch
                    | BinaryOperator::PGILikeMatch),
                right,
            } => {
                let regex = matches!(
                    op,
                    BinaryOperator::PGRegexMatch | BinaryOperator::PGRegexIMatch
                );
                let ci = matches!(
                    op,
                    BinaryOperator::PGRegexIMatch | BinaryOperator::PGILikeMatch
                );
                self.pattern(left, right, ci, regex);
            }
            Expr::Like {
                expr,
                pattern,
                negated: false,
                any: false,
                ..
            } => self.pattern(expr, pattern, false, false),
            Expr::ILike {
                expr,
                pattern,
                negated: false,
                any: false,
                ..
            } => self.pattern(expr, pattern, true, false),
            Expr::Between {
                expr,
                negated: false,
                low,
                high,
            } => {
                self.walk_subqueries(low);
                self.walk_subqueries(high);
                if let Some(t) = self.key(expr) {
                    self.emit(col_name(expr), t, UseKind::Range);
                }
            }
            Expr::In {
                expr,
                target,
                negated: false,
                ..
            } => {
                match target {
                    InTarget::Subquery(q) => {
                        self.query(q);
                    }
                    InTarget::List(l) => l.iter().for_each(|x| self.walk_subqueries(x)),
                    _ => {}
                }
                if let Some(t) = self.key(expr) {
                    self.emit(col_name(expr), t, UseKind::Eq);
                }
            }
            Expr::AnyOp {
                left,
                compare_op: BinaryOperator::Eq,
                right,
                ..
            } => {
                self.walk_subqueries(right);
                if let Some(t) = self.key(left) {
                    self.emit(col_name(left), t, UseKind::Eq);
                }
            }
            Expr::IsNull(x) => {
                if let Some(t) = self.key(x) {
                    let c = Constant {
                        predicate: format!(
                            "{} IS NULL",
                            predicates::strip_qualifiers(&x.to_string())
                        ),
                        value: None,
                    };
                    self.emit_const(col_name(x), t, UseKind::Eq, Some(c));
                }
            }
            other => self.walk_subqueries(other),
        }
    }

    /// `expr LIKE/ILIKE/~/~* pattern`.
    fn pattern(&mut self, expr: &Expr, pattern: &Expr, ci: bool, regex: bool) {
        self.walk_subqueries(pattern);
        if let Some(t) = self.key(expr) {
            let shape = predicates::pattern_shape(pattern, ci, regex);
            self.emit(col_name(expr), t, UseKind::Pattern(shape));
        }
    }

    /// Find subqueries anywhere inside an expression and analyse them.
    fn walk_subqueries(&mut self, e: &Expr) {
        match e {
            Expr::Subquery(q) | Expr::Exists { subquery: q, .. } => {
                self.query(q);
            }
            Expr::In { expr, target, .. } => {
                self.walk_subqueries(expr);
                match target {
                    InTarget::Subquery(q) => {
                        self.query(q);
                    }
                    InTarget::List(l) => l.iter().for_each(|x| self.walk_subqueries(x)),
                    _ => {}
                }
            }
            Expr::BinaryOp { left, right, .. } | Expr::AnyOp { left, right, .. } => {
                self.walk_subqueries(left);
                self.walk_subqueries(right);
            }
            Expr::Nested(x)
            | Expr::UnaryOp { expr: x, .. }
            | Expr::Cast { expr: x, .. }
            | Expr::IsNull(x)
            | Expr::IsNotNull(x)
            | Expr::IsTrue(x)
            | Expr::IsFalse(x) => self.walk_subqueries(x),
            Expr::Between {
                expr, low, high, ..
            } => {
                self.walk_subqueries(expr);
                self.walk_subqueries(low);
                self.walk_subqueries(high);
            }
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                if let Some(o) = operand {
                    self.walk_subqueries(o);
                }
                for c in conditions {
                    self.walk_subqueries(&c.condition);
                    self.walk_subqueries(&c.result);
                }
                if let Some(x) = else_result {
                    self.walk_subqueries(x);
                }
            }
            Expr::Function(f) => match &f.args {
                FunctionArguments::Subquery(q) => {
                    self.query(q);
                }
                FunctionArguments::List(l) => {
                    for a in &l.args {
                        let ae = match a {
                            FunctionArg::Named { arg, .. }
                            | FunctionArg::ExprNamed { arg, .. }
                            | FunctionArg::Unnamed(arg) => arg,
                        };
                        if let FunctionArgExpr::Expr(x) = ae {
                            self.walk_subqueries(x);
                        }
                    }
                }
                FunctionArguments::None => {}
            },
            _ => {}
        }
    }
}

/// Candidates for an unqualified column among a scope's entries.
fn entries_column(entries: &[Entry], col: &str) -> Tiers {
    let mut owners = Vec::new();
    let mut derived: Option<Tiers> = None;
    let target = |o: &Owner| ColTarget {
        owner: o.clone(),
        column: col.to_string(),
        func: None,
        expr: None,
    };
    for e in entries {
        match &e.source {
            Source::Base(o) => owners.push(target(o)),
            Source::Derived { cols, star } => {
                if let Some(t) = cols.get(col) {
                    derived.get_or_insert_with(|| t.clone());
                } else {
                    owners.extend(star.iter().map(target));
                }
            }
            Source::Opaque => {}
        }
    }
    match derived {
        // A derived table's named output wins over guessing among base tables.
        Some(t) if owners.is_empty() => t,
        Some(mut t) => {
            if let Some(first) = t.first_mut() {
                first.extend(owners);
            }
            t
        }
        None if owners.is_empty() => Vec::new(),
        None => vec![owners],
    }
}

fn source_column(s: &Source, col: &str) -> Option<Tiers> {
    match s {
        Source::Base(o) => Some(vec![vec![ColTarget {
            owner: o.clone(),
            column: col.to_string(),
            func: None,
            expr: None,
        }]]),
        Source::Derived { cols, star } => cols.get(col).cloned().or_else(|| {
            (!star.is_empty()).then(|| {
                vec![
                    star.iter()
                        .map(|o| ColTarget {
                            owner: o.clone(),
                            column: col.to_string(),
                            func: None,
                            expr: None,
                        })
                        .collect(),
                ]
            })
        }),
        Source::Opaque => None,
    }
}

fn col_name(e: &Expr) -> String {
    match e {
        Expr::Nested(x) => col_name(x),
        Expr::Identifier(i) => norm(i),
        Expr::CompoundIdentifier(p) => p.last().map(norm).unwrap_or_default(),
        _ => String::new(),
    }
}

/// The branches of a chain of ORs.
fn or_branches<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Or,
            right,
        } => {
            or_branches(left, out);
            or_branches(right, out);
        }
        Expr::Nested(x)
            if matches!(
                x.as_ref(),
                Expr::BinaryOp {
                    op: BinaryOperator::Or,
                    ..
                }
            ) =>
        {
            or_branches(x, out)
        }
        other => out.push(other),
    }
}

/// `key = literal` as a constant predicate (for a partial index).
fn constant(key: &Expr, other: &Expr) -> Option<Constant> {
    let lit = predicates::literal(other)?;
    Some(Constant {
        predicate: format!("{} = {lit}", predicates::strip_qualifiers(&key.to_string())),
        value: predicates::literal_value(other),
    })
}

fn is_comparison(op: &BinaryOperator) -> bool {
    matches!(
        op,
        BinaryOperator::Eq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
    )
}

fn comparison_kind(op: &BinaryOperator) -> UseKind {
    if *op == BinaryOperator::Eq {
        UseKind::Eq
    } else {
        UseKind::Range
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_views(_: &RelName) -> Option<String> {
        None
    }

    /// (column, the single owner's relation name, kind) for each use.
    fn uses(sql: &str) -> Vec<(String, String, UseKind)> {
        let x = extract(sql, &no_views).unwrap();
        x.uses
            .iter()
            .filter(|u| !matches!(u.kind, UseKind::Touch | UseKind::Star))
            .map(|u| {
                let o = &u.owners[0];
                let names: Vec<_> = o.iter().map(|o| o.owner.rel.to_string()).collect();
                (o[0].column.clone(), names.join("|"), u.kind)
            })
            .collect()
    }

    fn has(v: &[(String, String, UseKind)], col: &str, rel: &str, kind: UseKind) -> bool {
        v.iter().any(|(c, r, k)| c == col && r == rel && *k == kind)
    }

    #[test]
    fn aliases_and_params() {
        let v = uses("SELECT * FROM pets p WHERE p.clinic_id = $1 AND p.created_at > $2");
        assert!(has(&v, "clinic_id", "pets", UseKind::Eq), "{v:?}");
        assert!(has(&v, "created_at", "pets", UseKind::Range), "{v:?}");
        let x = extract("SELECT * FROM pets WHERE id = $1 LIMIT $12", &no_views).unwrap();
        assert_eq!(x.params, 12);
        assert_eq!(x.kind, StmtKind::Select);
    }

    #[test]
    fn joins_both_sides() {
        let v = uses(
            "SELECT i.* FROM invoices i JOIN invoice_items ii ON ii.invoice_id = i.id \
             WHERE i.owner_id = $1",
        );
        assert!(
            has(&v, "invoice_id", "invoice_items", UseKind::Join),
            "{v:?}"
        );
        assert!(has(&v, "id", "invoices", UseKind::Join), "{v:?}");
        assert!(has(&v, "owner_id", "invoices", UseKind::Eq), "{v:?}");
        let v = uses("SELECT * FROM a JOIN b USING (k)");
        assert!(has(&v, "k", "a", UseKind::Join) && has(&v, "k", "b", UseKind::Join));
    }

    #[test]
    fn unqualified_in_join_lists_all_owners() {
        let v = uses("SELECT * FROM a JOIN b ON a.id = b.a_id WHERE flag = 1");
        assert!(has(&v, "flag", "a|b", UseKind::Eq), "{v:?}");
    }

    #[test]
    fn order_by_with_directions() {
        let v = uses(
            "SELECT * FROM medical_records WHERE pet_id = $1 \
             ORDER BY recorded_at DESC, id LIMIT 20",
        );
        assert!(has(&v, "pet_id", "medical_records", UseKind::Eq));
        assert!(has(
            &v,
            "recorded_at",
            "medical_records",
            UseKind::OrderBy { desc: true, pos: 0 }
        ));
        assert!(has(
            &v,
            "id",
            "medical_records",
            UseKind::OrderBy {
                desc: false,
                pos: 1
            }
        ));
        // ORDER BY an expression: an expression key.
        let x = extract("SELECT * FROM t WHERE a = 1 ORDER BY t.b + 1, c", &no_views).unwrap();
        let o = x
            .uses
            .iter()
            .find(|u| {
                u.kind
                    == UseKind::OrderBy {
                        desc: false,
                        pos: 0,
                    }
            })
            .unwrap();
        assert_eq!(o.owners[0][0].expr.as_deref(), Some("b + 1"));
        // ORDER BY an aggregate is no key: no order use at all.
        let v = uses("SELECT a, count(*) FROM t GROUP BY a ORDER BY count(*), a");
        assert!(!v.iter().any(|u| matches!(u.2, UseKind::OrderBy { .. })));
    }

    #[test]
    fn quoted_and_schema_qualified() {
        let v = uses(r#"SELECT * FROM "Billing"."Invoices" AS "I" WHERE "I"."OwnerId" = 5"#);
        assert!(
            has(&v, "OwnerId", "\"Billing\".\"Invoices\"", UseKind::Eq),
            "{v:?}"
        );
        let v = uses("SELECT * FROM Public.Pets WHERE Clinic_ID = 1");
        assert!(has(&v, "clinic_id", "public.pets", UseKind::Eq), "{v:?}");
    }

    #[test]
    fn cte_and_subqueries() {
        let v = uses(
            "WITH recent AS (SELECT pet_id, recorded_at FROM medical_records) \
             SELECT * FROM recent r WHERE r.pet_id = $1",
        );
        assert!(has(&v, "pet_id", "medical_records", UseKind::Eq), "{v:?}");
        let v = uses(
            "WITH recent AS MATERIALIZED (SELECT pet_id FROM medical_records) \
             SELECT * FROM recent r WHERE r.pet_id = $1",
        );
        assert!(!has(&v, "pet_id", "medical_records", UseKind::Eq), "{v:?}");
        let v = uses(
            "SELECT * FROM pets p WHERE EXISTS (SELECT 1 FROM appointments a \
             WHERE a.pet_id = p.id AND a.starts_at > now()) \
             AND p.owner_id IN (SELECT id FROM users WHERE email = $1)",
        );
        assert!(has(&v, "pet_id", "appointments", UseKind::Join), "{v:?}");
        assert!(has(&v, "starts_at", "appointments", UseKind::Range));
        assert!(has(&v, "email", "users", UseKind::Eq));
        assert!(has(&v, "owner_id", "pets", UseKind::Eq));
        let v = uses("SELECT * FROM (SELECT id, clinic_id AS c FROM pets) s WHERE s.c = 3");
        assert!(has(&v, "clinic_id", "pets", UseKind::Eq), "{v:?}");
    }

    #[test]
    fn views_resolve_to_base_tables() {
        let views = |r: &RelName| {
            (r.name == "active_pets").then(|| {
                "SELECT p.id, p.clinic_id, p.name FROM pets p WHERE p.deceased_at IS NULL"
                    .to_string()
            })
        };
        let x = extract("SELECT * FROM active_pets WHERE clinic_id = $1", &views).unwrap();
        let ok = x.uses.iter().any(|u| {
            u.column == "clinic_id"
                && u.owners[0][0].owner.rel.name == "pets"
                && u.kind == UseKind::Eq
        });
        assert!(ok, "{:?}", x.uses);
        assert!(x.uses.iter().any(|u| u.column == "deceased_at"));
    }

    #[test]
    fn dml_and_group_by() {
        let v = uses("UPDATE invoices SET status = 'paid' WHERE clinic_id = $1 AND status = $2");
        assert!(has(&v, "clinic_id", "invoices", UseKind::Eq));
        let v = uses("DELETE FROM user_sessions WHERE expires_at < now()");
        assert!(has(&v, "expires_at", "user_sessions", UseKind::Range));
        let v = uses("SELECT * FROM pets p WHERE (p.clinic_id, p.name) = ($1, $2)");
        assert!(has(&v, "clinic_id", "pets", UseKind::Eq) && has(&v, "name", "pets", UseKind::Eq));
        let x = extract(
            "SELECT * FROM users WHERE lower(email) = lower($1)",
            &no_views,
        )
        .unwrap();
        let x = Extracted {
            uses: x
                .uses
                .into_iter()
                .filter(|u| !matches!(u.kind, UseKind::Touch | UseKind::Star))
                .collect(),
            ..x
        };
        assert_eq!(x.uses.len(), 1, "{:?}", x.uses);
        assert_eq!(x.uses[0].owners[0][0].func.as_deref(), Some("lower"));
        assert_eq!(x.uses[0].kind, UseKind::Eq);
        let v = uses("SELECT clinic_id, count(*) FROM invoices GROUP BY clinic_id");
        assert!(has(&v, "clinic_id", "invoices", UseKind::GroupBy));
    }

    #[test]
    fn touched_columns_and_star() {
        let x = extract(
            "SELECT p.id, lower(p.name) AS n, o.full_name::text FROM pets p \
             JOIN users o ON o.id = p.owner_id WHERE p.clinic_id = $1 ORDER BY p.created_at",
            &no_views,
        )
        .unwrap();
        let mut touched: Vec<String> = x
            .uses
            .iter()
            .filter(|u| u.kind == UseKind::Touch)
            .map(|u| {
                format!(
                    "{}.{}",
                    u.owners[0][0].owner.rel.name, u.owners[0][0].column
                )
            })
            .collect();
        touched.sort();
        touched.dedup();
        assert_eq!(
            touched,
            vec![
                "pets.clinic_id",
                "pets.created_at",
                "pets.id",
                "pets.name",
                "pets.owner_id",
                "users.full_name",
                "users.id"
            ]
        );
        let x = extract("SELECT * FROM pets WHERE id = 1", &no_views).unwrap();
        assert!(x.uses.iter().any(|u| u.kind == UseKind::Star));
    }

    #[test]
    fn utility_and_errors() {
        assert!(matches!(
            extract("SET statement_timeout = 0", &no_views),
            Err(ExtractError::Utility(k)) if k == "SET"
        ));
        assert!(matches!(
            extract("/* c */ BEGIN", &no_views),
            Err(ExtractError::Utility(_))
        ));
        assert!(matches!(
            extract("SELEC * FROM", &no_views),
            Err(ExtractError::Parse(_))
        ));
        let x = extract(
            "SELECT * FROM pets WHERE clinic_id = $1 AND lower(name) LIKE $2",
            &no_views,
        )
        .unwrap();
        let like = x
            .uses
            .iter()
            .find(|u| u.owners[0][0].column == "name")
            .unwrap();
        assert_eq!(like.owners[0][0].func.as_deref(), Some("lower"));
        assert!(matches!(like.kind, UseKind::Pattern(p) if !p.prefix && !p.literal));
        // jsonb containment: a GIN use; a json expression: a key with a constant.
        let x = extract(
            "SELECT * FROM docs d WHERE d.body @> '{\"a\":1}' AND d.body->>'k' = 'x'",
            &no_views,
        )
        .unwrap();
        assert_eq!(x.uses[0].kind, UseKind::Gin(GinOp::Contains));
        assert_eq!(x.uses[1].owners[0][0].expr.as_deref(), Some("body ->> 'k'"));
        assert_eq!(
            x.uses[1].constant.as_ref().unwrap().predicate,
            "d.body ->> 'k' = 'x'".replace("d.", "")
        );
        // OR branches are tagged, one group, two branches.
        let x = extract("SELECT * FROM t WHERE a = $1 OR b = $1", &no_views).unwrap();
        let b: Vec<_> = x
            .uses
            .iter()
            .filter(|u| u.kind == UseKind::Eq)
            .map(|u| u.branch)
            .collect();
        assert_eq!(b, vec![Some((0, 0)), Some((0, 1))]);
    }
}
