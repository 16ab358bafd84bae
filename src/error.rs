//! The one error type of the service. Every failure, from a malformed body to a lost database,
//! ends up here and leaves as `{"error": "<machine_code>", "message": "<human text>"}`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: input that cannot be parsed (bad JSON syntax, bad query or path value, bad cursor).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 422: well-formed input that breaks a rule (missing field, value out of range).
    #[error("{message}")]
    Validation { code: &'static str, message: String },
    /// 401: no credentials, or credentials that are wrong, expired or revoked.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// 403: authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with the current state (duplicate name, illegal transition).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 409: a unique constraint refused the write (a duplicate code, name, key). Use-cases turn
    /// it into their own code (`username_taken`, ...) or act on it (the idempotency race).
    #[error("a record with the same unique value exists")]
    Duplicate,
    /// 422: a bulk import refused whole, with the rows at fault.
    #[error("{message}")]
    Import {
        message: String,
        errors: Vec<RowError>,
    },
    /// 412: the record changed since the caller read it (optimistic concurrency).
    #[error("{0}")]
    Stale(String),
    /// 415: content of a type the service does not take.
    #[error("{message}")]
    Unsupported { code: &'static str, message: String },
    /// 429: throttled; `retry_after` in seconds.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    /// Other protocol-level refusals (405, 413, 415) raised by the HTTP layer.
    #[error("{message}")]
    Http {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// 503: the database or another dependency is unreachable.
    #[error("{0}")]
    Unavailable(String),
    /// Invalid configuration (start-up only).
    #[error("{0}")]
    Config(String),
    /// 500: a bug or an unexpected failure; the details go to the log, not to the client.
    #[error("{0}")]
    Internal(String),
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `invalid_credentials`, `not_found`, `malformed_json`.
    pub error: String,
    /// Human-readable explanation.
    pub message: String,
    /// For `import_failed`: each row at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<RowError>>,
}

/// One rejected row of a bulk import.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowError {
    /// 1-based number of the data row (the CSV header is not counted; line = row + 1).
    pub row: usize,
    pub message: String,
}

impl AppError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }
    pub fn validation(message: impl Into<String>) -> Self {
        AppError::Validation {
            code: "validation_failed",
            message: message.into(),
        }
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Unauthorized {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { code, .. }
            | AppError::Validation { code, .. }
            | AppError::Unauthorized { code, .. }
            | AppError::Conflict { code, .. }
            | AppError::Http { code, .. } => code,
            AppError::Forbidden(_) => "forbidden",
            AppError::Duplicate => "conflict",
            AppError::NotFound(_) => "not_found",
            AppError::TooManyRequests { .. } => "too_many_attempts",
            AppError::Import { .. } => "import_failed",
            AppError::Stale(_) => "version_mismatch",
            AppError::Unsupported { code, .. } => code,
            AppError::Unavailable(_) => "unavailable",
            AppError::Config(_) | AppError::Internal(_) => "internal",
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Validation { .. } | AppError::Import { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } | AppError::Duplicate => StatusCode::CONFLICT,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Stale(_) => StatusCode::PRECONDITION_FAILED,
            AppError::Unsupported { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Http { status, .. } => *status,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Config(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            AppError::Config(detail) | AppError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                "internal error; the details are in the server log under this request's id"
                    .to_string()
            }
            AppError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "dependency unavailable");
                "the service is temporarily unavailable; try again shortly".to_string()
            }
            other => other.to_string(),
        };
        let mut response = HttpResponse::build(self.status_code());
        if let AppError::Unauthorized { .. } = self {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let AppError::TooManyRequests { retry_after, .. } = self {
            response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        let errors = match self {
            AppError::Import { errors, .. } => Some(errors.clone()),
            _ => None,
        };
        response.json(ErrorBody {
            error: self.code().to_string(),
            message,
            errors,
        })
    }
}

/// Narrow mapping of a use-case's errors: only "not found" becomes the caller's own error (a
/// 422 naming the field, say); a lost database or any other failure stays what it is.
pub trait WhenMissing<T> {
    fn when_missing(self, f: impl FnOnce() -> AppError) -> Result<T, AppError>;
}

impl<T> WhenMissing<T> for Result<T, AppError> {
    fn when_missing(self, f: impl FnOnce() -> AppError) -> Result<T, AppError> {
        match self {
            Err(AppError::NotFound(_)) => Err(f()),
            other => other,
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => AppError::NotFound("not found".into()),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                // the constraint's name is for the log, never for the client
                tracing::info!(constraint = ?info.constraint_name(), detail = %info.message(), "unique violation");
                AppError::Duplicate
            }
            Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => AppError::conflict(
                "conflict",
                "the record refers to, or is referred to by, another record",
            ),
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                AppError::Unavailable(format!("database connection closed: {}", info.message()))
            }
            // PostgreSQL refuses NUL in text and over-long index keys. The edge refuses both
            // first (`validate::text_ok`); this is the net under it, so input never becomes a 500.
            Error::DatabaseError(_, info)
                if info.message().contains("invalid byte sequence")
                    || info.message().contains("0x00") =>
            {
                AppError::bad_request("invalid_input", "text with a NUL character is not accepted")
            }
            Error::DatabaseError(_, info) if info.message().contains("index row") => {
                AppError::validation("a value is too long to be stored")
            }
            other => AppError::Internal(format!("database error: {other}")),
        }
    }
}
