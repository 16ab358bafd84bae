//! Full-text search on both backends: the index answers exactly what a full scan would (every
//! query's result set compared with a substring check over the texts), ranked search with
//! highlighting, and the viewer's visibility.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, JsonOk, TestApp};
use crate::on_both_backends;
use crate::tickets::{act, new_ticket, org};

on_both_backends!(
    search_equals_a_full_scan,
    ranked_search_with_highlights,
    a_narrow_viewer_finds_older_matches,
    search_follows_who_may_see_a_ticket,
    a_common_word_lists_like_a_scan,
    a_start_forgets_the_samples_that_force_replanning,
    a_burst_of_one_word_lists_like_a_scan,
    a_department_walks_its_own_tickets_for_a_common_word,
    ticket_ids_order_as_bytes,
    a_ticket_is_found_as_soon_as_it_is_taken_in,
);

const TEXTS: &[(&str, &str)] = &[
    (
        "小区停水三天了",
        "幸福小区3号楼从周一起停水，至今没有恢复。",
    ),
    ("停水", "水管破裂"),
    ("夜间施工噪音扰民", "工地每晚十点后仍在施工，噪音很大。"),
    ("物业费上涨", "物业公司未经业主同意上涨物业费。"),
    ("路灯不亮", "人民路路灯已坏一周，夜间行人不便。"),
    ("停电", "3号楼停电，冰箱里的东西坏了"),
    ("水压太低", "高层住户水压低，停水停水又停水"),
    ("噪音", "广场舞音响声音太大"),
    ("Wi-Fi 信号差", "图书馆 WiFi 连不上"),
    ("欠薪", "工资拖欠三个月，老板失联"),
];

async fn search_equals_a_full_scan(app: TestApp) {
    let o = org(&app).await;
    let mut numbers = Vec::new();
    for (title, description) in TEXTS {
        let t = new_ticket(
            &app,
            &o.operator,
            json!({"category_id": o.category, "title": title, "description": description}),
        )
        .await;
        numbers.push(t["number"].as_str().expect("number").to_string());
    }
    for q in [
        "停水",
        "停水三天",
        "小区",
        "噪音",
        "噪音扰民",
        "物业费",
        "3号楼",
        "路灯",
        "水",
        "停电",
        "停水停水",
        "没有这个词",
        "，",
        "WiFi",
        "水压太低",
    ] {
        // what a scan finds: the title or the description contains the query
        let expected: BTreeSet<&str> = TEXTS
            .iter()
            .zip(&numbers)
            .filter(|((t, d), _)| {
                t.to_lowercase().contains(&q.to_lowercase())
                    || d.to_lowercase().contains(&q.to_lowercase())
            })
            .map(|(_, n)| n.as_str())
            .collect();
        let page = app
            .get(
                &format!("/api/v1/tickets?limit=100&q={}", urlencoding(q)),
                Some(&o.operator),
            )
            .await
            .json_ok()
            .await;
        let got: BTreeSet<&str> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|t| t["number"].as_str())
            .collect();
        assert_eq!(got, expected, "q = {q}");
    }
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn ranked_search_with_highlights(app: TestApp) {
    let o = org(&app).await;
    for (title, description) in TEXTS {
        new_ticket(
            &app,
            &o.operator,
            json!({"category_id": o.category, "title": title, "description": description}),
        )
        .await;
    }
    let hits: Value = search_hits(&app, &o.operator, "停水", None).await;
    let hits = hits.as_array().expect("hits");
    assert_eq!(hits.len(), 3);
    // a title match counts three, each in the description one: 4, then 3 and 3 (newest first)
    assert_eq!(hits[0]["ticket"]["title"], "小区停水三天了");
    assert_eq!(hits[0]["score"], 4);
    assert_eq!(hits[0]["title_highlight"], "小区【停水】三天了");
    assert_eq!(
        hits[0]["description_highlight"],
        "幸福小区3号楼从周一起【停水】，至今没有恢复。"
    );
    assert_eq!(hits[1]["ticket"]["title"], "水压太低");
    assert_eq!(hits[1]["score"], 3);
    assert_eq!(hits[1]["title_highlight"], Value::Null);
    assert_eq!(hits[2]["ticket"]["title"], "停水");
    // a department sees only its own tickets among the hits
    let mine = app
        .get("/api/v1/tickets?q=%E5%81%9C%E6%B0%B4", Some(&o.operator))
        .await
        .json_ok()
        .await;
    let first = mine["items"][0].clone();
    act(
        &app,
        &o.dispatcher,
        &first,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    let theirs: Value = search_hits(&app, &o.water_staff, "停水", None).await;
    assert_eq!(theirs.as_array().map(Vec::len), Some(1));
    assert_eq!(theirs[0]["ticket"]["id"], first["id"]);
    let res = app
        .get("/api/v1/tickets/search?q=", Some(&o.operator))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

/// Tickets the department cannot see, put straight into the tables (and the search index): each
/// titled `停水 <n>`, newer than every ticket taken in before.
async fn unseen_matches(app: &TestApp, n: usize) {
    unseen(app, "zz", "停水", "小区停水", n).await;
}

/// `n` tickets put straight into the tables and the search index, ids `<prefix><n>` (after
/// every ticket taken in, in id order), titled `<title> <n>`, no department.
async fn unseen(
    app: &TestApp,
    prefix: &'static str,
    title: &'static str,
    text: &'static str,
    n: usize,
) {
    use diesel::connection::SimpleConnection;
    hotline::db::run(&app.state.pool, move |c| {
        let upper = prefix.to_uppercase();
        let rows: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    "('{prefix}{i:05}', '{upper}{i:05}', 'hotline', 'help', 'normal', 'registered', '{{}}', \
                     '{title} {i}', '{text}', false, false, 1, '2030-01-01 00:00:00', \
                     '2030-01-01 00:00:00')"
                )
            })
            .collect();
        c.batch_execute(&format!(
            "INSERT INTO tickets (id, number, channel, kind, urgency, status, attributes, title, \
             description, anonymous, confidential, version, created_at, updated_at) VALUES {}",
            rows.join(", ")
        ))?;
        hotline::tickets::search::index_missing(c, 1000)
    })
    .await
    .expect("fill");
}

/// A ticket titled 停水三天 taken in and dispatched to the water company.
async fn water_ticket(app: &TestApp, o: &crate::tickets::Org) -> Value {
    let theirs = new_ticket(
        app,
        &o.operator,
        json!({"category_id": o.category, "title": "停水三天", "description": "水管破裂"}),
    )
    .await;
    act(
        app,
        &o.dispatcher,
        &theirs,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    theirs
}

/// A department's one match lies behind thousands of newer ones it may not see: the search
/// still finds it (on SQLite it looks among the newest matches first and widens the window).
async fn a_narrow_viewer_finds_older_matches(app: TestApp) {
    let o = org(&app).await;
    let theirs = water_ticket(&app, &o).await;
    unseen_matches(&app, 2500).await;
    let q = "停水";
    let hits: Value = search_hits(&app, &o.water_staff, q, None).await;
    let ids: Vec<&Value> = hits
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| &h["ticket"]["id"])
        .collect();
    assert_eq!(ids, vec![&theirs["id"]]);
    // the hotline sees them all: the newest first among equal scores
    let all: Value = search_hits(&app, &o.operator, q, Some(100)).await;
    let all = all.as_array().expect("hits");
    assert_eq!(all.len(), 100);
    assert_eq!(all[0]["ticket"]["number"], "ZZ02499");
    // a phrase that only the department's ticket holds is found at once
    let phrase: Value = search_hits(&app, &o.water_staff, "停水三天", None).await;
    assert_eq!(phrase.as_array().map(Vec::len), Some(1));
}

/// The numbers of every ticket the list `?q=…` shows `token`, page by page (`extra`: more of
/// the query string).
async fn listed(app: &TestApp, token: &str, q: &str, extra: &str) -> Vec<String> {
    let mut numbers = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let after = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page = app
            .get(
                &format!(
                    "/api/v1/tickets?limit=40&q={}{extra}{after}",
                    urlencoding(q)
                ),
                Some(token),
            )
            .await
            .json_ok()
            .await;
        numbers.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter_map(|t| t["number"].as_str().map(str::to_string)),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return numbers,
        }
    }
}

/// A word most tickets hold: on SQLite the hotline's list then walks the tickets in its order
/// and probes each (`search::probe`) instead of gathering every match; a rare phrase, a
/// department's list and a list filtered further are gathered. All answer what a scan would,
/// page by page, in either order.
async fn a_common_word_lists_like_a_scan(app: TestApp) {
    let o = org(&app).await;
    let theirs = water_ticket(&app, &o).await;
    new_ticket(
        &app,
        &o.operator,
        json!({"category_id": o.category, "title": "路灯不亮", "description": "人民路"}),
    )
    .await;
    unseen_matches(&app, 300).await;
    let decided = |q: &'static str| {
        let pool = app.state.pool.clone();
        async move {
            hotline::db::run(&pool, move |c| {
                let tokens = hotline::tickets::search::query_tokens(q).unwrap_or_default();
                hotline::tickets::search::is_common(c, &tokens, None)
            })
            .await
            .expect("is_common")
        }
    };
    let sqlite = app.postgres().is_none();
    assert_eq!(decided("停水").await, sqlite, "301 of 302 tickets");
    assert!(!decided("水管破裂").await, "one ticket");
    let theirs_number = theirs["number"].as_str().expect("number").to_string();
    let mut expected: Vec<String> = vec![theirs_number.clone()];
    expected.extend((0..300).map(|i| format!("ZZ{i:05}")));
    assert_eq!(listed(&app, &o.operator, "停水", "").await, expected);
    expected.reverse();
    assert_eq!(
        listed(&app, &o.operator, "停水", "&order=newest").await,
        expected
    );
    assert_eq!(
        listed(&app, &o.water_staff, "停水", "").await,
        vec![theirs_number.clone()]
    );
    assert_eq!(
        listed(&app, &o.operator, "水管破裂", "").await,
        vec![theirs_number]
    );
    // narrowed by more than the text: gathered, same answer
    assert_eq!(
        listed(&app, &o.operator, "停水", "&status=registered")
            .await
            .len(),
        300
    );
}

/// A common word whose matches all come after thousands of other tickets (a burst): the
/// hotline's list walks the first 5,000 tickets in its order, finds too few, and gathers
/// instead — the same page as a scan.
async fn a_burst_of_one_word_lists_like_a_scan(app: TestApp) {
    let o = org(&app).await;
    let theirs = water_ticket(&app, &o).await;
    unseen(&app, "yy", "路灯不亮", "人民路", 6000).await;
    unseen_matches(&app, 1000).await;
    let mut expected: Vec<String> = vec![theirs["number"].as_str().expect("number").to_string()];
    expected.extend((0..39).map(|i| format!("ZZ{i:05}")));
    let page = app
        .get(
            &format!("/api/v1/tickets?limit=40&q={}", urlencoding("停水")),
            Some(&o.operator),
        )
        .await
        .json_ok()
        .await;
    let got: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["number"].as_str())
        .collect();
    assert_eq!(got, expected);
    assert!(page["next_cursor"].is_string());
    // newest first the matches come at once
    let newest = listed(&app, &o.operator, "停水", "&order=newest").await;
    assert_eq!(newest.len(), 1001);
    assert_eq!(newest[0], "ZZ00999");
}

/// A word common among a department's own tickets: on SQLite its list walks the tickets the
/// department leads, in id order, probing each, and gives the same pages as a scan — its own
/// matches and the ones it co-handles, never another department's. 6,000 tickets led by the
/// water company's east office (a department without sub-departments; two in three about 停水),
/// 1,000 about 停水 led by the education bureau; the water company itself sees its office's.
async fn a_department_walks_its_own_tickets_for_a_common_word(app: TestApp) {
    use diesel::connection::SimpleConnection;
    let o = org(&app).await;
    let dispatched = water_ticket(&app, &o).await;
    // co-handled by the east office, led by the education bureau
    let co = new_ticket(
        &app,
        &o.operator,
        json!({"category_id": o.category, "title": "停水两天", "description": "水压低"}),
    )
    .await;
    act(
        &app,
        &o.dispatcher,
        &co,
        "dispatch",
        json!({"department_id": o.edu, "co_department_ids": [o.east]}),
    )
    .await;
    let (east, edu) = (o.east.clone(), o.edu.clone());
    hotline::db::run(&app.state.pool, move |c| {
        let rows = |prefix: &str, dept: &str, n: usize, text: &dyn Fn(usize) -> &'static str| {
            let upper = prefix.to_uppercase();
            (0..n)
                .map(|i| {
                    format!(
                        "('{prefix}{i:05}', '{upper}{i:05}', 'hotline', 'help', 'normal', 'dispatched', '{{}}', \
                         '{} {i}', '小区', false, false, '{dept}', \
                         (SELECT path FROM departments WHERE id = '{dept}'), 1, \
                         '2030-01-01 00:00:00', '2030-01-01 00:00:00')",
                        text(i)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let insert = "INSERT INTO tickets (id, number, channel, kind, urgency, status, attributes, \
             title, description, anonymous, confidential, lead_department_id, lead_department_path, \
             version, created_at, updated_at) VALUES ";
        let ours = rows("wa", &east, 6000, &|i| if i % 3 == 0 { "路灯不亮" } else { "停水" });
        let theirs = rows("wb", &edu, 1000, &|_| "停水");
        c.batch_execute(&format!("{insert}{ours}; {insert}{theirs};"))?;
        hotline::tickets::search::index_missing(c, 1000)
    })
    .await
    .expect("fill");
    // the list's order is by id: the tickets taken in through the API come first
    let numbers = |tickets: &[&Value]| -> Vec<String> {
        let mut taken: Vec<(String, String)> = tickets
            .iter()
            .map(|t| {
                (
                    t["id"].as_str().expect("id").into(),
                    t["number"].as_str().expect("number").into(),
                )
            })
            .collect();
        taken.sort();
        let mut all: Vec<String> = taken.into_iter().map(|(_, n)| n).collect();
        all.extend(
            (0..6000)
                .filter(|i| i % 3 != 0)
                .map(|i| format!("WA{i:05}")),
        );
        all
    };
    for (token, mut expected) in [
        (&o.east_staff, numbers(&[&co])),
        (&o.water_staff, numbers(&[&dispatched, &co])),
    ] {
        let got = listed(&app, token, "停水", "").await;
        assert_eq!(got.len(), expected.len());
        assert_eq!(got, expected);
        // newest first too
        let newest = listed(&app, token, "停水", "&order=newest").await;
        expected.reverse();
        assert_eq!(newest, expected);
    }
}

/// SQLite: `ANALYZE` samples every index, the search index's FTS5 tables too; a start (a new
/// pool over the file) drops the samples that make SQLite prepare statements again at each call
/// — FTS5's, and those of indexes whose leading column is (nearly) unique — and keeps those of
/// skewed columns (twelve tickets, all registered: the status index).
async fn a_start_forgets_the_samples_that_force_replanning(app: TestApp) {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    if app.postgres().is_some() {
        return;
    }
    let o = org(&app).await;
    for i in 0..12 {
        new_ticket(
            &app,
            &o.operator,
            json!({"category_id": o.category, "title": format!("停水三天{i}"), "description": "小区"}),
        )
        .await;
    }
    // samples of FTS5's term table, of our documents' key, of the tickets' key and status
    let samples = |pool: hotline::db::Pool| async move {
        hotline::db::run(&pool, |c| {
            let count = |c: &mut hotline::db::DbConnection, column: &str, name: &str| {
                diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
                    "(SELECT count(*) FROM sqlite_stat4 WHERE {column} = '{name}')"
                )))
                .get_result::<i64>(c)
            };
            Ok([
                count(c, "tbl", "ticket_search_idx")?,
                count(c, "tbl", "ticket_search_docs")?,
                count(c, "idx", "sqlite_autoindex_tickets_1")?,
                count(c, "idx", "tickets_status_idx")?,
            ])
        })
        .await
        .expect("samples")
    };
    hotline::db::run(&app.state.pool, |c| Ok(c.batch_execute("ANALYZE")?))
        .await
        .expect("analyze");
    let before = samples(app.state.pool.clone()).await;
    assert!(
        before.iter().all(|&n| n > 0),
        "ANALYZE sampled them all: {before:?}"
    );
    let url = format!("sqlite://{}", app.data_dir().join("hotline.db").display());
    let settings = crate::helpers::test_settings(app.data_dir(), &url);
    let pool = hotline::db::build_pool(&settings.database).expect("pool");
    assert_eq!(samples(pool).await, [0, 0, 0, before[3]]);
}

/// `GET /api/v1/tickets/search?q=…[&limit=…]` as `token`, answered 200.
async fn search_hits(app: &TestApp, token: &str, q: &str, limit: Option<u32>) -> Value {
    let limit = limit.map(|n| format!("&limit={n}")).unwrap_or_default();
    app.get(
        &format!("/api/v1/tickets/search?q={}{limit}", urlencoding(q)),
        Some(token),
    )
    .await
    .json_ok()
    .await
}

/// The one value `query` selects, as text (`None` for no row or NULL), read straight from the
/// test's database (PostgreSQL's SQL: the cast is `::text`).
async fn sql_text(app: &TestApp, query: &str) -> Option<String> {
    use diesel::prelude::*;
    let query = format!("(SELECT ({query})::text)");
    hotline::db::run(&app.state.pool, move |c| {
        Ok(diesel::select(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Text>,
        >(&query))
        .get_result(c)?)
    })
    .await
    .expect("an SQL value")
}

async fn search_numbers(app: &TestApp, token: &str, q: &str) -> BTreeSet<String> {
    let hits: Value = search_hits(app, token, q, Some(100)).await;
    hits.as_array()
        .expect("hits")
        .iter()
        .filter_map(|h| h["ticket"]["number"].as_str().map(str::to_string))
        .collect()
}

/// Lists page through tickets in the byte order of their ids on both backends, oldest first and
/// newest first; on PostgreSQL every column holding a ticket id compares as bytes (`COLLATE
/// "C"`, migration `ticket_ids_as_bytes`), since an index serves a join only under its own
/// collation: a column added later without it would turn index look-ups into scans.
async fn ticket_ids_order_as_bytes(app: TestApp) {
    let o = org(&app).await;
    for i in 0..5 {
        new_ticket(
            &app,
            &o.operator,
            json!({"category_id": o.category, "title": format!("路灯不亮{i}"), "description": "人民路"}),
        )
        .await;
    }
    for (order, newest) in [("", false), ("&order=newest", true)] {
        let mut ids = Vec::new();
        let mut after = String::new();
        loop {
            let page = app
                .get(
                    &format!("/api/v1/tickets?limit=2{order}{after}"),
                    Some(&o.supervisor),
                )
                .await
                .json_ok()
                .await;
            ids.extend(
                page["items"]
                    .as_array()
                    .expect("items")
                    .iter()
                    .filter_map(|t| t["id"].as_str().map(str::to_string)),
            );
            match page["next_cursor"].as_str() {
                Some(next) => after = format!("&cursor={next}"),
                None => break,
            }
        }
        let mut sorted = ids.clone();
        sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        if newest {
            sorted.reverse();
        }
        assert_eq!(ids.len(), 5);
        assert_eq!(ids, sorted, "order {order:?}");
    }
    if app.postgres().is_some() {
        let other = sql_text(
            &app,
            "SELECT string_agg(table_name || '.' || column_name, ', ') \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() \
             AND (column_name LIKE '%ticket\\_id' \
                  OR (table_name = 'tickets' AND column_name IN ('id', 'merged_into'))) \
             AND collation_name IS DISTINCT FROM 'C'",
        )
        .await;
        assert_eq!(other, None, "ticket id columns under another collation");
    }
}

/// A department finds what it may see and nothing else, as the ticket's departments and
/// co-handlers change (on PostgreSQL the index keeps who may see each ticket beside its text).
async fn search_follows_who_may_see_a_ticket(app: TestApp) {
    let o = org(&app).await;
    let shared = new_ticket(
        &app,
        &o.operator,
        json!({"category_id": o.category, "title": "停水共办", "description": "两个部门"}),
    )
    .await;
    // confidential tickets are taken in and dispatched by supervisors
    let secret = new_ticket(
        &app,
        &o.supervisor,
        json!({"category_id": o.category, "title": "停水保密", "description": "仅牵头部门",
               "confidential": true}),
    )
    .await;
    let number = |t: &Value| t["number"].as_str().expect("number").to_string();
    let set = |v: &[&Value]| v.iter().map(|t| number(t)).collect::<BTreeSet<String>>();
    // on PostgreSQL a ticket taken in brings its scope with its search row (written in the same
    // statement as the ticket): the same as the scope function says once the ticket is there
    if app.postgres().is_some() {
        let differing = sql_text(
            &app,
            "SELECT count(*) FROM ticket_search \
             WHERE scope IS DISTINCT FROM ticket_search_scope(ticket_id)",
        )
        .await;
        assert_eq!(differing.as_deref(), Some("0"));
    }
    // nobody's yet: departments find nothing
    assert!(search_numbers(&app, &o.water_staff, "停水")
        .await
        .is_empty());
    for (t, by) in [(&shared, &o.dispatcher), (&secret, &o.supervisor)] {
        act(
            &app,
            by,
            t,
            "dispatch",
            json!({"department_id": o.water, "co_department_ids": [o.east]}),
        )
        .await;
    }
    // the lead sees both, the co-handler the shared ticket, not the confidential one
    let departments_see_theirs = || async {
        assert_eq!(
            search_numbers(&app, &o.water_staff, "停水").await,
            set(&[&shared, &secret])
        );
        assert_eq!(
            search_numbers(&app, &o.east_staff, "停水").await,
            set(&[&shared])
        );
    };
    departments_see_theirs().await;
    // on PostgreSQL the confidential ticket's scope names its lead alone (a department asks for
    // one token, `g<id>`): the co-handler does not even gather it
    if app.postgres().is_some() {
        let (secret_id, water) = (
            secret["id"].as_str().expect("id").to_string(),
            o.water.replace('-', ""),
        );
        // written into the SQL below: the API's own id, a UUID
        assert!(secret_id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
        let scope = sql_text(
            &app,
            &format!("SELECT scope FROM ticket_search WHERE ticket_id = '{secret_id}'"),
        )
        .await;
        assert_eq!(scope, Some(format!("'g{water}':1 'l{water}':2 'zconfz':3")));
    }
    // a department's whole list (no word): what it leads or co-handles, in ticket order, and
    // not another department's confidential ticket
    assert_eq!(
        listed(&app, &o.water_staff, "", "").await,
        [number(&shared), number(&secret)]
    );
    assert_eq!(listed(&app, &o.east_staff, "", "").await, [number(&shared)]);
    assert!(listed(&app, &o.edu_staff, "", "").await.is_empty());
    // with a filter, one a page: the same tickets, cursor to cursor
    let mut pages = Vec::new();
    let mut after = String::new();
    loop {
        let page = app
            .get(
                &format!("/api/v1/tickets?limit=1&status=dispatched&order=newest{after}"),
                Some(&o.water_staff),
            )
            .await
            .json_ok()
            .await;
        pages.extend(page["items"].as_array().expect("items").iter().map(number));
        match page["next_cursor"].as_str() {
            Some(next) => after = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(pages, [number(&secret), number(&shared)]);
    assert!(search_numbers(&app, &o.edu_staff, "停水").await.is_empty());
    assert_eq!(
        search_numbers(&app, &o.operator, "停水").await,
        set(&[&shared])
    );
    assert_eq!(
        search_numbers(&app, &o.supervisor, "停水").await,
        set(&[&shared, &secret])
    );
    // on PostgreSQL, with statistics saying the water department leads every ticket, its
    // search walks the newest matches instead of gathering them by scope: the same answers
    if app.postgres().is_some() {
        hotline::db::run(&app.state.pool, |c| {
            use diesel::connection::SimpleConnection;
            Ok(c.batch_execute("ANALYZE tickets")?)
        })
        .await
        .expect("analyze");
        departments_see_theirs().await;
    }
    // the list's q filter agrees
    assert_eq!(
        listed(&app, &o.east_staff, "停水", "").await,
        [number(&shared)]
    );
    // the lead returns the shared ticket and it goes to another department: who may see it
    // changes in the index too (the scope's triggers), for the ranked search and the list alike
    let returned = act(
        &app,
        &o.water_staff,
        &shared,
        "return",
        json!({"reason": "不属本单位职责"}),
    )
    .await;
    act(
        &app,
        &o.dispatcher,
        &returned,
        "approve_return",
        json!({"department_id": o.edu}),
    )
    .await;
    assert_eq!(
        search_numbers(&app, &o.water_staff, "停水").await,
        set(&[&secret])
    );
    assert_eq!(
        search_numbers(&app, &o.edu_staff, "停水").await,
        set(&[&shared])
    );
    for (staff, expected) in [(&o.edu_staff, &shared), (&o.water_staff, &secret)] {
        assert_eq!(listed(&app, staff, "停水", "").await, [number(expected)]);
        assert_eq!(listed(&app, staff, "", "").await, [number(expected)]);
    }
}

/// A ticket is found by the next search after its intake, on both backends. On PostgreSQL the
/// search index keeps GIN's pending list short (`gin_pending_list_limit = 256` kB, migration
/// `search_index_short_pending_list`): every search reads the whole list, and the intake that
/// fills it merges it inside its own transaction, at the 4 MB default a stall of every intake
/// near it (docs/benchmarks.md, "The eleventh round").
async fn a_ticket_is_found_as_soon_as_it_is_taken_in(app: TestApp) {
    let o = org(&app).await;
    for i in 0..3 {
        let taken = new_ticket(
            &app,
            &o.operator,
            json!({"category_id": o.category, "title": format!("井盖缺失{i}"), "description": "人民路口"}),
        )
        .await;
        let found = search_numbers(&app, &o.supervisor, &format!("井盖缺失{i}")).await;
        assert_eq!(
            found,
            BTreeSet::from([taken["number"].as_str().expect("number").to_string()])
        );
    }
    if app.postgres().is_some() {
        let options = sql_text(
            &app,
            "SELECT array_to_string(reloptions, ',') FROM pg_class \
             WHERE relname = 'ticket_search_tokens_scope'",
        )
        .await;
        assert_eq!(options.as_deref(), Some("gin_pending_list_limit=256"));
    }
}
