//! Field rules shared by the use-cases; each message starts with the field's name.

use serde_json::Value;

use crate::error::AppError;

/// The longest string any JSON body may carry (the longest field, a description, is 4,000
/// characters; region geometries are arrays, not strings). Each field has its own, lower limit.
pub const MAX_STRING_CHARS: usize = 20_000;
/// The longest value of one query parameter.
pub const MAX_QUERY_VALUE_CHARS: usize = 1_000;

/// The rule for every string the API accepts: no NUL character (PostgreSQL cannot store one,
/// and no legitimate text has one), no control characters other than tab and line breaks, and
/// at most `max` characters.
pub fn text_ok(value: &str, max: usize) -> Result<(), String> {
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err("control characters (such as NUL) are not accepted".into());
    }
    if value.chars().count() > max {
        return Err(format!("at most {max} characters"));
    }
    Ok(())
}

/// Checks every string (keys too) of a JSON document against [`text_ok`], naming the path.
pub fn json_strings(value: &Value) -> Result<(), AppError> {
    fn walk(value: &Value, path: &mut String) -> Result<(), AppError> {
        let refuse = |path: &str, why: String| AppError::Validation {
            code: "invalid_body",
            message: format!("{}: {why}", if path.is_empty() { "body" } else { path }),
        };
        match value {
            Value::String(s) => text_ok(s, MAX_STRING_CHARS).map_err(|why| refuse(path, why)),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(item, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            Value::Object(map) => {
                for (key, item) in map {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(&key.chars().take(64).collect::<String>());
                    text_ok(key, 200).map_err(|why| refuse(path, format!("field name: {why}")))?;
                    walk(item, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    walk(value, &mut String::new())
}

/// Identifiers from other systems (a call id from the switch, a WeChat open id): 1–`max` of
/// letters, digits, `.`, `_`, `-`, `:`, `@`.
pub fn external_id(field: &str, value: &str, max: usize) -> Result<(), AppError> {
    let ok = !value.is_empty()
        && value.chars().count() <= max
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AppError::validation(format!(
            "{field}: 1-{max} letters, digits, '.', '_', '-', ':' or '@'"
        )))
    }
}

/// Stable codes of departments, regions, categories: 1–64 of letters, digits, `.`, `_`, `-`.
pub fn code(field: &str, value: &str) -> Result<(), AppError> {
    let ok = (1..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(AppError::validation(format!(
            "{field}: '{value}' must be 1-64 letters, digits, '.', '_' or '-'"
        )))
    }
}

/// Display names: 1–`max` characters, not blank.
pub fn name(field: &str, value: &str, max: usize) -> Result<(), AppError> {
    if value.trim().is_empty() || text_ok(value, max).is_err() {
        return Err(AppError::validation(format!(
            "{field}: 1-{max} characters, not blank"
        )));
    }
    Ok(())
}

pub fn email(field: &str, value: &str) -> Result<(), AppError> {
    let valid = value.len() <= 254
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !value.contains(char::is_whitespace);
    if valid {
        Ok(())
    } else {
        Err(AppError::validation(format!(
            "{field}: '{value}' is not an e-mail address"
        )))
    }
}

/// A phone number, normalised to its stored form (see `crate::phone`).
pub fn phone(field: &str, value: &str) -> Result<crate::phone::Phone, AppError> {
    crate::phone::parse(value).map_err(|e| AppError::validation(format!("{field}: {e}")))
}

pub fn latitude(field: &str, value: f64) -> Result<(), AppError> {
    if value.is_finite() && (-90.0..=90.0).contains(&value) {
        Ok(())
    } else {
        Err(AppError::validation(format!(
            "{field}: {value} is not a latitude (-90..90)"
        )))
    }
}

pub fn longitude(field: &str, value: f64) -> Result<(), AppError> {
    if value.is_finite() && (-180.0..=180.0).contains(&value) {
        Ok(())
    } else {
        Err(AppError::validation(format!(
            "{field}: {value} is not a longitude (-180..180)"
        )))
    }
}
