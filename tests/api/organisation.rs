use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, password_of, JsonOk, TestApp};
use crate::on_both_backends;

on_both_backends!(
    department_tree_moves_and_refuses_cycles,
    department_rules,
    region_resolution_from_a_point,
    categories_with_attributes,
    department_admin_manages_own_staff,
);

/// POSTs `body` and returns the created object's id.
pub async fn create(app: &TestApp, token: &str, path: &str, body: Value) -> String {
    let res = app.post(path, Some(token), body.clone()).await;
    let status = res.status();
    let created: Value = res.json().await.expect("json");
    assert_eq!(status, StatusCode::CREATED, "POST {path} {body}: {created}");
    created["id"].as_str().expect("id").to_string()
}

pub async fn department(
    app: &TestApp,
    token: &str,
    code: &str,
    level: &str,
    parent: Option<&str>,
) -> String {
    create(
        app,
        token,
        "/api/v1/departments",
        json!({"code": code, "name": format!("Dept {code}"), "level": level, "parent_id": parent}),
    )
    .await
}

async fn codes_under(app: &TestApp, token: &str, id: &str) -> Vec<String> {
    let page: Value = app
        .get(&format!("/api/v1/departments?under={id}"), Some(token))
        .await
        .json_ok()
        .await;
    let mut codes: Vec<String> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| d["code"].as_str().unwrap_or("").to_string())
        .collect();
    codes.sort();
    codes
}

async fn department_tree_moves_and_refuses_cycles(app: TestApp) {
    let admin = app.admin_token().await;
    let gov = department(&app, &admin, "GOV", "county", None).await;
    let town = department(&app, &admin, "TOWN", "town", Some(&gov)).await;
    let village = department(&app, &admin, "VIL", "village", Some(&town)).await;
    let grid = department(&app, &admin, "GRID", "grid", Some(&village)).await;
    let water = department(&app, &admin, "WATER", "department", Some(&gov)).await;
    assert_eq!(
        codes_under(&app, &admin, &town).await,
        vec!["GRID", "TOWN", "VIL"]
    );

    // move the village (with its grid) under the water department
    let res = app
        .patch(
            &format!("/api/v1/departments/{village}"),
            Some(&admin),
            json!({"parent_id": water}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let moved: Value = res.json().await.expect("json");
    assert_eq!(moved["parent_id"], json!(water));
    assert_eq!(codes_under(&app, &admin, &town).await, vec!["TOWN"]);
    assert_eq!(
        codes_under(&app, &admin, &water).await,
        vec!["GRID", "VIL", "WATER"]
    );

    // cycles: under itself, under its own descendant, the root under a leaf
    let res = app
        .patch(
            &format!("/api/v1/departments/{village}"),
            Some(&admin),
            json!({"parent_id": village}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "tree_cycle").await;
    let res = app
        .patch(
            &format!("/api/v1/departments/{village}"),
            Some(&admin),
            json!({"parent_id": grid}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "tree_cycle").await;
    let res = app
        .patch(
            &format!("/api/v1/departments/{gov}"),
            Some(&admin),
            json!({"parent_id": grid}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "tree_cycle").await;
    // the refused moves changed nothing
    assert_eq!(
        codes_under(&app, &admin, &water).await,
        vec!["GRID", "VIL", "WATER"]
    );

    // to the root and back
    let res = app
        .patch(
            &format!("/api/v1/departments/{water}"),
            Some(&admin),
            json!({"parent_id": null}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(codes_under(&app, &admin, &gov).await, vec!["GOV", "TOWN"]);
    let page: Value = app
        .get("/api/v1/departments?root=true", Some(&admin))
        .await
        .json_ok()
        .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
}

async fn department_rules(app: TestApp) {
    let admin = app.admin_token().await;
    let gov = department(&app, &admin, "GOV", "county", None).await;
    let child = department(&app, &admin, "HOUSING", "department", Some(&gov)).await;
    let res = app
        .post(
            "/api/v1/departments",
            Some(&admin),
            json!({"code": "GOV", "name": "x", "level": "county"}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "code_taken").await;
    let res = app
        .post("/api/v1/departments", Some(&admin), json!({"code": "X1", "name": "x", "level": "county", "parent_id": uuid::Uuid::new_v4()}))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app
        .post(
            "/api/v1/departments",
            Some(&admin),
            json!({"code": "X2", "name": "x", "level": "county", "contact_emails": ["not-mail"]}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app
        .post(
            "/api/v1/departments",
            Some(&admin),
            json!({"code": "X3", "name": "x", "level": "ministry"}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;

    // a department with active sub-departments stays active
    let res = app
        .patch(
            &format!("/api/v1/departments/{gov}"),
            Some(&admin),
            json!({"active": false}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "department_in_use").await;
    let res = app
        .patch(
            &format!("/api/v1/departments/{child}"),
            Some(&admin),
            json!({"active": false}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .patch(
            &format!("/api/v1/departments/{gov}"),
            Some(&admin),
            json!({"active": false}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    // staff read, only admins write
    let (_, operator) = app.user_with_token(&admin, "oper", &["operator"]).await;
    assert_eq!(
        app.get("/api/v1/departments", Some(&operator))
            .await
            .status(),
        StatusCode::OK
    );
    let res = app
        .post(
            "/api/v1/departments",
            Some(&operator),
            json!({"code": "Z", "name": "z", "level": "county"}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
}

pub fn square(lng: f64, lat: f64, size: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]]})
}

async fn region_resolution_from_a_point(app: TestApp) {
    let admin = app.admin_token().await;
    let county = create(&app, &admin, "/api/v1/regions", json!({"code": "370783000000", "name": "寿光市", "level": "county", "polygon": square(118.0, 36.0, 1.0)})).await;
    let town = create(&app, &admin, "/api/v1/regions", json!({"code": "370783101000", "name": "化龙镇", "level": "town", "parent_id": county, "polygon": square(118.2, 36.2, 0.2)})).await;
    let grid = create(&app, &admin, "/api/v1/regions", json!({"code": "370783101201-G01", "name": "裴岭村第1网格", "level": "grid", "parent_id": town, "polygon": square(118.25, 36.25, 0.01)})).await;

    let resolve = |lat: f64, lng: f64| format!("/api/v1/regions/resolve?lat={lat}&lng={lng}");
    let found: Value = app
        .get(&resolve(36.255, 118.255), Some(&admin))
        .await
        .json_ok()
        .await;
    assert_eq!(found["id"], json!(grid), "inside the grid: the grid");
    assert!(
        found["center_lat"]
            .as_f64()
            .is_some_and(|lat| (lat - 36.255).abs() < 1e-6),
        "centre from the polygon"
    );
    let found: Value = app
        .get(&resolve(36.3, 118.3), Some(&admin))
        .await
        .json_ok()
        .await;
    assert_eq!(
        found["id"],
        json!(town),
        "inside the town, outside the grid"
    );
    let found: Value = app
        .get(&resolve(36.9, 118.9), Some(&admin))
        .await
        .json_ok()
        .await;
    assert_eq!(found["id"], json!(county));
    let res = app.get(&resolve(30.0, 110.0), Some(&admin)).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app.get(&resolve(100.0, 110.0), Some(&admin)).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app
        .get("/api/v1/regions/resolve?lat=north&lng=1", Some(&admin))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;

    let res = app.post("/api/v1/regions", Some(&admin), json!({"code": "bad", "name": "x", "level": "grid", "polygon": {"type": "Point", "coordinates": [1, 2]}})).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    // moving a region refuses cycles as departments do
    let res = app
        .patch(
            &format!("/api/v1/regions/{county}"),
            Some(&admin),
            json!({"parent_id": grid}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "tree_cycle").await;
    // removing the grid's polygon makes the town the answer there
    let res = app
        .patch(
            &format!("/api/v1/regions/{grid}"),
            Some(&admin),
            json!({"polygon": null}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let found: Value = app
        .get(&resolve(36.255, 118.255), Some(&admin))
        .await
        .json_ok()
        .await;
    assert_eq!(found["id"], json!(town));
}

async fn categories_with_attributes(app: TestApp) {
    let admin = app.admin_token().await;
    let civil = department(&app, &admin, "CIVIL", "department", None).await;
    let group = create(
        &app,
        &admin,
        "/api/v1/categories",
        json!({"code": "civil", "name": "民政服务", "default_department_id": civil}),
    )
    .await;
    let attributes = json!([
        {"code": "service_type", "datatype": "singlevaluelist", "required": true, "description": "服务类型",
         "values": [{"key": "bath", "name": "助浴"}, {"key": "clean", "name": "保洁"}]},
        {"code": "preferred_time", "datatype": "datetime", "required": true, "description": "期望上门时间", "order": 2}
    ]);
    let id = create(&app, &admin, "/api/v1/categories", json!({
        "code": "civil.elderly_visit", "name": "居家养老上门服务预约", "parent_id": group, "keywords": ["上门服务", "助浴"],
        "default_kind": "help", "time_limits": {"handle_working_days": 5}, "attributes": attributes
    })).await;
    let got: Value = app
        .get(&format!("/api/v1/categories/{id}"), Some(&admin))
        .await
        .json_ok()
        .await;
    assert_eq!(got["attributes"][0]["values"][1]["name"], "保洁");
    assert_eq!(got["attributes"][1]["variable"], true);
    assert_eq!(got["time_limits"]["handle_working_days"], 5);
    assert_eq!(got["default_kind"], "help");

    let res = app
        .post(
            "/api/v1/categories",
            Some(&admin),
            json!({"code": "x", "name": "x",
        "attributes": [{"code": "a", "datatype": "singlevaluelist", "description": "no values"}]}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app
        .post(
            "/api/v1/categories",
            Some(&admin),
            json!({"code": "y", "name": "y",
        "attributes": [{"code": "a", "datatype": "colour", "description": "bad type"}]}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    let page: Value = app
        .get("/api/v1/categories?q=助浴", Some(&admin))
        .await
        .json_ok()
        .await;
    assert_eq!(
        page["items"].as_array().map(Vec::len),
        Some(1),
        "keyword search"
    );
}

async fn department_admin_manages_own_staff(app: TestApp) {
    let admin = app.admin_token().await;
    let water = department(&app, &admin, "WATER", "utility", None).await;
    let power = department(&app, &admin, "POWER", "utility", None).await;
    let res = app
        .post("/api/v1/users", Some(&admin), json!({"username": "wadmin", "password": password_of("wadmin"), "roles": ["department_admin"], "department_id": water}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let wadmin = crate::helpers::token_of(&app.login("wadmin", &password_of("wadmin")).await);

    // own department, department roles: allowed (the department defaults to their own)
    let res = app.post("/api/v1/users", Some(&wadmin), json!({"username": "w-one", "password": password_of("w-one"), "roles": ["department_staff"]})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let w1: Value = res.json().await.expect("json");
    assert_eq!(w1["department_id"], json!(water));
    // another department, or a hotline role: refused
    let res = app
        .post("/api/v1/users", Some(&wadmin), json!({"username": "p-one", "password": password_of("p-one"), "roles": ["department_staff"], "department_id": power}))
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .post(
            "/api/v1/users",
            Some(&wadmin),
            json!({"username": "o-one", "password": password_of("o-one"), "roles": ["operator"]}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // department roles without a department are refused for anyone
    let res = app.post("/api/v1/users", Some(&admin), json!({"username": "d-zero", "password": password_of("d-zero"), "roles": ["department_staff"]})).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // they see and manage only their own department's accounts
    let p1 = app
        .post("/api/v1/users", Some(&admin), json!({"username": "p-one", "password": password_of("p-one"), "roles": ["department_staff"], "department_id": power}))
        .await
        .json::<Value>()
        .await
        .expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let page: Value = app
        .get("/api/v1/users", Some(&wadmin))
        .await
        .json_ok()
        .await;
    let names: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, vec!["wadmin", "w-one"]);
    let res = app
        .patch(
            &format!("/api/v1/users/{p1}"),
            Some(&wadmin),
            json!({"active": false}),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let w1_id = w1["id"].as_str().expect("id");
    let res = app
        .patch(
            &format!("/api/v1/users/{w1_id}"),
            Some(&wadmin),
            json!({"active": false}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .patch(
            &format!("/api/v1/users/{w1_id}"),
            Some(&wadmin),
            json!({"department_id": power}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
}
