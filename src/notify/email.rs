//! E-mail over SMTP with lettre: plain, STARTTLS (required, not opportunistic) or TLS; one
//! transport built at start. Subjects and bodies are UTF-8; lettre encodes non-ASCII headers
//! (RFC 2047) and picks a transfer encoding for the body.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use super::templates::Rendered;
use crate::config::{EmailSettings, SmtpSecurity};
use crate::error::AppError;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Why a message was not sent.
#[derive(Debug)]
pub enum SendError {
    /// The server is down, refused for now, or timed out: try again later.
    Transient(String),
    /// The message itself is wrong (an address that is none): no retry can help.
    Permanent(String),
}

impl Mailer {
    /// The mailer of these settings; `None` when no SMTP host is configured.
    pub fn new(settings: &EmailSettings) -> Result<Option<Mailer>, AppError> {
        if settings.host.trim().is_empty() {
            return Ok(None);
        }
        let config = |e: lettre::transport::smtp::Error| {
            AppError::Config(format!("notifications.email.host: {e}"))
        };
        let host = settings.host.trim();
        let builder = match settings.security {
            SmtpSecurity::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(config)?
            }
            SmtpSecurity::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(config)?
            }
        };
        let mut builder = builder
            .port(settings.port)
            .timeout(Some(Duration::from_secs(settings.timeout_seconds)));
        if !settings.username.is_empty() {
            let password = settings
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_string())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(settings.username.clone(), password));
        }
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|e| AppError::Config(format!("notifications.email.from: {e}")))?;
        Ok(Some(Mailer {
            transport: builder.build(),
            from,
        }))
    }

    /// Sends one message; `id` becomes its Message-ID (the same on every retry).
    pub async fn send(&self, to: &str, mail: &Rendered, id: &str) -> Result<(), SendError> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| SendError::Permanent(format!("recipient '{to}': {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .message_id(Some(format!("<{id}@hotline>")))
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| SendError::Permanent(format!("message: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(format!("SMTP: {e}"))),
            Err(e) => Err(SendError::Transient(format!("SMTP: {e}"))),
        }
    }
}
