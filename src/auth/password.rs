//! Password hashing with argon2id (the `argon2` crate of RustCrypto, with its recommended
//! default parameters) and the password policy.
//!
//! Each argon2 run takes 19 MiB; at most one per core runs at a time (the others queue on
//! [`HASH_PERMITS`]), so a flood of logins costs CPU time, not memory. Strength is estimated
//! with `zxcvbn` (Dropbox's estimator: dictionaries of common passwords, names, keyboard
//! patterns, dates and sequences), which is what refuses `password12` and `1234567890`.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;

use crate::error::AppError;

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The lowest zxcvbn score accepted (0-4; 3 = "safely unguessable: moderate protection from an
/// offline slow-hash attack", about 10^8 guesses and more).
pub const MIN_STRENGTH: zxcvbn::Score = zxcvbn::Score::Three;

/// Checks the policy: long enough, not absurdly long, not only one repeated character, not
/// containing the username (or other `personal` words), and not guessable.
pub fn check_policy(password: &str, personal: &[&str]) -> Result<(), AppError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AppError::validation(format!(
            "password: must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(AppError::validation(format!(
            "password: must be at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    let first = password.chars().next();
    if password.chars().all(|c| Some(c) == first) {
        return Err(AppError::validation(
            "password: must not be one repeated character",
        ));
    }
    let lower = password.to_lowercase();
    if personal
        .iter()
        .any(|p| p.chars().count() >= 3 && lower.contains(&p.to_lowercase()))
    {
        return Err(AppError::validation(
            "password: must not contain the username",
        ));
    }
    let estimate = zxcvbn::zxcvbn(password, personal);
    if estimate.score() < MIN_STRENGTH {
        let hint = estimate
            .feedback()
            .and_then(|f| f.warning().map(|w| format!(" ({w})")))
            .unwrap_or_default();
        return Err(AppError::validation(format!(
            "password: too easy to guess{hint}; use a longer mix of unrelated words, digits and signs"
        )));
    }
    Ok(())
}

/// Argon2 runs on a few dedicated threads (one per core), fed by a queue: at most that many
/// computations at once, and their 19 MiB blocks are reused by the same threads instead of
/// being spread over every thread of the blocking pool (whose allocator caches would each keep
/// one). A caller waits for its answer; if the threads cannot be had, it computes in place.
type Job = Box<dyn FnOnce() + Send>;

struct Hashers {
    queue: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
}

static HASHERS: OnceLock<Option<Hashers>> = OnceLock::new();

fn hashers() -> Option<&'static Hashers> {
    HASHERS
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            let mut started = 0;
            for i in 0..threads {
                let rx = rx.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("argon2-{i}"))
                    .spawn(move || loop {
                        let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    });
                if spawned.is_ok() {
                    started += 1;
                }
            }
            (started > 0).then(|| Hashers {
                queue: std::sync::Mutex::new(tx),
            })
        })
        .as_ref()
}

/// Runs `f` on a hashing thread; `None` only if that thread died while running it.
fn with_permit<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let Some(hashers) = hashers() else {
        return Some(f());
    };
    let (reply, answer) = std::sync::mpsc::sync_channel(1);
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(f)));
    let job_slot = slot.clone();
    let job: Job = Box::new(move || {
        let f = job_slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(f) = f {
            let _ = reply.send(f());
        }
    });
    let sent = hashers
        .queue
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(job)
        .is_ok();
    if sent {
        if let Ok(value) = answer.recv() {
            return Some(value);
        }
    }
    // the hashing threads are gone: compute here if the job never ran
    let f = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    f.map(|f| f())
}

pub fn hash(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    let password = password.to_string();
    with_permit(move || {
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
    })
    .unwrap_or_else(|| Err(AppError::Internal("password hashing thread failed".into())))
}

/// Constant-shape verification: a malformed stored hash counts as a mismatch.
pub fn verify(password: &str, stored_hash: &str) -> bool {
    if PasswordHash::new(stored_hash).is_err() {
        return false;
    }
    let (password, stored) = (password.to_string(), stored_hash.to_string());
    with_permit(move || {
        PasswordHash::new(&stored).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .unwrap_or(false)
}

/// Verifies against the stored hash, or, for an unknown user, spends the same time on a dummy
/// hash, so an unknown user name cannot be told apart from a wrong password by timing.
pub fn verify_or_dummy(password: &str, stored_hash: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    match stored_hash {
        Some(stored) => verify(password, stored),
        None => {
            let hash =
                DUMMY.get_or_init(|| self::hash("dummy-password-for-timing").unwrap_or_default());
            let _ = verify(password, hash);
            false
        }
    }
}

/// A random password for generated accounts: 20 characters without look-alikes.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse battery").expect("hash");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("wrong horse battery", &h));
        assert!(!verify("anything", "not-a-hash"));
    }

    #[test]
    fn policy() {
        assert!(check_policy("short", &[]).is_err());
        assert!(check_policy("aaaaaaaaaaaa", &[]).is_err());
        for weak in ["1234567890", "password12", "qwertyuiop", "iloveyou2024"] {
            assert!(check_policy(weak, &[]).is_err(), "{weak} accepted");
        }
        assert!(check_policy("olga-harbour-lantern-7", &["olga"]).is_err());
        assert!(check_policy("harbour lantern cobalt", &["olga"]).is_ok());
        assert_eq!(generate().len(), 20);
        assert!(check_policy(&generate(), &["admin"]).is_ok());
    }
}
