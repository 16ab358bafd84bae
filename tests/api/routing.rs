use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, JsonOk, TestApp};
use crate::on_both_backends;
use crate::organisation::{create, department, square};

on_both_backends!(
    rule_precedence_and_fallbacks,
    rule_changes_are_recorded,
    csv_import_is_all_or_nothing,
    json_import_and_export_round_trip,
    demo_county_routes_a_water_outage,
    import_of_15000_regions_completes,
    imports_for_chinese_users,
);

struct World {
    admin: String,
    water_co: String,
    water_bureau: String,
    town_office: String,
    env: String,
    cat_water: String,
    cat_outage: String,
    cat_noise: String,
    town: String,
    village: String,
}

async fn world(app: &TestApp) -> World {
    let admin = app.admin_token().await;
    let water_co = department(app, &admin, "WATER-SUPPLY", "utility", None).await;
    let water_bureau = department(app, &admin, "WATER", "department", None).await;
    let town_office = department(app, &admin, "TOWN-1", "town", None).await;
    let env = department(app, &admin, "ECO", "department", None).await;
    let cat_water = create(
        app,
        &admin,
        "/api/v1/categories",
        json!({"code": "water", "name": "供水", "default_department_id": water_bureau}),
    )
    .await;
    let cat_outage = create(
        app,
        &admin,
        "/api/v1/categories",
        json!({"code": "water.outage", "name": "停水", "parent_id": cat_water}),
    )
    .await;
    let cat_noise = create(
        app,
        &admin,
        "/api/v1/categories",
        json!({"code": "env.noise", "name": "噪声扰民"}),
    )
    .await;
    let county = create(app, &admin, "/api/v1/regions", json!({"code": "370783000000", "name": "县", "level": "county", "polygon": square(118.0, 36.0, 1.0)})).await;
    let town = create(app, &admin, "/api/v1/regions", json!({"code": "370783101000", "name": "化龙镇", "level": "town", "parent_id": county, "polygon": square(118.2, 36.2, 0.2)})).await;
    let village = create(app, &admin, "/api/v1/regions", json!({"code": "370783101201", "name": "裴岭村", "level": "village", "parent_id": town, "polygon": square(118.25, 36.25, 0.05)})).await;
    World {
        admin,
        water_co,
        water_bureau,
        town_office,
        env,
        cat_water,
        cat_outage,
        cat_noise,
        town,
        village,
    }
}

async fn rule(app: &TestApp, admin: &str, body: Value) -> String {
    create(app, admin, "/api/v1/routing-rules", body).await
}

async fn preview(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app
        .post("/api/v1/routing/preview", Some(token), body.clone())
        .await;
    assert_eq!(res.status(), StatusCode::OK, "preview {body}");
    res.json().await.expect("json")
}

fn lead_codes(result: &Value) -> Vec<String> {
    result["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .map(|c| {
            c["department"]["code"]
                .as_str()
                .unwrap_or("<manual>")
                .to_string()
        })
        .collect()
}

async fn rule_precedence_and_fallbacks(app: TestApp) {
    let w = world(&app).await;
    let by_category = rule(&app, &w.admin, json!({"name": "供水类", "priority": 50, "category_id": w.cat_water, "lead_department_id": w.water_bureau})).await;
    let by_keyword = rule(&app, &w.admin, json!({"name": "停水关键词", "priority": 10, "keywords": ["停水", "没水"], "lead_department_id": w.water_co, "co_department_ids": [w.water_bureau]})).await;
    let by_region = rule(&app, &w.admin, json!({"name": "化龙镇投诉", "priority": 5, "region_id": w.town, "kind": "complaint", "lead_department_id": w.town_office})).await;
    rule(&app, &w.admin, json!({"name": "噪音", "priority": 10, "keywords": ["噪音"], "category_id": w.cat_noise, "lead_department_id": w.env})).await;
    let (_, dispatcher) = app.user_with_token(&w.admin, "disp", &["dispatcher"]).await;

    // keyword on Chinese text beats the category rule by priority; the category default follows
    let result = preview(&app, &dispatcher, json!({"category_id": w.cat_outage, "region_id": w.village, "kind": "help", "text": "小区停水三天了"})).await;
    assert_eq!(
        lead_codes(&result),
        vec!["WATER-SUPPLY", "WATER", "WATER", "<manual>"]
    );
    let first = &result["candidates"][0];
    assert_eq!(first["source"], "rule");
    assert_eq!(first["rule"]["id"], json!(by_keyword));
    assert_eq!(first["matched"]["keyword"], "停水");
    assert_eq!(first["co_handlers"][0]["code"], "WATER");
    assert!(
        first["reason"]
            .as_str()
            .is_some_and(|r| r.contains("停水关键词") && r.contains("keyword '停水'")),
        "{first}"
    );
    let second = &result["candidates"][1];
    assert_eq!(second["rule"]["id"], json!(by_category));
    assert_eq!(second["matched"]["category_via_ancestor"], true);
    assert_eq!(result["candidates"][2]["source"], "category_default");
    assert_eq!(result["exact_rule_match"], true);

    // a complaint in the town (the village lies inside it): the region rule has the lowest priority number
    let result = preview(&app, &dispatcher, json!({"category_id": w.cat_outage, "region_id": w.village, "kind": "complaint", "text": "小区停水三天了"})).await;
    assert_eq!(result["candidates"][0]["rule"]["id"], json!(by_region));
    assert_eq!(
        result["candidates"][0]["matched"]["region_via_ancestor"],
        true
    );
    // the same, located by a point inside the village instead of a region id
    let result = preview(&app, &dispatcher, json!({"category_id": w.cat_outage, "lat": 36.26, "lng": 118.26, "kind": "complaint", "text": "停水"})).await;
    assert_eq!(result["region_id"], json!(w.village));
    assert_eq!(result["candidates"][0]["rule"]["id"], json!(by_region));

    // keyword rule with a category condition: both must hold
    let result = preview(
        &app,
        &dispatcher,
        json!({"category_id": w.cat_noise, "text": "楼下噪音扰民"}),
    )
    .await;
    assert_eq!(lead_codes(&result), vec!["ECO", "<manual>"]);
    let result = preview(&app, &dispatcher, json!({"text": "楼下噪音扰民"})).await;
    assert_eq!(
        lead_codes(&result),
        vec!["<manual>"],
        "the noise rule needs its category"
    );

    // no rule: the category default, then the manual queue
    let result = preview(
        &app,
        &dispatcher,
        json!({"category_id": w.cat_outage, "text": "水费怎么交"}),
    )
    .await;
    assert_eq!(lead_codes(&result), vec!["WATER", "WATER", "<manual>"]);
    rule(&app, &w.admin, json!({"name": "x", "priority": 1, "category_id": w.cat_noise, "lead_department_id": w.env})).await;
    let res = app
        .patch(
            &format!("/api/v1/routing-rules/{by_category}"),
            Some(&w.admin),
            json!({"active": false}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let result = preview(
        &app,
        &dispatcher,
        json!({"category_id": w.cat_outage, "text": "水费怎么交"}),
    )
    .await;
    assert_eq!(result["candidates"][0]["source"], "category_default");
    assert_eq!(result["exact_rule_match"], false);
    // nothing at all: only the manual dispatch queue
    let result = preview(&app, &dispatcher, json!({"text": "你好"})).await;
    assert_eq!(lead_codes(&result), vec!["<manual>"]);
    assert_eq!(result["candidates"][0]["source"], "manual_dispatch");

    let res = app
        .post(
            "/api/v1/routing/preview",
            Some(&dispatcher),
            json!({"category_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app
        .post(
            "/api/v1/routing/preview",
            Some(&dispatcher),
            json!({"lat": 36.2}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // rules list in precedence order, page by page
    let page: Value = app
        .get("/api/v1/routing-rules?limit=2", Some(&dispatcher))
        .await
        .json_ok()
        .await;
    let priorities: Vec<i64> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| r["priority"].as_i64())
        .collect();
    assert_eq!(priorities, vec![1, 5]);
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let page: Value = app
        .get(
            &format!("/api/v1/routing-rules?limit=10&cursor={cursor}"),
            Some(&dispatcher),
        )
        .await
        .json_ok()
        .await;
    let priorities: Vec<i64> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| r["priority"].as_i64())
        .collect();
    assert_eq!(priorities, vec![10, 10, 50]);
}

async fn rule_changes_are_recorded(app: TestApp) {
    let w = world(&app).await;
    let me: Value = app.get("/api/v1/me", Some(&w.admin)).await.json_ok().await;
    let id = rule(&app, &w.admin, json!({"name": "供水类", "priority": 50, "category_id": w.cat_water, "lead_department_id": w.water_bureau})).await;
    let res = app
        .patch(
            &format!("/api/v1/routing-rules/{id}"),
            Some(&w.admin),
            json!({"priority": 20, "lead_department_id": w.water_co}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .patch(
            &format!("/api/v1/routing-rules/{id}"),
            Some(&w.admin),
            json!({"lead_department_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/routing-rules/{id}")))
        .bearer_auth(&w.admin)
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .get(&format!("/api/v1/routing-rules/{id}"), Some(&w.admin))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;

    let history: Value = app
        .get(
            &format!("/api/v1/routing-rules/{id}/history"),
            Some(&w.admin),
        )
        .await
        .json_ok()
        .await;
    let items = history["items"].as_array().expect("items");
    let actions: Vec<&str> = items.iter().filter_map(|c| c["action"].as_str()).collect();
    assert_eq!(
        actions,
        vec!["create", "update", "delete"],
        "the failed update left no trace"
    );
    assert!(items
        .iter()
        .all(|c| c["actor_id"] == me["id"] && c["changed_at"].is_string()));
    assert!(items[0]["before"].is_null());
    assert_eq!(items[1]["before"]["priority"], 50);
    assert_eq!(items[1]["after"]["priority"], 20);
    assert_eq!(items[1]["after"]["lead_department_id"], json!(w.water_co));
    assert_eq!(items[2]["before"]["priority"], 20);
    assert!(items[2]["after"].is_null());

    // only admins change rules
    let (_, dispatcher) = app.user_with_token(&w.admin, "disp", &["dispatcher"]).await;
    let res = app
        .post(
            "/api/v1/routing-rules",
            Some(&dispatcher),
            json!({"name": "x", "priority": 1, "lead_department_id": w.env}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
}

async fn post_file(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("Content-Type", content_type)
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

async fn csv_import_is_all_or_nothing(app: TestApp) {
    let admin = app.admin_token().await;
    // children before their parent are fine; row 3 has a bad level, row 4 a bad e-mail
    let bad = "code,name,level,parent_code,contact_emails,duty_phone\n\
               VIL-1,裴岭村村委会,village,TOWN-1,,\n\
               TOWN-1,化龙镇人民政府,town,GOV,town@example.cn,0536-5200001\n\
               GOV,县政府,ministry,,,\n\
               ECO,生态环境局,department,GOV,not-an-email,\n";
    let res = post_file(&app, &admin, "/api/v1/import/departments", "text/csv", bad).await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "import_failed").await;
    let errors = body["errors"].as_array().expect("errors");
    let rows: Vec<u64> = errors.iter().filter_map(|e| e["row"].as_u64()).collect();
    assert!(rows.contains(&3), "{body}");
    assert!(
        errors
            .iter()
            .any(|e| e["message"].as_str().is_some_and(|m| m.contains("level"))),
        "{body}"
    );
    let page: Value = app
        .get("/api/v1/departments", Some(&admin))
        .await
        .json_ok()
        .await;
    assert_eq!(
        page["items"].as_array().map(Vec::len),
        Some(0),
        "nothing imported"
    );

    let missing_parent = "code,name,level,parent_code\nA,a,county,\nB,b,town,NOPE\n";
    let res = post_file(
        &app,
        &admin,
        "/api/v1/import/departments",
        "text/csv",
        missing_parent,
    )
    .await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "import_failed").await;
    assert_eq!(body["errors"][0]["row"], 2);
    let res = post_file(
        &app,
        &admin,
        "/api/v1/import/departments",
        "text/csv",
        "code,name\nA,a\n",
    )
    .await;
    // a missing required column is the header's fault, named once, not each row's
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("level")),
        "missing column: {body}"
    );

    let good = bad
        .replace("ministry", "county")
        .replace("not-an-email", "eco@example.cn");
    let res = post_file(
        &app,
        &admin,
        "/api/v1/import/departments",
        "text/csv",
        &good,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let report: Value = res.json().await.expect("report");
    assert_eq!(
        (report["created"].as_u64(), report["updated"].as_u64()),
        (Some(4), Some(0))
    );
    // importing again updates in place
    let res = post_file(
        &app,
        &admin,
        "/api/v1/import/departments",
        "text/csv",
        &good.replace("县政府", "县人民政府"),
    )
    .await;
    let report: Value = res.json().await.expect("report");
    assert_eq!(
        (report["created"].as_u64(), report["updated"].as_u64()),
        (Some(0), Some(4))
    );
    let page: Value = app
        .get("/api/v1/departments?q=县人民政府", Some(&admin))
        .await
        .json_ok()
        .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));

    let res = post_file(
        &app,
        &admin,
        "/api/v1/import/departments",
        "application/xml",
        "<x/>",
    )
    .await;
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let res = post_file(
        &app,
        &admin,
        "/api/v1/import/planets",
        "text/csv",
        good.as_str(),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_path").await;
}

async fn json_import_and_export_round_trip(app: TestApp) {
    let admin = app.admin_token().await;
    let departments = json!([
        {"code": "GOV", "name": "县政府", "level": "county"},
        {"code": "WATER-SUPPLY", "name": "自来水公司", "level": "utility", "parent_code": "GOV", "contact_emails": "a@example.cn;b@example.cn"}
    ]);
    let res = post_file(
        &app,
        &admin,
        "/api/v1/import/departments",
        "application/json",
        &departments.to_string(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let regions = format!(
        "code,name,level,parent_code,polygon\n370783000000,县,county,,\"{}\"\n",
        square(118.0, 36.0, 1.0).to_string().replace('"', "\"\"")
    );
    assert_eq!(
        post_file(&app, &admin, "/api/v1/import/regions", "text/csv", &regions)
            .await
            .status(),
        StatusCode::OK
    );
    let categories =
        "code,name,parent_code,keywords,default_kind,default_department_code,handle_working_days\n\
                      water,供水,,,,WATER-SUPPLY,\nwater.outage,停水,water,停水;没水,help,,5\n";
    assert_eq!(
        post_file(
            &app,
            &admin,
            "/api/v1/import/categories",
            "text/csv",
            categories
        )
        .await
        .status(),
        StatusCode::OK
    );
    let rules = "name,priority,category_code,region_code,kind,keywords,lead_department_code,co_department_codes\n\
                 停水,10,water,370783000000,,停水;没水,WATER-SUPPLY,GOV\n";
    let res = post_file(&app, &admin, "/api/v1/import/rules", "text/csv", rules).await;
    assert_eq!(res.status(), StatusCode::OK);

    let res = app.get("/api/v1/export/rules", Some(&admin)).await;
    assert!(res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv")));
    let exported = res.text().await.expect("csv");
    assert!(
        exported.contains("停水,10,water,370783000000,,停水;没水,WATER-SUPPLY,GOV"),
        "{exported}"
    );
    let exported: Value = app
        .get("/api/v1/export/categories?format=json", Some(&admin))
        .await
        .json_ok()
        .await;
    assert_eq!(exported[1]["code"], "water.outage");
    assert_eq!(exported[1]["parent_code"], "water");
    assert_eq!(exported[1]["handle_working_days"], 5);
    let exported: Value = app
        .get("/api/v1/export/departments?format=json", Some(&admin))
        .await
        .json_ok()
        .await;
    assert_eq!(exported[1]["contact_emails"], "a@example.cn;b@example.cn");
    // an export imports back unchanged
    let res = post_file(
        &app,
        &admin,
        "/api/v1/import/departments",
        "application/json",
        &exported.to_string(),
    )
    .await;
    let report: Value = res.json().await.expect("report");
    assert_eq!(report["updated"], 2);
}

async fn demo_county_routes_a_water_outage(app: TestApp) {
    let now = app.state.clock.now();
    let summary = hotline::db::run(&app.state.pool, move |c| hotline::demo::seed(c, now))
        .await
        .expect("seed demo");
    let categories = summary.imports.iter().find(|r| r.rows > 80 && r.rows < 120);
    assert!(
        categories.is_some(),
        "about 90 categories: {:?}",
        summary.imports
    );
    assert!(summary.users.iter().all(|u| u.password.is_some()));
    let dispatcher = summary
        .users
        .iter()
        .find(|u| u.username == "dispatcher")
        .expect("dispatcher");
    let token = crate::helpers::token_of(
        &app.login("dispatcher", dispatcher.password.as_deref().unwrap_or(""))
            .await,
    );

    let page: Value = app
        .get("/api/v1/regions?q=裴岭村&level=village", Some(&token))
        .await
        .json_ok()
        .await;
    let village = page["items"][0]["id"]
        .as_str()
        .expect("demo village")
        .to_string();
    let result = preview(
        &app,
        &token,
        json!({"region_id": village, "text": "小区停水三天了"}),
    )
    .await;
    let first = &result["candidates"][0];
    assert_eq!(first["department"]["code"], "WATER-SUPPLY", "{result}");
    assert_eq!(first["source"], "rule");
    assert_eq!(first["matched"]["keyword"], "停水");
    assert!(first["rule"]["name"]
        .as_str()
        .is_some_and(|n| n.contains("停水")));
    // the demo grids have polygons: a point resolves to a grid inside the village
    let grid: Value = app
        .get(
            &format!("/api/v1/regions?parent_id={village}&limit=1"),
            Some(&token),
        )
        .await
        .json_ok()
        .await;
    let (lat, lng) = polygon_inner_point(&grid["items"][0]["polygon"]);
    let found: Value = app
        .get(
            &format!("/api/v1/regions/resolve?lat={lat}&lng={lng}"),
            Some(&token),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(found["level"], "grid");
    assert_eq!(found["parent_id"], json!(village));

    // seeding again changes nothing and keeps the accounts
    let again = hotline::db::run(&app.state.pool, move |c| hotline::demo::seed(c, now))
        .await
        .expect("seed again");
    assert!(again.imports.iter().all(|r| r.created == 0));
    assert!(again.users.iter().all(|u| u.password.is_none()));
}

/// A point just inside the first corner of a square polygon.
fn polygon_inner_point(polygon: &Value) -> (f64, f64) {
    let ring = &polygon["coordinates"][0];
    let (lng0, lat0) = (
        ring[0][0].as_f64().unwrap_or(0.0),
        ring[0][1].as_f64().unwrap_or(0.0),
    );
    let (lng2, lat2) = (
        ring[2][0].as_f64().unwrap_or(0.0),
        ring[2][1].as_f64().unwrap_or(0.0),
    );
    ((lat0 + lat2) / 2.0, (lng0 + lng2) / 2.0)
}

/// A county's worth of grids through the API: 1 county, 30 towns, 14,969 grids with polygons.
async fn import_of_15000_regions_completes(app: TestApp) {
    let admin = app.admin_token().await;
    let square_text =
        |lng: f64, lat: f64, size: f64| square(lng, lat, size).to_string().replace('"', "\"\"");
    let mut csv = String::from("code,name,level,parent_code,polygon\n");
    csv.push_str(&format!(
        "C,County,county,,\"{}\"\n",
        square_text(118.0, 36.0, 3.0)
    ));
    let mut rows = 1;
    for t in 0..30 {
        let (lng, lat) = (
            118.0 + f64::from(t % 6) * 0.5,
            36.0 + f64::from(t / 6) * 0.5,
        );
        csv.push_str(&format!(
            "T{t},Town {t},town,C,\"{}\"\n",
            square_text(lng, lat, 0.1)
        ));
        rows += 1;
        for g in 0..499 {
            if rows == 15_000 {
                break;
            }
            let (glng, glat) = (
                lng + f64::from(g % 23) * 0.004,
                lat + f64::from(g / 23) * 0.004,
            );
            csv.push_str(&format!(
                "T{t}G{g},Grid {t}-{g},grid,T{t},\"{}\"\n",
                square_text(glng, glat, 0.004)
            ));
            rows += 1;
        }
    }
    let res = post_file(&app, &admin, "/api/v1/import/regions", "text/csv", &csv).await;
    assert_eq!(res.status(), StatusCode::OK);
    let report: Value = res.json().await.expect("report");
    assert_eq!(report["created"], 15_000);
    let found: Value = app
        .get(
            "/api/v1/regions/resolve?lat=36.002&lng=118.002",
            Some(&admin),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(found["code"], "T0G0");
}

async fn post_bytes(app: &TestApp, token: &str, path: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("Content-Type", "text/csv")
        .body(body)
        .send()
        .await
        .expect("request")
}

/// Excel on Chinese Windows saves "CSV" as GB18030/GBK: it is decoded. An empty file, a file
/// without its header, and a file without rows are refused, and every bad row — whether it did
/// not parse or did not apply — is in the one answer.
async fn imports_for_chinese_users(app: TestApp) {
    let admin = app.admin_token().await;
    let text =
        "code,name,level,parent_code\nGOV,寿光县人民政府,county,\nWATER,县自来水公司,utility,GOV\n";
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable);
    assert!(
        std::str::from_utf8(&gbk).is_err(),
        "the test file is not UTF-8"
    );
    let res = post_bytes(&app, &admin, "/api/v1/import/departments", gbk.into_owned()).await;
    let report = res.json_ok().await;
    assert_eq!(report["created"], 2);
    let page: Value = app
        .get("/api/v1/departments?q=自来水", Some(&admin))
        .await
        .json_ok()
        .await;
    assert_eq!(page["items"][0]["name"], "县自来水公司");
    // neither UTF-8 nor GB18030
    let res = post_bytes(
        &app,
        &admin,
        "/api/v1/import/departments",
        vec![0x80, 0xff, 0x81, 0x20, 0xff],
    )
    .await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("UTF-8")),
        "{body}"
    );
    // empty, header missing, header only
    for (file, says) in [
        ("", "empty"),
        ("  \n", "empty"),
        ("X1,县政府,county,\n", "header"),
        ("code,name,level,parent_code\n", "no rows"),
    ] {
        let res = post_bytes(
            &app,
            &admin,
            "/api/v1/import/departments",
            file.as_bytes().to_vec(),
        )
        .await;
        let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(
            body["message"].as_str().is_some_and(|m| m.contains(says)),
            "{file:?}: {body}"
        );
    }
    // a row that does not parse (row 1: active is not a boolean) and rows that do not apply
    // (row 2: bad level; row 3: unknown parent) — all in one answer
    let file = "code,name,level,parent_code,active\nA1,a,county,,maybe\nA2,b,ministry,,\nA3,c,town,NOPE,\n";
    let res = post_bytes(
        &app,
        &admin,
        "/api/v1/import/departments",
        file.as_bytes().to_vec(),
    )
    .await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "import_failed").await;
    let rows: Vec<u64> = body["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["row"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(rows, vec![1, 2, 3], "{body}");
}
