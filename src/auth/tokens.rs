//! Token formats.
//!
//! * Access token: a JWT (HS256) carrying the user id and the session id, valid for minutes.
//!   The session is checked on every request, so logout, disabling and password changes take
//!   effect at once.
//! * Refresh token: `hlr_` + 32 random bytes; only its SHA-256 is stored. Each use rotates it.
//! * API key: `hlk_<prefix>_<secret>`; the prefix finds the row, the SHA-256 of the whole key is
//!   compared. High-entropy random keys need no slow hash (unlike passwords).

use std::fs;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDateTime;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::ids::{SessionId, UserId};

pub const REFRESH_TOKEN_PREFIX: &str = "hlr_";
pub const API_KEY_PREFIX: &str = "hlk_";

#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub sid: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

/// The JWT signing key, decoded once at start.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    pub access_ttl_seconds: i64,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    pub fn new(secret: &SecretString, issuer: &str, access_ttl_seconds: i64) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        JwtKeys {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            issuer: issuer.to_string(),
            access_ttl_seconds,
        }
    }

    pub fn issue_access(
        &self,
        user: &UserId,
        session: &SessionId,
        now: NaiveDateTime,
    ) -> Result<String, AppError> {
        let iat = now.and_utc().timestamp();
        let claims = AccessClaims {
            sub: user.0.clone(),
            sid: session.0.clone(),
            iss: self.issuer.clone(),
            iat,
            exp: iat + self.access_ttl_seconds,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(format!("cannot sign token: {e}")))
    }

    /// Checks signature, issuer and expiry (against the service clock, not the OS clock).
    pub fn verify_access(&self, token: &str, now: NaiveDateTime) -> Result<AccessClaims, AppError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.set_issuer(&[&self.issuer]);
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation)
            .map_err(|_| {
                AppError::unauthorized("invalid_token", "the access token is not valid")
            })?;
        if data.claims.exp <= now.and_utc().timestamp() {
            return Err(AppError::unauthorized(
                "token_expired",
                "the access token has expired; use the refresh token to get a new one",
            ));
        }
        Ok(data.claims)
    }
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Hex SHA-256 of a token, the only form in which tokens and keys are stored.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn new_refresh_token() -> String {
    format!("{REFRESH_TOKEN_PREFIX}{}", random_b64(32))
}

/// A new API key and its lookup prefix.
pub fn new_api_key() -> (String, String) {
    let mut buf = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut buf);
    let prefix: String = buf.iter().map(|b| format!("{b:02x}")).collect();
    (
        format!("{API_KEY_PREFIX}{prefix}_{}", random_b64(32)),
        prefix,
    )
}

/// The lookup prefix of a presented API key, if it has the right shape.
pub fn api_key_prefix(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(API_KEY_PREFIX)?;
    let (prefix, secret) = rest.split_once('_')?;
    (prefix.len() == 12 && !secret.is_empty()).then_some(prefix)
}

/// The JWT signing key: from the environment/config, else from `jwt_secret_file`, else the key
/// generated on first start in `<data_dir>/jwt.key` (created with mode 0600).
pub fn load_or_create_secret(
    configured: Option<&SecretString>,
    secret_file: &str,
    data_dir: &Path,
) -> Result<SecretString, AppError> {
    if let Some(secret) = configured {
        return Ok(secret.clone());
    }
    let read = |path: &Path| -> Result<SecretString, AppError> {
        let text = fs::read_to_string(path).map_err(|e| {
            AppError::Config(format!("cannot read JWT key {}: {e}", path.display()))
        })?;
        let text = text.trim().to_string();
        if text.len() < 32 {
            return Err(AppError::Config(format!(
                "JWT key in {} must be at least 32 characters",
                path.display()
            )));
        }
        Ok(SecretString::from(text))
    };
    if !secret_file.trim().is_empty() {
        return read(Path::new(secret_file.trim()));
    }
    let path = data_dir.join("jwt.key");
    if path.exists() {
        return read(&path);
    }
    crate::files::create_private_dir(data_dir).map_err(|e| {
        AppError::Config(format!(
            "cannot create data directory {}: {e}",
            data_dir.display()
        ))
    })?;
    let secret = random_b64(48);
    match crate::files::write_private(&path, secret.as_bytes()) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a new JWT signing key");
            Ok(SecretString::from(secret))
        }
        // Another instance created it a moment ago: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(&path),
        Err(e) => Err(AppError::Config(format!(
            "cannot create JWT key {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_shape() {
        let (key, prefix) = new_api_key();
        assert_eq!(api_key_prefix(&key), Some(prefix.as_str()));
        assert_eq!(api_key_prefix("hlk_short_x"), None);
        assert_eq!(api_key_prefix("Bearer abc"), None);
    }

    #[test]
    fn access_token_round_trip_and_expiry() {
        let keys = JwtKeys::new(&SecretString::from("x".repeat(40)), "hotline", 60);
        let now = chrono::Utc::now().naive_utc();
        let token = keys
            .issue_access(&UserId("u".into()), &SessionId("s".into()), now)
            .expect("sign");
        assert_eq!(keys.verify_access(&token, now).expect("valid").sid, "s");
        let later = now + chrono::Duration::seconds(61);
        assert!(keys.verify_access(&token, later).is_err());
        assert!(keys.verify_access("garbage", now).is_err());
    }
}
