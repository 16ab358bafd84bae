//! `/console/`: the web console (docs/console.md), a client of the public REST API. Its files are
//! plain HTML, CSS and JavaScript modules under `src/console/`, embedded in the binary: it works
//! offline (no CDN) and needs no front-end build step.

use actix_web::{get, web, HttpResponse};

const INDEX: &str = include_str!("../console/index.html");
const APP_JS: &str = include_str!("../console/app.js");
const I18N_JS: &str = include_str!("../console/i18n.js");
const APP_CSS: &str = include_str!("../console/app.css");

/// Only this origin: the console's own files and the API; photos as blob URLs.
const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

#[get("/console")]
pub async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/console/"))
        .finish()
}

#[get("/console/{file:.*}")]
pub async fn files(file: web::Path<String>) -> HttpResponse {
    let (body, content_type) = match file.as_str() {
        "" | "index.html" => (INDEX, "text/html; charset=utf-8"),
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "i18n.js" => (I18N_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        _ => {
            return HttpResponse::NotFound()
                .content_type("text/plain; charset=utf-8")
                .body("not found")
        }
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Content-Security-Policy", CONSOLE_CSP))
        .insert_header(("Cache-Control", "no-cache"))
        .body(body)
}
