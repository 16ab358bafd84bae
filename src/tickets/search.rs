//! Full-text search of tickets that stays fast at millions of rows, the same on both backends
//! (docs/api.md "Search").
//!
//! Chinese has no spaces between words, so the text is indexed as overlapping character
//! **bigrams** (小区停水 → 小区 区停 停水), and letters/digits as whole words. A query is turned into
//! the same tokens and matched as a **phrase** (the tokens adjacent and in order), which is
//! exactly "the text contains the query" for any query of two or more Chinese characters — the
//! results equal a `LIKE '%…%'` scan, without the scan. A one-character query has no bigram and
//! falls back to the scan.
//!
//! Tokens are written in ASCII (`u` + the two code points in hex, `w` + a lower-case word), so
//! that neither database's word splitter nor its locale can change them. Both keep a
//! `ticket_search` table beside `tickets`: on PostgreSQL a `tsvector` (`to_tsvector('simple',
//! …)`) under a GIN index, matched with `<->` phrases; on SQLite an FTS5 index over
//! `ticket_search_docs`, matched with `"…"` phrases. One extra insert per intake.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::error::AppError;

/// The migration that creates the index; the tickets before it are indexed when it is applied.
pub const MIGRATION: &str = "20261203000014";

/// Separates the title's tokens from the description's (no phrase spans the two).
const FIELD_BREAK: &str = "zbreakz";

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F | 0x3040..=0x30FF | 0xAC00..=0xD7AF)
}

/// The tokens of one text, in order.
fn text_tokens(text: &str, out: &mut Vec<String>) {
    let mut run: Vec<char> = Vec::new();
    let mut word = String::new();
    let flush_run = |run: &mut Vec<char>, out: &mut Vec<String>| {
        for pair in run.windows(2) {
            out.push(format!("u{:x}x{:x}", pair[0] as u32, pair[1] as u32));
        }
        run.clear();
    };
    let flush_word = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            out.push(format!("w{word}"));
            word.clear();
        }
    };
    for c in text.chars() {
        if is_cjk(c) {
            flush_word(&mut word, out);
            run.push(c);
        } else if c.is_ascii_alphanumeric() {
            flush_run(&mut run, out);
            word.push(c.to_ascii_lowercase());
        } else if c.is_alphanumeric() {
            // full-width digits and letters, other scripts: as their lower-case ASCII if any
            flush_run(&mut run, out);
            // full-width ASCII (U+FF01..U+FF5E) to ASCII
            let folded = match c as u32 {
                0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                _ => c,
            };
            if folded.is_ascii_alphanumeric() {
                word.push(folded.to_ascii_lowercase());
            } else {
                flush_word(&mut word, out);
            }
        } else {
            flush_run(&mut run, out);
            flush_word(&mut word, out);
        }
    }
    flush_run(&mut run, out);
    flush_word(&mut word, out);
}

/// What a ticket is indexed under: its title's and its description's tokens.
pub fn document(title: &str, description: &str) -> String {
    let mut out = Vec::new();
    text_tokens(title, &mut out);
    out.push(FIELD_BREAK.to_string());
    text_tokens(description, &mut out);
    out.join(" ")
}

/// The tokens of a query, or `None` when it has none an index can use (a single Chinese
/// character, punctuation only): the caller then scans.
pub fn query_tokens(q: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    text_tokens(q, &mut out);
    // a lone Chinese character yields no bigram: its text would be lost from the phrase
    let lone = q
        .split(|c: char| !is_cjk(c))
        .any(|run| run.chars().count() == 1);
    (!out.is_empty() && !lone).then_some(out)
}

/// A condition on a ticket (its text, who sees it), for a boxed tickets query on either backend.
pub type TicketCondition = Box<
    dyn BoxableExpression<
        crate::db::schema::tickets::table,
        crate::db::MultiBackend,
        SqlType = diesel::sql_types::Bool,
    >,
>;

/// The condition "this ticket's text contains the query" for a boxed tickets query, by the
/// index of the connection's backend.
///
/// On SQLite, `window` bounds the matches looked at to that many of the most recently indexed
/// (FTS5 walks its index backwards and stops): for a common word the full set is a large part
/// of the table, and gathering it took 140 ms at a million tickets. PostgreSQL's planner walks
/// the newest tickets and probes the index itself, so it is given no window.
///
/// `department` is the viewer's own department when the viewer is department staff. The index
/// also holds who may see each ticket (`scope`, migration `search_scope` on both backends): the
/// matches a department may see are then one look-up of the text and the department together
/// (on PostgreSQL gathered first, `= ANY(ARRAY(…))`, so that the planner cannot walk every
/// match newest first looking for the department's few; on SQLite FTS5 intersects the two
/// lists). The caller still applies the visibility rules to the tickets themselves.
pub fn matches(
    conn: &DbConnection,
    tokens: &[String],
    window: Option<i64>,
    department: Option<&str>,
) -> TicketCondition {
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Bool, Text};
    match conn {
        DbConnection::Pg(_) => match department {
            None => Box::new(
                sql::<Bool>(
                    "tickets.id IN (SELECT ticket_id FROM ticket_search \
                     WHERE tokens @@ to_tsquery('simple', ",
                )
                .bind::<Text, _>(tokens.join(" <-> "))
                .sql("))"),
            ),
            Some(own) => Box::new(
                sql::<Bool>(
                    "tickets.id = ANY(ARRAY(SELECT ticket_id FROM ticket_search \
                     WHERE tokens @@ to_tsquery('simple', ",
                )
                .bind::<Text, _>(tokens.join(" <-> "))
                .sql(") AND scope @@ to_tsquery('simple', ")
                .bind::<Text, _>(scope_query(own))
                .sql(")))"),
            ),
        },
        DbConnection::Sqlite(_) => {
            let query = fts5_query(tokens, department);
            let head = "tickets.id IN (SELECT d.ticket_id FROM ticket_search_docs d WHERE d.id IN \
                 (SELECT rowid FROM ticket_search WHERE ticket_search MATCH ";
            match window {
                None => Box::new(sql::<Bool>(head).bind::<Text, _>(query).sql("))")),
                Some(n) => Box::new(
                    sql::<Bool>(head)
                        .bind::<Text, _>(query)
                        .sql(" ORDER BY rowid DESC LIMIT ")
                        .bind::<BigInt, _>(n)
                        .sql("))"),
                ),
            }
        }
    }
}

/// "The ticket's text contains the phrase", checked for each ticket on its own (SQLite): the
/// list then walks the tickets in its order and stops at its page, instead of gathering every
/// match first. For a phrase with many matches (a common word: an eighth of a million tickets)
/// that is the quicker way; for a rare one the walk would visit nearly every ticket, so the
/// caller asks `is_common` first.
///
/// The check reads the ticket's indexed tokens (`ticket_search_docs.tokens`, the text FTS5
/// indexes) and looks for the phrase's tokens in a row, space to space: exactly FTS5's phrase
/// match, since every token is ASCII letters and digits separated by one space. Asking FTS5
/// itself for each ticket (`MATCH` with `rowid =`) parsed the query and opened each token's
/// lists every time: 60–130 µs a ticket against about 2 µs (docs/benchmarks.md, "The fifth
/// round").
pub fn probe(tokens: &[String]) -> TicketCondition {
    use diesel::sql_types::{Bool, Text};
    Box::new(
        diesel::dsl::sql::<Bool>(
            "EXISTS (SELECT 1 FROM ticket_search_docs d WHERE d.ticket_id = tickets.id \
             AND instr(' ' || d.tokens || ' ', ",
        )
        .bind::<Text, _>(format!(" {} ", tokens.join(" ")))
        .sql(") > 0)"),
    )
}

/// Matches per square root of the indexed tickets from which a phrase counts as common (see
/// `is_common`).
const COMMON_PER_ROOT: f64 = 10.0;

/// Whether SQLite's index holds so many matches of the phrase that a list finds its page
/// sooner by probing the tickets in its order (`probe`) than by gathering every match. Walking
/// costs about (page ÷ share of matches) probes, gathering one step per match: they meet near
/// `COMMON_PER_ROOT` × √(tickets indexed) matches (docs/benchmarks.md, "The fourth round").
/// Counting stops at that many; with a `department`, only what it may see counts (it then walks
/// its own tickets). Always false on PostgreSQL, whose planner chooses itself.
pub fn is_common(
    conn: &mut DbConnection,
    tokens: &[String],
    department: Option<&str>,
) -> Result<bool, AppError> {
    use diesel::sql_types::{BigInt, Nullable};
    let DbConnection::Sqlite(lite) = conn else {
        return Ok(false);
    };
    let indexed: Option<i64> = diesel::select(diesel::dsl::sql::<Nullable<BigInt>>(
        "(SELECT max(id) FROM ticket_search_docs)",
    ))
    .get_result(lite)?;
    let threshold = (COMMON_PER_ROOT * (indexed.unwrap_or(0).max(1) as f64).sqrt()).ceil() as i64;
    sqlite_matches_reach(conn, tokens, department, threshold)
}

/// Whether a department's matches of `tokens` are best gathered through the index's scope: when
/// the tickets led by the department at `path` and below are a small part of all (under 5 %, by
/// PostgreSQL's own estimate: its statistics, no count), or when its matches of the word are few
/// (at most `SCOPED_MATCHES` by the GIN index's statistics), however large the department. A
/// department over a large part of the table finds its newest matches sooner by walking the
/// newest matches (gathering a quarter of ten million tickets' matches first took 3.4 s); but a
/// department over 6 % of the tickets holding 70,000 of a word's 239,000 matches took 1.3 s that
/// way and 67 ms through the scope (docs/benchmarks.md, "The seventh round"). A table never
/// analysed counts as narrow (either way is fast on a small one). Co-handled tickets are not in
/// the estimates: a department that co-handles far more than it leads gathers more than
/// estimated (still correct, slower). Always true on SQLite: FTS5 intersects the phrase's list
/// with the department's, stepping over what it does not need, so the scope costs no more than
/// the phrase alone even for the root department.
pub fn is_narrow(
    conn: &mut DbConnection,
    department: &str,
    path: &str,
    tokens: &[String],
) -> Result<bool, AppError> {
    use diesel::sql_types::{Bool, Text};
    let DbConnection::Pg(pg) = conn else {
        return Ok(true);
    };
    // paths are ids and slashes, tokens ASCII letters and digits (`query_tokens`); anything
    // else is refused rather than quoted
    if !path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '/')
    {
        return Ok(false);
    }
    let (lo, hi) = crate::tree::subtree_range(path);
    let share = format!(
        "SELECT 1 FROM tickets WHERE lead_department_path >= '{lo}' AND lead_department_path < '{hi}'"
    );
    let plain = |t: &String| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric());
    // (tokens `query_tokens` did not make leave the share to decide: on a large table the whole
    // table is then the estimate)
    let matches = if !tokens.is_empty() && tokens.iter().all(plain) {
        format!(
            "SELECT 1 FROM ticket_search WHERE tokens @@ to_tsquery('simple', '{}') \
             AND scope @@ to_tsquery('simple', 'g{}')",
            tokens.join(" <-> "),
            scope_token(department)
        )
    } else {
        "SELECT 1 FROM tickets".to_string()
    };
    Ok(diesel::select(
        diesel::dsl::sql::<Bool>("(SELECT reltuples < 1 OR hotline_estimate(")
            .bind::<Text, _>(share)
            .sql(") / reltuples::float8 < 0.05 OR hotline_estimate(")
            .bind::<Text, _>(matches)
            .sql(&format!(
                ") <= {SCOPED_MATCHES} FROM pg_class WHERE oid = 'tickets'::regclass)"
            )),
    )
    .get_result(pg)?)
}

/// The most matches of a word a department gathers through the index's scope whatever its size
/// (see `is_narrow`): some 100 ms of work at most.
const SCOPED_MATCHES: u32 = 100_000;

/// A department's id as the one token the scope holds for it (dashes dropped).
fn scope_token(department: &str) -> String {
    department
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// What a department may see, as a query on `scope` (PostgreSQL): its subtree, and a
/// confidential ticket only when it leads it. One token: a confidential ticket's scope holds `g`
/// for its lead alone (migration `search_scope_without_not`), since a GIN index answers a query
/// with a NOT only approximately and every row gathered was then read again to check it.
fn scope_query(department: &str) -> String {
    format!("g{}", scope_token(department))
}

/// The FTS5 query (SQLite): the tokens as one phrase in the text (ASCII letters and digits:
/// nothing to quote), and with a department, what it may see: its subtree (`g`), and a
/// confidential ticket (`zconfz`) only when it leads it (`l`). FTS5 steps through the lists of a
/// NOT itself, so SQLite's scope keeps `g` for every department on a confidential ticket's paths.
fn fts5_query(tokens: &[String], department: Option<&str>) -> String {
    let phrase = format!("tokens : \"{}\"", tokens.join(" "));
    match department {
        None => phrase,
        Some(own) => {
            let id = scope_token(own);
            format!("({phrase}) AND (scope : (\"g{id}\" NOT (\"zconfz\" NOT \"l{id}\")))")
        }
    }
}

/// Whether SQLite's index holds at least `n` matches of the phrase (among what `department`
/// may see, as `matches` asks): a window of `n` was full.
pub(super) fn sqlite_matches_reach(
    conn: &mut DbConnection,
    tokens: &[String],
    department: Option<&str>,
    n: i64,
) -> Result<bool, AppError> {
    use diesel::sql_types::{BigInt, Text};
    let DbConnection::Sqlite(lite) = conn else {
        return Ok(false);
    };
    let found: i64 = diesel::select(
        diesel::dsl::sql::<BigInt>(
            "(SELECT count(*) FROM (SELECT rowid FROM ticket_search \
             WHERE ticket_search MATCH ",
        )
        .bind::<Text, _>(fts5_query(tokens, department))
        .sql(" ORDER BY rowid DESC LIMIT ")
        .bind::<BigInt, _>(n)
        .sql("))"),
    )
    .get_result(lite)?;
    Ok(found >= n)
}

/// The search row of a ticket being taken in (its `document`), as a write to go with the
/// ticket's own: on PostgreSQL one statement with it (`db::write_together`), one round trip
/// fewer. The row brings its scope, since the scope trigger cannot see a ticket written in the
/// same statement: a ticket taken in has no department and no co-handlers yet, so only its
/// confidentiality counts (`zconfz`, as `ticket_search_scope` would say; a test compares them).
/// `None` on SQLite, or for a ticket that already has a department: `index_document` once the
/// ticket is written.
pub fn new_ticket_row<'a>(
    conn: &DbConnection,
    ticket: &'a crate::tickets::model::TicketRow,
    document: &'a str,
) -> Option<Box<dyn crate::db::Write + 'a>> {
    if !matches!(conn, DbConnection::Pg(_)) || ticket.lead_department_id.is_some() {
        return None;
    }
    Some(Box::new(crate::db::Fixed::new(
        &[
            "INSERT INTO ticket_search (ticket_id, tokens, scope) VALUES (",
            ", to_tsvector('simple', ",
            "), to_tsvector('simple', ",
            "))",
        ],
        [
            ticket.id.as_str(),
            document,
            if ticket.confidential { "zconfz" } else { "" },
        ],
    )))
}

/// Indexes a ticket's `document` (a new ticket, or one whose text changed), in the caller's
/// transaction.
pub fn index_document(
    conn: &mut DbConnection,
    ticket_id: &str,
    doc: String,
) -> Result<(), AppError> {
    use diesel::sql_types::Text;
    match conn {
        DbConnection::Pg(pg) => {
            // a fixed text with binds (`db::Fixed`): PostgreSQL keeps it prepared, where diesel
            // sends a `sql_query` to be parsed and planned at every call
            crate::db::Fixed::new(
                &[
                    "INSERT INTO ticket_search (ticket_id, tokens) VALUES (",
                    ", to_tsvector('simple', ",
                    ")) ON CONFLICT (ticket_id) DO UPDATE SET tokens = EXCLUDED.tokens",
                ],
                [ticket_id, doc.as_str()],
            )
            .execute(pg)?;
        }
        DbConnection::Sqlite(lite) => {
            crate::db::Cached(
                diesel::sql_query(
                    // with who may see it as it stands (later changes: the migration's triggers)
                    "INSERT INTO ticket_search_docs (ticket_id, tokens, scope) VALUES (?, ?, \
                     coalesce((SELECT scope FROM ticket_search_scopes WHERE ticket_id = ?), '')) \
                     ON CONFLICT (ticket_id) DO UPDATE SET tokens = excluded.tokens",
                )
                .bind::<Text, _>(ticket_id)
                .bind::<Text, _>(doc)
                .bind::<Text, _>(ticket_id),
            )
            .execute(lite)?;
        }
    }
    Ok(())
}

/// Indexes tickets that have no index entry yet (created before search existed, or by a bulk
/// load), `batch` at a time; answers how many. Run when the index's migration is applied, and
/// by the benchmarks after their bulk fills.
pub fn index_missing(conn: &mut DbConnection, batch: i64) -> Result<usize, AppError> {
    use crate::db::schema::tickets;
    use diesel::sql_types::{Array, Text};
    #[derive(QueryableByName)]
    struct Indexed {
        #[diesel(sql_type = Text)]
        ticket_id: String,
    }
    let mut done = 0;
    // walked in id order by the primary key, a batch at a time, each batch's indexed tickets
    // looked up by id: no plan over the whole table (an anti-join planned on a freshly
    // filled table without statistics scanned all of it for every batch)
    let mut after = String::new();
    loop {
        let rows: Vec<(String, String, String)> = tickets::table
            .filter(tickets::id.gt(&after))
            .order(tickets::id.asc())
            .select((tickets::id, tickets::title, tickets::description))
            .limit(batch)
            .load(conn)?;
        let Some(last) = rows.last() else {
            return Ok(done);
        };
        after = last.0.clone();
        let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        let indexed: std::collections::HashSet<String> = match conn {
            DbConnection::Pg(pg) => {
                diesel::sql_query("SELECT ticket_id FROM ticket_search WHERE ticket_id = ANY($1)")
                    .bind::<Array<Text>, _>(&ids)
                    .load::<Indexed>(pg)?
            }
            DbConnection::Sqlite(lite) => diesel::sql_query(
                "SELECT ticket_id FROM ticket_search_docs WHERE ticket_id IN \
                 (SELECT value FROM json_each(?))",
            )
            .bind::<Text, _>(
                serde_json::to_string(&ids).map_err(|e| AppError::Internal(e.to_string()))?,
            )
            .load::<Indexed>(lite)?,
        }
        .into_iter()
        .map(|i| i.ticket_id)
        .collect();
        let missing: Vec<&(String, String, String)> =
            rows.iter().filter(|r| !indexed.contains(&r.0)).collect();
        if missing.is_empty() {
            continue;
        }
        crate::db::write_tx(conn, |conn| match conn {
            // one statement a batch: the documents as two arrays
            DbConnection::Pg(pg) => {
                let (ids, docs): (Vec<&str>, Vec<String>) = missing
                    .iter()
                    .map(|(id, title, description)| (id.as_str(), document(title, description)))
                    .unzip();
                diesel::sql_query(
                    "INSERT INTO ticket_search (ticket_id, tokens) \
                     SELECT d.id, to_tsvector('simple', d.doc) FROM unnest($1, $2) AS d(id, doc) \
                     ON CONFLICT (ticket_id) DO NOTHING",
                )
                .bind::<Array<Text>, _>(ids)
                .bind::<Array<Text>, _>(docs)
                .execute(pg)?;
                Ok(())
            }
            DbConnection::Sqlite(_) => {
                for (id, title, description) in &missing {
                    index_document(conn, id, document(title, description))?;
                }
                Ok(())
            }
        })?;
        done += missing.len();
    }
}

/// One hit of `GET /api/v1/tickets/search`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub ticket: super::model::Ticket,
    /// Relevance: each occurrence in the title counts three, in the description one.
    pub score: usize,
    /// The title with the match in 【】, when it occurs there.
    pub title_highlight: Option<String>,
    /// About 80 characters of the description around the first match, in 【】.
    pub description_highlight: Option<String>,
}

/// The newest matches a search ranks.
const CANDIDATES: i64 = 500;

/// The widest window of SQLite matches tried before looking at all of them.
const MAX_WINDOW: i64 = 1 << 20;

/// Ranked search among the tickets the viewer may see: the 500 newest matches, by relevance
/// (then newest first), at most `limit`. On SQLite "newest" is by when the ticket was indexed
/// (its intake, or when the index was built for older tickets: in ticket order), the order
/// FTS5 can walk backwards without gathering every match.
pub fn search(
    conn: &mut DbConnection,
    viewer: &super::Viewer,
    q: &str,
    limit: usize,
) -> Result<Vec<SearchHit>, AppError> {
    let q = q.trim();
    if q.is_empty() || q.chars().count() > 100 {
        return Err(AppError::validation("q: 1 to 100 characters"));
    }
    let filter = super::model::TicketFilter {
        q: Some(q.to_string()),
        order: Some(super::model::Order::Newest),
        ..Default::default()
    };
    let first_page = crate::pagination::PageRequest {
        limit: CANDIDATES,
        after: None,
    };
    // SQLite: among the newest matches first, widening while the window held more matches
    // than the viewer could see `CANDIDATES` of (by what the viewer saw of it: a viewer who
    // saw 400 of the 2,000 newest needs about twice as many, not eight times as many, and a
    // window eight times too wide gathered a hundred thousand matches for a department that
    // was a few short); the last try looks at all of them
    let tokens = query_tokens(q);
    // on SQLite a department's matches are its own (`matches`): so is what fills a window
    let department = super::reads::text_department(viewer).map(|(own, _)| own);
    let mut window = match (&*conn, &tokens) {
        (DbConnection::Sqlite(_), Some(_)) => Some(4 * CANDIDATES),
        _ => None,
    };
    let candidates = loop {
        let found = super::reads::texts_within(conn, viewer, &filter, &first_page, window)?;
        match (window, &tokens) {
            (Some(n), Some(tokens))
                if (found.len() as i64) < CANDIDATES
                    && sqlite_matches_reach(conn, tokens, department, n)? =>
            {
                let wider = match found.len() as i64 {
                    0 => n * 8,
                    seen => (n * CANDIDATES * 3 / (2 * seen)).clamp(n * 2, n * 8),
                };
                window = (wider <= MAX_WINDOW).then_some(wider);
            }
            _ => break found,
        }
    };
    // scored on their text; only the hits answered are read whole
    let needle = q.to_lowercase();
    let count = |text: &str| text.to_lowercase().matches(&needle).count();
    let mut scored: Vec<(usize, &str)> = candidates
        .iter()
        .map(|(id, title, description)| (3 * count(title) + count(description), id.as_str()))
        .collect();
    // stable: equal scores stay newest first
    scored.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
    scored.truncate(limit);
    let ids: Vec<&str> = scored.iter().map(|(_, id)| *id).collect();
    let tickets = super::reads::views_of(conn, viewer, &ids)?;
    let score_of: std::collections::HashMap<&str, usize> =
        scored.iter().map(|(score, id)| (*id, *score)).collect();
    Ok(tickets
        .into_iter()
        .map(|t| SearchHit {
            score: score_of.get(t.id.as_str()).copied().unwrap_or(0),
            title_highlight: highlight(&t.title, q),
            description_highlight: highlight(&t.description, q),
            ticket: t,
        })
        .collect())
}

/// Where the query occurs in `text`, wrapped in 【】 (a snippet of about 80 characters around
/// the first match), or `None`.
pub fn highlight(text: &str, q: &str) -> Option<String> {
    let q = q.trim().to_lowercase();
    if q.is_empty() {
        return None;
    }
    let lower = text.to_lowercase();
    // only exact for texts whose lower-casing keeps byte offsets (Chinese, ASCII)
    if lower.len() != text.len() {
        return None;
    }
    let at = lower.find(&q)?;
    let end = at + q.len();
    let (before, hit, after) = (text.get(..at)?, text.get(at..end)?, text.get(end..)?);
    let start = before.char_indices().rev().nth(30).map_or(0, |(i, _)| i);
    let stop = after.char_indices().nth(50).map_or(after.len(), |(i, _)| i);
    Some(format!(
        "{}{}【{}】{}{}",
        if start > 0 { "…" } else { "" },
        before.get(start..)?,
        hit,
        after.get(..stop)?,
        if stop < after.len() { "…" } else { "" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigrams_and_words() {
        assert_eq!(
            document("停水", "3号楼"),
            "u505cx6c34 zbreakz w3 u53f7x697c"
        );
        assert_eq!(
            query_tokens("停水三天"),
            Some(vec![
                "u505cx6c34".into(),
                "u6c34x4e09".into(),
                "u4e09x5929".into()
            ])
        );
        assert_eq!(query_tokens("水"), None);
        assert_eq!(query_tokens("停水 水"), None);
        assert_eq!(query_tokens("ABC"), Some(vec!["wabc".into()]));
    }

    #[test]
    fn highlights_the_match() {
        assert_eq!(
            highlight("小区停水三天了", "停水").as_deref(),
            Some("小区【停水】三天了")
        );
        assert_eq!(highlight("小区停水", "停电"), None);
        // a query whose lower case is shorter (the Kelvin sign) finds its match, no panic
        assert_eq!(
            highlight("K座电梯故障", "\u{212A}座电梯").as_deref(),
            Some("【K座电梯】故障")
        );
    }
}
