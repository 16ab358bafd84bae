//! `/open311/v2/...`: Open311 GeoReport v2 in XML and JSON (docs/open311.md). One GET and one
//! POST route take every path under the prefix, so that an unknown path still answers the
//! specification's error document in the format its suffix asks for (never an HTML or a JSON
//! error of the rest of the API).

use actix_multipart::Multipart;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use crate::db;
use crate::error::AppError;
use crate::open311::render::{render, Format, Node};
use crate::open311::{self, Open311Error, Params};
use crate::state::AppState;
use crate::tickets::attachments::Upload;
use crate::tickets::model::{CitizenInput, NewTicket};
use crate::vocab::Channel;

fn respond(format: Format, status: u16, root: &'static str, node: &Node) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type(format.content_type())
        .body(render(root, node, format))
}

fn error(format: Format, e: Open311Error) -> HttpResponse {
    respond(format, e.code, "errors", &e.node())
}

fn query_params(req: &HttpRequest) -> Params {
    Params(
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    )
}

/// Runs a database use-case and renders its document (or its error).
async fn answer<F>(state: &AppState, format: Format, root: &'static str, f: F) -> HttpResponse
where
    F: FnMut(&mut crate::db::DbConnection) -> Result<Node, Open311Error> + Send + 'static,
{
    let mut f = f;
    let result = db::run(&state.pool, move |c| Ok(f(c))).await;
    match result {
        Ok(Ok(node)) => respond(format, 200, root, &node),
        Ok(Err(e)) => error(format, e),
        Err(e) => error(format, e.into()),
    }
}

#[utoipa::path(tag = "open311",
    params(("tail" = String, Path, description = "`discovery.{fmt}`, `services.{fmt}`, `services/{service_code}.{fmt}` (alias `service/...`), `requests.{fmt}`, `requests/{service_request_id}.{fmt}`, `tokens/{token}.{fmt}`, `media/{id}`; `fmt` is `xml` or `json`")),
    responses(
        (status = 200, description = "The GeoReport v2 document in the suffix's format (docs/open311.md)", content_type = "text/xml"),
        (status = 400, description = "A missing or invalid parameter: `<errors><error><code/><description/></error></errors>` or `[{\"code\", \"description\"}]`"),
        (status = 404, description = "An unknown service, request, token or path, in the suffix's format"),
    ))]
#[get("/open311/v2/{tail:.*}")]
pub async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    tail: web::Path<String>,
) -> HttpResponse {
    let tail = tail.into_inner();
    if let Some(id) = tail.strip_prefix("media/") {
        return media(&state, id.to_string()).await;
    }
    let (stem, format) = Format::split(&tail);
    let format = format.unwrap_or(Format::Xml);
    let params = query_params(&req);
    if let Err(e) = params.check_jurisdiction(&state.settings.open311) {
        return error(format, e);
    }
    let mut settings = state.settings.open311.clone();
    if settings.base_url.is_empty() {
        // not configured: the address the client used
        let info = req.connection_info();
        settings.base_url = format!("{}://{}", info.scheme(), info.host());
    }
    let tz = state.calendar.time_zone();
    let parts: Vec<String> = stem.split('/').map(str::to_string).collect();
    match parts.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["discovery"] => respond(format, 200, "discovery", &open311::discovery(&settings)),
        ["services"] => {
            answer(&state, format, "services", move |c| {
                Ok(open311::services(c, &settings)?)
            })
            .await
        }
        ["services", code] | ["service", code] => {
            let code = code.to_string();
            answer(&state, format, "service_definition", move |c| {
                open311::definition(c, &settings, &code)
            })
            .await
        }
        ["requests"] => {
            let now = state.clock.now();
            answer(&state, format, "service_requests", move |c| {
                open311::requests(c, &settings, tz, now, &params)
            })
            .await
        }
        ["requests", id] => {
            let id = id.to_string();
            let extensions = params.get("extensions") == Some("true");
            answer(&state, format, "service_requests", move |c| {
                open311::request(c, &settings, tz, &id, extensions)
            })
            .await
        }
        ["tokens", token] => {
            let token = token.to_string();
            answer(&state, format, "service_requests", move |c| {
                open311::token(c, &token)
            })
            .await
        }
        _ => error(
            format,
            Open311Error::new(404, format!("no resource /open311/v2/{tail}")),
        ),
    }
}

/// A citizen's photo sent with a request (the `media_url` of the request).
async fn media(state: &AppState, id: String) -> HttpResponse {
    let found = db::run(&state.pool, move |c| Ok(open311::media(c, &id))).await;
    let (sha, content_type) = match found {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return error(Format::Xml, e),
        Err(e) => return error(Format::Xml, e.into()),
    };
    let path = crate::tickets::attachments::blob_path(&state.settings.data_dir, &sha);
    match web::block(move || std::fs::read(path)).await {
        Ok(Ok(bytes)) => HttpResponse::Ok()
            .content_type(content_type)
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .body(bytes),
        _ => error(Format::Xml, Open311Error::new(404, "media file not found")),
    }
}

#[utoipa::path(tag = "open311",
    params(("tail" = String, Path, description = "`requests.xml` or `requests.json`")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`api_key`, `service_code`, `lat`/`long` or `address_string` or `address_id`, `attribute[CODE]`, `description`, ...; or multipart/form-data with a `media` file"),
    responses(
        (status = 201, description = "`[{\"service_request_id\", \"token\", \"service_notice\", \"account_id\"}]` (XML: `<service_requests><request>...`)"),
        (status = 400, description = "A missing or invalid field"),
        (status = 403, description = "No or a bad `api_key`, or one without scope `open311:submit`"),
    ))]
#[post("/open311/v2/{tail:.*}")]
pub async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    tail: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let tail = tail.into_inner();
    let (stem, format) = Format::split(&tail);
    let format = format.unwrap_or(Format::Xml);
    if stem != "requests" {
        return error(
            format,
            Open311Error::new(404, format!("no resource /open311/v2/{tail} to POST to")),
        );
    }
    match create(&state, &req, payload).await {
        Ok(node) => respond(format, 201, "service_requests", &node),
        Err(e) => error(format, e),
    }
}

/// The fields and the `media` file of a form-encoded or multipart body; the query string's
/// fields come after the body's (an `api_key` may be sent in either).
async fn read_form(
    state: &AppState,
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<(Params, Option<Upload>), Open311Error> {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let max = state.settings.tickets.attachment_max_bytes;
    let mut fields = Vec::new();
    let mut upload = None;
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::new(req.headers(), payload);
        while let Some(field) = multipart.next().await {
            let mut field = field.map_err(|e| Open311Error::new(400, format!("multipart: {e}")))?;
            let (name, filename) = match field.content_disposition() {
                Some(d) => (
                    d.get_name().unwrap_or_default().to_string(),
                    d.get_filename().map(str::to_string),
                ),
                None => continue,
            };
            let limit = if filename.is_some() { max } else { 64 * 1024 };
            let mut bytes = Vec::new();
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(|e| Open311Error::new(400, format!("multipart: {e}")))?;
                if bytes.len() + chunk.len() > limit {
                    return Err(Open311Error::new(
                        413,
                        format!("{name}: larger than {limit} bytes"),
                    ));
                }
                bytes.extend_from_slice(&chunk);
            }
            match filename {
                Some(filename) if name == "media" => {
                    if !bytes.is_empty() {
                        upload = Some(Upload { filename, bytes });
                    }
                }
                Some(_) => {}
                None => fields.push((
                    name,
                    String::from_utf8(bytes)
                        .map_err(|_| Open311Error::new(400, "form fields must be UTF-8"))?,
                )),
            }
        }
    } else {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| Open311Error::new(400, format!("body: {e}")))?;
            if body.len() + chunk.len() > 256 * 1024 {
                return Err(Open311Error::new(413, "the form is larger than 256 KiB"));
            }
            body.extend_from_slice(&chunk);
        }
        fields.extend(
            url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())),
        );
    }
    fields.extend(query_params(req).0);
    Ok((Params(fields), upload))
}

async fn create(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Node, Open311Error> {
    let (params, upload) = read_form(state, req, payload).await?;
    params.check_jurisdiction(&state.settings.open311)?;
    let key = params
        .get("api_key")
        .map(str::to_string)
        .ok_or_else(|| Open311Error::new(403, "api_key: required to create a request"))?;
    let now = state.clock.now();
    let client = db::run(&state.pool, move |c| {
        crate::accounts::api_clients::authenticate(c, &key, now)
    })
    .await
    .map_err(|e| match e {
        AppError::Unauthorized { .. } => Open311Error::new(403, "api_key: not valid"),
        other => other.into(),
    })?;
    if !client.scopes.contains(&crate::auth::Scope::Open311Submit) {
        return Err(Open311Error::new(
            403,
            "api_key: this client may not submit Open311 requests (scope open311:submit)",
        ));
    }
    if let Some(media) = &upload {
        if crate::tickets::attachments::sniff(&media.bytes).is_none() {
            return Err(Open311Error::new(
                400,
                "media: not a JPEG, PNG, GIF, WebP image or a PDF",
            ));
        }
    }
    let settings = state.settings.open311.clone();
    let policy = state.tickets.clone();
    let data_dir = state.settings.data_dir.clone();
    let per_ticket = state.settings.tickets.attachments_per_ticket;
    let idempotency = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let created = db::run_once(&state.pool, move |c| {
        Ok(submit(
            c,
            &settings,
            &client,
            &policy,
            &params,
            idempotency,
            upload,
            &data_dir,
            per_ticket,
            now,
        ))
    })
    .await
    .map_err(Open311Error::from)??;
    Ok(created)
}

/// Builds the ticket from the form and takes it in (with its photo) in one transaction.
#[allow(clippy::too_many_arguments)]
fn submit(
    conn: &mut crate::db::DbConnection,
    settings: &open311::Open311Settings,
    client: &crate::auth::ApiClientPrincipal,
    policy: &crate::tickets::TicketPolicy,
    params: &Params,
    idempotency: Option<String>,
    upload: Option<Upload>,
    data_dir: &std::path::Path,
    per_ticket: usize,
    now: chrono::NaiveDateTime,
) -> Result<Node, Open311Error> {
    let (category_id, service_name, definitions) =
        open311::submission_service(conn, settings, params.get("service_code"))?;
    let attributes = open311::answers(&definitions, params)?;
    let lat = parse_coordinate(params, "lat")?;
    let lng = parse_coordinate(params, "long")?;
    if lat.is_some() != lng.is_some() {
        return Err(Open311Error::new(400, "lat and long: send both or neither"));
    }
    let region_id = match params.get("address_id") {
        Some(a) => Some(open311::region_of(conn, a)?),
        None => None,
    };
    let address = params.get("address_string").map(str::to_string);
    if lat.is_none() && region_id.is_none() && address.is_none() {
        return Err(Open311Error::new(
            400,
            "a location is required: lat and long, address_string or address_id",
        ));
    }
    let mut description = params
        .get("description")
        .map(str::to_string)
        .unwrap_or_else(|| service_name.clone());
    if let Some(url) = params.get("media_url") {
        description.push_str(&format!("\n（照片链接：{url}）"));
    }
    let title: String = format!(
        "{service_name}：{}",
        description.lines().next().unwrap_or_default()
    )
    .chars()
    .take(60)
    .collect();
    let name = [params.get("last_name"), params.get("first_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("");
    let input = NewTicket {
        channel: Some(Channel::Open311),
        kind: None,
        urgency: None,
        category_id: Some(crate::ids::CategoryId(category_id)),
        attributes: Some(attributes),
        region_id: region_id.map(crate::ids::RegionId),
        lat,
        lng,
        address,
        title,
        description,
        citizen: Some(CitizenInput {
            name: (!name.is_empty()).then_some(name),
            phone: params.get("phone").map(str::to_string),
            address: None,
            open_id: None,
            anonymous: false,
        }),
        confidential: false,
        call: None,
    };
    // retries of one submission: the device and the client's own key, when given
    let key = idempotency
        .as_deref()
        .or(params.get("idempotency_key"))
        .map(|k| format!("open311:{}:{k}", params.get("device_id").unwrap_or("-")));
    crate::db::write_tx(conn, |conn| {
        let (row, created) = crate::tickets::submit_as_client(
            conn,
            client,
            policy,
            Channel::Open311,
            key.as_deref(),
            input,
            now,
        )?;
        if let (Some(media), true) = (upload, created) {
            let viewer = crate::tickets::Viewer::for_client(client, policy, now);
            crate::tickets::attachments::attach(
                conn,
                &viewer,
                &crate::ids::TicketId(row.id.clone()),
                vec![media],
                data_dir,
                per_ticket,
                now,
            )?;
        }
        Ok((row.number, row.id))
    })
    .map_err(Open311Error::from)
    .map(|(number, id)| {
        Node::List(
            "request",
            vec![Node::Obj(vec![
                ("service_request_id", Node::text(number)),
                ("token", Node::text(id)),
                (
                    "service_notice",
                    Node::text("已受理，我们将在办理时限内答复。"),
                ),
                ("account_id", Node::Null),
            ])],
        )
    })
}

fn parse_coordinate(params: &Params, name: &str) -> Result<Option<f64>, Open311Error> {
    params
        .get(name)
        .map(|v| {
            v.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| Open311Error::new(400, format!("{name}: expected a number")))
        })
        .transpose()
}
