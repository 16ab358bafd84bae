//! Open311 GeoReport v2 through real HTTP on both backends: every endpoint in XML (parsed back
//! with roxmltree, element by element) and in JSON, a request round the whole loop, the privacy
//! rule over every response body, the liberal parsing, and a client written to the specification
//! in Python (standard library only).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::callbacks::call_back;
use crate::helpers::{JsonOk, TestApp};
use crate::on_both_backends;
use crate::tickets::{act, hotline_call, new_ticket, org, Org};

on_both_backends!(
    services_and_definitions_in_both_formats,
    a_request_goes_round_the_loop_and_reads_back_closed,
    submissions_are_checked_like_the_spec_says,
    a_client_written_to_the_spec_creates_and_lists,
);

/// A pothole service under a 道路 group, with three attributes, beside the org's 停水.
async fn catalogue(app: &TestApp, o: &Org) -> String {
    let res = app
        .post(
            "/api/v1/categories",
            Some(&o.admin),
            json!({"code": "roads", "name": "道路"}),
        )
        .await;
    let roads: Value = res.json().await.expect("json");
    let res = app
        .post(
            "/api/v1/categories",
            Some(&o.admin),
            json!({
                "code": "roads.pothole", "name": "路面坑洼", "parent_id": roads["id"],
                "description": "路面出现坑洼", "keywords": ["坑", "路面"], "default_kind": "help",
                "attributes": [
                    {"code": "SIZE", "datatype": "singlevaluelist", "required": true, "order": 1,
                     "description": "坑有多大？", "values": [{"key": "s", "name": "小"}, {"key": "l", "name": "大"}]},
                    {"code": "DEPTH", "datatype": "number", "order": 2, "description": "深度（厘米）"},
                    {"code": "LANES", "datatype": "multivaluelist", "order": 3, "description": "占用车道",
                     "values": [{"key": "1", "name": "一车道"}, {"key": "2", "name": "二车道"}]}
                ]
            }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let pothole: Value = res.json().await.expect("json");
    pothole["id"].as_str().expect("id").to_string()
}

async fn open311_client(app: &TestApp, admin: &str, scopes: Value) -> String {
    let res = app
        .post(
            "/api/v1/api-clients",
            Some(admin),
            json!({"name": format!("civic-app-{}", uuid::Uuid::new_v4().simple()), "scopes": scopes}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.expect("json");
    v["api_key"].as_str().expect("api_key").to_string()
}

/// A GET under /open311/v2: status, content type and body.
async fn get(app: &TestApp, path: &str) -> (StatusCode, String, String) {
    let res = app
        .client
        .get(app.url(&format!("/open311/v2/{path}")))
        .send()
        .await
        .expect("request");
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, res.text().await.expect("body"))
}

async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let res = app
        .client
        .post(app.url(&format!("/open311/v2/{path}")))
        .form(form)
        .send()
        .await
        .expect("request");
    (res.status(), res.text().await.expect("body"))
}

fn xml(body: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("XML: {e}: {body}"))
}

/// The text of the child element `name` of `node`.
fn child<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<&'a str> {
    node.children()
        .find(|c| c.has_tag_name(name))
        .map(|c| c.text().unwrap_or(""))
}

fn elements<'a, 'input>(node: roxmltree::Node<'a, 'input>) -> Vec<roxmltree::Node<'a, 'input>> {
    node.children().filter(|c| c.is_element()).collect()
}

async fn services_and_definitions_in_both_formats(app: TestApp) {
    let o = org(&app).await;
    catalogue(&app, &o).await;

    let (status, ct, body) = get(&app, "discovery.xml").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/xml"), "{ct}");
    assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
    let doc = xml(&body);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "discovery");
    let endpoint = root
        .children()
        .find(|c| c.has_tag_name("endpoints"))
        .and_then(|e| e.children().find(|c| c.has_tag_name("endpoint")))
        .expect("endpoints/endpoint");
    assert_eq!(
        child(endpoint, "specification"),
        Some("http://wiki.open311.org/GeoReport_v2")
    );
    assert!(child(endpoint, "url").is_some_and(|u| u.ends_with("/open311/v2")));
    let formats: Vec<&str> = endpoint
        .children()
        .find(|c| c.has_tag_name("formats"))
        .expect("formats")
        .children()
        .filter(|c| c.has_tag_name("format"))
        .filter_map(|c| c.text())
        .collect();
    assert_eq!(formats, ["text/xml", "application/json"]);
    let (_, ct, body) = get(&app, "discovery.json").await;
    assert!(ct.starts_with("application/json"));
    let d: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        d["endpoints"][0]["formats"],
        json!(["text/xml", "application/json"])
    );

    // services: the leaves, each with the spec's elements in order
    let (status, _, body) = get(&app, "services.xml").await;
    assert_eq!(status, StatusCode::OK);
    let doc = xml(&body);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "services");
    let services = elements(root);
    assert_eq!(services.len(), 2, "{body}");
    assert!(services.iter().all(|s| s.has_tag_name("service")));
    let pothole = services
        .iter()
        .find(|s| child(**s, "service_code") == Some("roads.pothole"))
        .expect("pothole");
    let names: Vec<&str> = elements(*pothole)
        .iter()
        .map(|c| c.tag_name().name())
        .collect();
    assert_eq!(
        names,
        [
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group"
        ]
    );
    assert_eq!(child(*pothole, "service_name"), Some("路面坑洼"));
    assert_eq!(child(*pothole, "metadata"), Some("true"));
    assert_eq!(child(*pothole, "type"), Some("realtime"));
    assert_eq!(child(*pothole, "keywords"), Some("坑, 路面"));
    assert_eq!(child(*pothole, "group"), Some("道路"));
    let (_, _, body) = get(&app, "services.json").await;
    let list: Value = serde_json::from_str(&body).expect("json");
    let water = list
        .as_array()
        .expect("a list")
        .iter()
        .find(|s| s["service_code"] == "water.outage")
        .expect("water");
    assert_eq!(water["metadata"], false);
    assert_eq!(water["group"], Value::Null);

    // the definition, and the singular alias some clients use
    for path in ["services/roads.pothole.xml", "service/roads.pothole.xml"] {
        let (status, _, body) = get(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let doc = xml(&body);
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "service_definition");
        assert_eq!(child(root, "service_code"), Some("roads.pothole"));
        let attrs: Vec<_> = root
            .children()
            .find(|c| c.has_tag_name("attributes"))
            .map(elements)
            .expect("attributes");
        assert_eq!(attrs.len(), 3);
        let size = attrs[0];
        assert!(size.has_tag_name("attribute"));
        assert_eq!(child(size, "variable"), Some("true"));
        assert_eq!(child(size, "code"), Some("SIZE"));
        assert_eq!(child(size, "datatype"), Some("singlevaluelist"));
        assert_eq!(child(size, "required"), Some("true"));
        assert_eq!(child(size, "order"), Some("1"));
        assert_eq!(child(size, "description"), Some("坑有多大？"));
        let values: Vec<(Option<&str>, Option<&str>)> = size
            .children()
            .find(|c| c.has_tag_name("values"))
            .map(elements)
            .expect("values")
            .into_iter()
            .map(|v| (child(v, "key"), child(v, "name")))
            .collect();
        assert_eq!(values, [(Some("s"), Some("小")), (Some("l"), Some("大"))]);
    }
    let (_, _, body) = get(&app, "services/roads.pothole.json").await;
    let def: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(def["attributes"][1]["datatype"], "number");
    assert_eq!(def["attributes"][1]["required"], false);
    assert_eq!(
        def["attributes"][2]["values"][1],
        json!({"key": "2", "name": "二车道"})
    );

    // errors in the suffix's format, with the spec's codes
    let (status, ct, body) = get(&app, "services/nope.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(ct.starts_with("application/json"));
    let e: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(e[0]["code"], 404);
    assert!(e[0]["description"]
        .as_str()
        .is_some_and(|d| d.contains("nope")));
    let (status, _, body) = get(&app, "no/such/thing.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(serde_json::from_str::<Value>(&body).is_ok_and(|v| v[0]["code"] == 404));
    let (status, ct, body) = get(&app, "services/nope.xml").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(ct.starts_with("text/xml"));
    let doc = xml(&body);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "errors");
    let error = elements(root)[0];
    assert!(error.has_tag_name("error"));
    assert_eq!(child(error, "code"), Some("404"));
    // an empty parameter is no parameter; unknown ones are ignored
    let (status, _, _) = get(&app, "services.json?jurisdiction_id=&foo=bar").await;
    assert_eq!(status, StatusCode::OK);
}

/// Every body read through Open311 in a test, to search for personal data afterwards.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    async fn get(&mut self, app: &TestApp, path: &str) -> (StatusCode, String) {
        let (status, _, body) = get(app, path).await;
        self.0.push(body.clone());
        (status, body)
    }

    async fn post(
        &mut self,
        app: &TestApp,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let (status, body) = post_form(app, path, form).await;
        self.0.push(body.clone());
        (status, body)
    }

    fn assert_nothing_personal(&self, secrets: &[&str]) {
        for body in &self.0 {
            for secret in secrets {
                assert!(!body.contains(secret), "'{secret}' leaked in {body}");
            }
        }
    }
}

async fn a_request_goes_round_the_loop_and_reads_back_closed(app: TestApp) {
    let o = org(&app).await;
    let key = open311_client(&app, &o.admin, json!(["open311:submit"])).await;
    let mut seen = Seen::default();
    let (status, body) = seen
        .post(
            &app,
            "requests.json",
            &[
                ("api_key", key.as_str()),
                ("service_code", "water.outage"),
                ("address_string", "幸福小区3号楼"),
                ("lat", "36.8812345"),
                ("long", "118.7354321"),
                ("first_name", "四"),
                ("last_name", "李"),
                ("phone", "13912345678"),
                ("email", "lisi@example.com"),
                ("device_id", "device-42"),
                ("account_id", "acct-7"),
                ("description", "3号楼停水两天了，电话13912345678"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let created: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(created.as_array().map(Vec::len), Some(1), "a list of one");
    let number = created[0]["service_request_id"]
        .as_str()
        .expect("id")
        .to_string();
    let token = created[0]["token"].as_str().expect("token").to_string();
    assert_eq!(created[0]["account_id"], Value::Null);

    // the token resolves to the request
    let (status, body) = seen.get(&app, &format!("tokens/{token}.json")).await;
    assert_eq!(status, StatusCode::OK);
    let t: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(t[0]["service_request_id"], number.as_str());
    assert_eq!(t[0]["token"], token.as_str());

    // the operators see it in the dispatch queue, on the open311 channel
    let queue = app
        .get("/api/v1/tickets?queue=dispatch", Some(&o.dispatcher))
        .await
        .json_ok()
        .await;
    let ticket = queue["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|t| t["number"] == number.as_str())
        .cloned()
        .expect("the request in the dispatch queue");
    assert_eq!(ticket["channel"], "open311");

    let (status, body) = seen.get(&app, &format!("requests/{number}.xml")).await;
    assert_eq!(status, StatusCode::OK);
    let doc = xml(&body);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "service_requests");
    let requests = elements(root);
    assert_eq!(requests.len(), 1);
    let r = requests[0];
    assert!(r.has_tag_name("request"));
    let names: Vec<&str> = elements(r).iter().map(|c| c.tag_name().name()).collect();
    assert_eq!(
        names,
        [
            "service_request_id",
            "status",
            "status_notes",
            "service_name",
            "service_code",
            "description",
            "agency_responsible",
            "service_notice",
            "requested_datetime",
            "updated_datetime",
            "expected_datetime",
            "address",
            "address_id",
            "zipcode",
            "lat",
            "long",
            "media_url"
        ]
    );
    assert_eq!(child(r, "status"), Some("open"));
    assert_eq!(child(r, "service_code"), Some("water.outage"));
    assert_eq!(child(r, "service_name"), Some("停水"));
    // coordinates rounded to about 100 m
    assert_eq!(child(r, "lat"), Some("36.881"));
    assert_eq!(child(r, "long"), Some("118.735"));
    let requested = child(r, "requested_datetime").expect("requested");
    assert!(
        chrono::DateTime::parse_from_rfc3339(requested).is_ok() && requested.ends_with("+08:00"),
        "{requested}"
    );

    // dispatched, signed, replied, called back: closed, with the reply in status_notes
    let ticket = act(
        &app,
        &o.dispatcher,
        &ticket,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    let ticket = act(&app, &o.water_staff, &ticket, "sign", json!({})).await;
    let ticket = act(
        &app,
        &o.water_staff,
        &ticket,
        "public_note",
        json!({"text": "维修人员已到场"}),
    )
    .await;
    let (_, body) = seen.get(&app, &format!("requests/{number}.json")).await;
    let open: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(open[0]["status"], "open");
    assert_eq!(open[0]["status_notes"], "维修人员已到场");
    assert_eq!(open[0]["agency_responsible"], "Dept WATER");
    assert!(open[0]["expected_datetime"].as_str().is_some(), "{open}");
    let ticket = act(
        &app,
        &o.water_staff,
        &ticket,
        "reply",
        json!({"reply": "管道已修复，恢复供水"}),
    )
    .await;
    call_back(&app, &o.operator, &ticket, "satisfied", true).await;
    let (_, body) = seen.get(&app, &format!("requests/{number}.json")).await;
    let closed: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(closed.as_array().map(Vec::len), Some(1), "a list of one");
    assert_eq!(closed[0]["status"], "closed");
    assert_eq!(closed[0]["status_notes"], "管道已修复，恢复供水");

    // listed with filters; the extension adds the public history
    let (_, body) = seen
        .get(
            &app,
            "requests.json?service_code=water.outage&status=closed&extensions=true&jurisdiction_id=",
        )
        .await;
    let list: Value = serde_json::from_str(&body).expect("json");
    let mine = list
        .as_array()
        .expect("list")
        .iter()
        .find(|r| r["service_request_id"] == number.as_str())
        .expect("listed");
    let history = mine["extended_attributes"]["status_history"]
        .as_array()
        .expect("history");
    assert!(history.iter().any(|h| h["note"] == "维修人员已到场"));
    assert!(history.iter().any(|h| h["status"] == "closed"));
    let (_, body) = seen.get(&app, "requests.json?status=open").await;
    let open: Value = serde_json::from_str(&body).expect("json");
    assert!(!open
        .as_array()
        .expect("list")
        .iter()
        .any(|r| r["service_request_id"] == number.as_str()));

    // confidential tickets and reports are never listed
    let mut confidential = hotline_call(&o.category);
    confidential["confidential"] = json!(true);
    let secret = new_ticket(&app, &o.operator, confidential).await;
    let mut report = hotline_call(&o.category);
    report["kind"] = json!("report");
    let report = new_ticket(&app, &o.operator, report).await;
    let (_, body) = seen.get(&app, "requests.json").await;
    let all: Value = serde_json::from_str(&body).expect("json");
    let listed: Vec<&str> = all
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["service_request_id"].as_str())
        .collect();
    assert!(listed.contains(&number.as_str()));
    for hidden in [&secret, &report] {
        let n = hidden["number"].as_str().expect("number");
        assert!(!listed.contains(&n), "{n} listed");
        let (status, _) = seen.get(&app, &format!("requests/{n}.json")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (_, body) = seen.get(&app, "requests.xml?page=1&page_size=1").await;
    assert_eq!(elements(xml(&body).root_element()).len(), 1);

    // nothing personal in anything Open311 answered
    seen.assert_nothing_personal(&[
        "李四",
        "13912345678",
        "lisi@example.com",
        "device-42",
        "acct-7",
        "张三丰",
        "13812345678",
    ]);
}

async fn submissions_are_checked_like_the_spec_says(app: TestApp) {
    let o = org(&app).await;
    catalogue(&app, &o).await;
    let key = open311_client(&app, &o.admin, json!(["open311:submit"])).await;
    let other = open311_client(&app, &o.admin, json!(["tickets:submit"])).await;
    let base = [
        ("service_code", "roads.pothole"),
        ("address_string", "人民路"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut f: Vec<(&str, &str)> = base.to_vec();
        f.extend_from_slice(extra);
        f
    };
    let code_of = |body: &str| -> i64 {
        let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        v[0]["code"].as_i64().expect("code")
    };
    // no key, a bad key, a key without the scope: 403
    let (status, body) = post_form(&app, "requests.json", &with(&[("attribute[SIZE]", "s")])).await;
    assert_eq!((status, code_of(&body)), (StatusCode::FORBIDDEN, 403));
    let (status, _) = post_form(
        &app,
        "requests.json",
        &with(&[("api_key", "hk_nope"), ("attribute[SIZE]", "s")]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut f = with(&[("attribute[SIZE]", "s")]);
    f.push(("api_key", other.as_str()));
    let (status, _) = post_form(&app, "requests.json", &f).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // a required attribute missing, a bad number, an unknown list key, an unknown attribute,
    // no location, no service: 400, in XML for an .xml request
    for (extra, what) in [
        (vec![], "SIZE"),
        (
            vec![("attribute[SIZE]", "s"), ("attribute[DEPTH]", "deep")],
            "DEPTH",
        ),
        (vec![("attribute[SIZE]", "huge")], "SIZE"),
        (
            vec![("attribute[SIZE]", "s"), ("attribute[COLOUR]", "red")],
            "COLOUR",
        ),
    ] {
        let mut f = with(&extra);
        f.push(("api_key", key.as_str()));
        let (status, body) = post_form(&app, "requests.xml", &f).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let doc = xml(&body);
        let error = elements(doc.root_element())[0];
        assert_eq!(child(error, "code"), Some("400"));
        assert!(
            child(error, "description").is_some_and(|d| d.contains(what)),
            "{body}"
        );
    }
    let (status, _) = post_form(
        &app,
        "requests.json",
        &[
            ("api_key", key.as_str()),
            ("service_code", "roads.pothole"),
            ("attribute[SIZE]", "s"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no location");
    let (status, _) = post_form(
        &app,
        "requests.json",
        &[("api_key", key.as_str()), ("address_string", "人民路")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no service");
    // typed answers: a number, a multi-value list; the key may come in the query string
    let (status, body) = post_form(
        &app,
        &format!("requests.json?api_key={key}"),
        &with(&[
            ("attribute[SIZE]", "l"),
            ("attribute[DEPTH]", "12.5"),
            ("attribute[LANES][]", "1"),
            ("attribute[LANES][]", "2"),
            ("description", "人民路中段有个大坑"),
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let number = serde_json::from_str::<Value>(&body).expect("json")[0]["service_request_id"]
        .as_str()
        .expect("id")
        .to_string();
    let found = app
        .get(
            &format!("/api/v1/tickets?number={number}"),
            Some(&o.operator),
        )
        .await
        .json_ok()
        .await;
    let ticket = &found["items"][0];
    assert_eq!(ticket["attributes"]["DEPTH"], 12.5, "{found}");
    assert_eq!(ticket["attributes"]["LANES"], json!(["1", "2"]));
    // a retry with the same device and key answers the same request
    let retry = |app: &TestApp| {
        let req = app
            .client
            .post(app.url("/open311/v2/requests.json"))
            .header("Idempotency-Key", "submit-1")
            .form(&[
                ("api_key", key.as_str()),
                ("service_code", "water.outage"),
                ("address_string", "幸福小区"),
                ("device_id", "phone-9"),
                ("description", "又停水了"),
            ]);
        async move {
            let res = req.send().await.expect("request");
            let v: Value = res.json().await.expect("json");
            v[0]["service_request_id"].as_str().expect("id").to_string()
        }
    };
    let first = retry(&app).await;
    let second = retry(&app).await;
    assert_eq!(first, second);
    // GET requests: the 90-day rule, a bad status, a bad date
    for bad in [
        "requests.json?start_date=2025-01-01T00:00:00Z&end_date=2025-06-01T00:00:00Z",
        "requests.json?status=pending",
        "requests.json?start_date=yesterday",
        "requests.json?bbox=1,2,3",
    ] {
        let (status, _, body) = get(&app, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(code_of(&body), 400);
    }
    // an api_key on a GET is ignored
    let (status, _, _) = get(&app, "requests.json?api_key=whatever").await;
    assert_eq!(status, StatusCode::OK);
}

async fn a_client_written_to_the_spec_creates_and_lists(app: TestApp) {
    let o = org(&app).await;
    let key = open311_client(&app, &o.admin, json!(["open311:submit"])).await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/open311/client.py");
    let base = app.url("");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .arg(base)
            .arg(key)
            .arg("water.outage")
            .output()
    })
    .await
    .expect("join")
    .expect("python3 runs");
    assert!(
        out.status.success(),
        "the spec client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("summary");
    assert_eq!(summary["statuses"], json!(["open", "open"]));
    // both reached the operators
    let queue = app
        .get("/api/v1/tickets?queue=dispatch", Some(&o.dispatcher))
        .await
        .json_ok()
        .await;
    let numbers: Vec<&str> = queue["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["number"].as_str())
        .collect();
    for n in [&summary["form"], &summary["multipart"]] {
        assert!(numbers.contains(&n.as_str().expect("number")), "{n}");
    }
}
