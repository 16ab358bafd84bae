//! The message templates: files under config/templates/ (compiled in), each replaceable by a file
//! of the same name in `notifications.templates_dir`. Rendered with minijinja (Jinja2 syntax, no
//! auto-escaping for `.txt`); parsed and test-rendered once at start, so a broken template stops
//! the start instead of every message.

use std::path::Path;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::Environment;
use serde_json::{json, Value};

use crate::config::ConfigError;

/// The e-mail templates: `email/<name>.subject.txt` and `email/<name>.body.txt`.
pub const EMAIL_TEMPLATES: &[&str] = &[
    "ticket_assigned",
    "deadline_yellow",
    "deadline_red",
    "daily_digest",
    "supervision_flagged",
];

const BUILTIN: &[(&str, &str)] = &[
    (
        "email/_labels.txt",
        include_str!("../../config/templates/email/_labels.txt"),
    ),
    (
        "email/ticket_assigned.subject.txt",
        include_str!("../../config/templates/email/ticket_assigned.subject.txt"),
    ),
    (
        "email/ticket_assigned.body.txt",
        include_str!("../../config/templates/email/ticket_assigned.body.txt"),
    ),
    (
        "email/deadline_yellow.subject.txt",
        include_str!("../../config/templates/email/deadline_yellow.subject.txt"),
    ),
    (
        "email/deadline_yellow.body.txt",
        include_str!("../../config/templates/email/deadline_yellow.body.txt"),
    ),
    (
        "email/deadline_red.subject.txt",
        include_str!("../../config/templates/email/deadline_red.subject.txt"),
    ),
    (
        "email/deadline_red.body.txt",
        include_str!("../../config/templates/email/deadline_red.body.txt"),
    ),
    (
        "email/daily_digest.subject.txt",
        include_str!("../../config/templates/email/daily_digest.subject.txt"),
    ),
    (
        "email/daily_digest.body.txt",
        include_str!("../../config/templates/email/daily_digest.body.txt"),
    ),
    (
        "email/supervision_flagged.subject.txt",
        include_str!("../../config/templates/email/supervision_flagged.subject.txt"),
    ),
    (
        "email/supervision_flagged.body.txt",
        include_str!("../../config/templates/email/supervision_flagged.body.txt"),
    ),
];

/// A rendered e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Templates {
    /// The built-in templates, each replaced by `<dir>/<name>` where that file exists; times
    /// shown in `tz`; `link_base` available to every template.
    pub fn load(dir: &str, tz: Tz, link_base: &str) -> Result<Templates, ConfigError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        for (name, builtin) in BUILTIN {
            let source = match (!dir.is_empty()).then(|| Path::new(dir).join(name)) {
                Some(path) if path.exists() => std::fs::read_to_string(&path).map_err(|e| {
                    ConfigError(format!(
                        "notifications.templates_dir: cannot read {}: {e}",
                        path.display()
                    ))
                })?,
                _ => (*builtin).to_string(),
            };
            env.add_template_owned(name.to_string(), source)
                .map_err(|e| ConfigError(format!("template {name}: {e}")))?;
        }
        env.add_global("link_base", link_base.trim_end_matches('/').to_string());
        env.add_filter("local", move |value: String| local_time(&value, tz));
        let templates = Templates { env };
        for name in EMAIL_TEMPLATES {
            templates
                .email(name, &sample_context())
                .map_err(|e| ConfigError(format!("template {name}: {e}")))?;
        }
        Ok(templates)
    }

    /// Renders e-mail `name` (subject on one line, body) with `context`.
    pub fn email(&self, name: &str, context: &Value) -> Result<Rendered, String> {
        let render = |part: &str| -> Result<String, String> {
            let template = self
                .env
                .get_template(&format!("email/{name}.{part}.txt"))
                .map_err(|e| format!("no template {name}.{part}: {e}"))?;
            template
                .render(context)
                .map_err(|e| format!("template {name}.{part}: {e}"))
        };
        let subject = render("subject")?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Rendered {
            subject,
            body: render("body")?,
        })
    }
}

/// `2026-11-24T02:36:00Z` → `2026-11-24 10:36` in `tz`; anything else unchanged.
fn local_time(value: &str, tz: Tz) -> String {
    match value.parse::<DateTime<Utc>>() {
        Ok(t) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        Err(_) => value.to_string(),
    }
}

/// A context with every field the built-in templates use (the start-up check).
fn sample_context() -> Value {
    let ticket = json!({"id": "t", "number": "20261124-0001", "title": "停水", "kind": "help",
        "urgency": "normal", "status": "dispatched", "step": "handle",
        "due_at": "2026-11-24T02:36:00Z"});
    json!({
        "ticket": ticket, "department": {"name": "自来水公司", "code": "water"},
        "deadlines": [{"step": "sign", "due_at": "2026-11-24T02:36:00Z"}],
        "warning": {"step": "sign", "level": "red", "due_at": "2026-11-24T02:36:00Z"},
        "flag": {"level": "prominent", "instruction": "三日内答复", "due_at": "2026-11-24T02:36:00Z"},
        "date": "2026-11-24", "time": "08:00", "overdue": [ticket], "soon": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_chinese_with_local_times() {
        let t = Templates::load("", chrono_tz::Asia::Shanghai, "https://hotline.example/")
            .expect("built-in templates");
        let r = t.email("deadline_red", &sample_context()).expect("render");
        assert_eq!(r.subject, "【12345热线】已超期：工单 20261124-0001 停水");
        assert!(r.body.contains("签收时限：2026-11-24 10:36"), "{}", r.body);
        assert!(r.body.contains("https://hotline.example/api/v1/tickets/t"));
        assert!(r.body.contains("红色预警"));
    }

    #[test]
    fn a_file_in_the_directory_replaces_the_built_in_one() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("email")).expect("mkdir");
        std::fs::write(
            dir.path().join("email/deadline_red.subject.txt"),
            "RED {{ ticket.number }}",
        )
        .expect("write");
        let t = Templates::load(
            &dir.path().to_string_lossy(),
            chrono_tz::Asia::Shanghai,
            "http://x",
        )
        .expect("templates");
        let r = t.email("deadline_red", &sample_context()).expect("render");
        assert_eq!(r.subject, "RED 20261124-0001");
        std::fs::write(dir.path().join("email/deadline_red.body.txt"), "{% if %}").expect("write");
        let broken = Templates::load(
            &dir.path().to_string_lossy(),
            chrono_tz::Asia::Shanghai,
            "http://x",
        );
        assert!(broken.is_err());
    }
}
