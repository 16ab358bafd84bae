//! Keyset pagination shared by every list endpoint: `?limit=` (default 50, max 500) and an
//! opaque `?cursor=` holding the sort key of the last row seen. Answers
//! `{"items": [...], "next_cursor": "..." | null}`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::AppError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// The query parameters, as the client sends them.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Rows per page, 1 to 500 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Validated paging: how many rows, and the sort key to continue after.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<Vec<String>>,
}

impl PageParams {
    pub fn validate(&self) -> Result<PageRequest, AppError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(AppError::bad_request(
                "invalid_query",
                format!("limit: must be between 1 and {MAX_LIMIT}, got {limit}"),
            ));
        }
        let after = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| {
                AppError::bad_request(
                    "invalid_cursor",
                    "cursor: not a cursor returned by this API",
                )
            })?),
        };
        Ok(PageRequest { limit, after })
    }
}

impl PageRequest {
    /// The single-column sort key to continue after (most lists sort by a time-ordered id).
    pub fn after_key(&self) -> Result<Option<&str>, AppError> {
        match self.after.as_deref() {
            None => Ok(None),
            Some([key]) => Ok(Some(key.as_str())),
            Some(_) => Err(AppError::bad_request(
                "invalid_cursor",
                "cursor: belongs to another list",
            )),
        }
    }

    /// The (time, id) sort key to continue after, for lists ordered by a time then an id (the
    /// queues by due time). Encode it with [`time_key`].
    pub fn after_time_and_id(&self) -> Result<Option<(chrono::NaiveDateTime, &str)>, AppError> {
        let bad = || AppError::bad_request("invalid_cursor", "cursor: belongs to another list");
        match self.after.as_deref() {
            None => Ok(None),
            Some([time, id]) => {
                let time =
                    chrono::NaiveDateTime::parse_from_str(time, TIME_KEY).map_err(|_| bad())?;
                Ok(Some((time, id.as_str())))
            }
            Some(_) => Err(bad()),
        }
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `fetch_limit()` rows sorted by `key`.
    pub fn from_rows(
        mut rows: Vec<T>,
        request: &PageRequest,
        key: impl Fn(&T) -> Vec<String>,
    ) -> Self {
        let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|last| encode_cursor(&key(last)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

const TIME_KEY: &str = "%Y-%m-%dT%H:%M:%S%.f";

/// A time as a cursor key (read back by [`PageRequest::after_time_and_id`]).
pub fn time_key(t: chrono::NaiveDateTime) -> String {
    t.format(TIME_KEY).to_string()
}

pub fn encode_cursor(key: &[String]) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

fn decode_cursor(cursor: &str) -> Option<Vec<String>> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let key: Vec<String> = serde_json::from_slice(&bytes).ok()?;
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_cursors() {
        let p = PageParams {
            limit: Some(0),
            cursor: None,
        };
        assert!(p.validate().is_err());
        let p = PageParams {
            limit: Some(501),
            cursor: None,
        };
        assert!(p.validate().is_err());
        let p = PageParams {
            limit: None,
            cursor: Some("%%%".into()),
        };
        assert!(p.validate().is_err());
        let c = encode_cursor(&["abc".to_string()]);
        let p = PageParams {
            limit: Some(2),
            cursor: Some(c),
        };
        let r = p.validate().expect("valid");
        assert_eq!(r.after_key().expect("one key"), Some("abc"));
        let page = Page::from_rows(vec![1, 2, 3], &r, |n| vec![n.to_string()]);
        assert_eq!(page.items, vec![1, 2]);
        assert!(page.next_cursor.is_some());
    }
}
