//! Field rules shared by the use-cases; each message starts with the field's name.

use crate::error::AppError;

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
    if value.trim().is_empty() || value.chars().count() > max {
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

/// A phone number as dialled: digits with optional `+`, `-`, spaces, 3–20 digits.
pub fn phone(field: &str, value: &str) -> Result<(), AppError> {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let ok = (3..=20).contains(&digits)
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
    if ok {
        Ok(())
    } else {
        Err(AppError::validation(format!(
            "{field}: '{value}' is not a phone number"
        )))
    }
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
