//! Attachments of a ticket: photos and PDF, typed by their content (not by the name or the
//! client's content type), stored once per content under `<data_dir>/attachments/` by SHA-256,
//! and served only to those who may see the ticket.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::model::TicketRow;
use super::{insert_event, load_visible, Happened, Viewer};
use crate::accounts::utc;
use crate::db::schema::{ticket_attachments, tickets};
use crate::db::{self, DbConnection};
use crate::error::AppError;
use crate::ids::TicketId;

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = ticket_attachments)]
pub struct AttachmentRow {
    pub id: String,
    pub ticket_id: String,
    pub sha256: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub filename: String,
    pub uploaded_by: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attachment {
    pub id: String,
    pub ticket_id: TicketId,
    pub filename: String,
    /// Detected from the content: image/jpeg, image/png, image/gif, image/webp, application/pdf.
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

impl From<AttachmentRow> for Attachment {
    fn from(r: AttachmentRow) -> Self {
        Attachment {
            id: r.id,
            ticket_id: TicketId(r.ticket_id),
            filename: r.filename,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            created_at: utc(r.created_at),
        }
    }
}

/// The accepted types, recognised by their leading bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// Where the content with this hash lives.
pub fn blob_path(data_dir: &Path, sha256: &str) -> PathBuf {
    data_dir.join("attachments").join(&sha256[..2]).join(sha256)
}

fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if cleaned.trim().is_empty() {
        "attachment".into()
    } else {
        cleaned
    }
}

/// An uploaded file, read whole (its size is bounded by the configuration).
pub struct Upload {
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// Whether the caller may add files: staff who see the ticket, or the API client that
/// submitted it. Answers the ticket row.
pub fn check_can_attach(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &TicketId,
) -> Result<TicketRow, AppError> {
    let row = match &viewer.api_client_id {
        Some(client) => tickets::table
            .find(id.as_str())
            .filter(tickets::api_client_id.eq(client))
            .first::<TicketRow>(conn)
            .optional()?
            .ok_or_else(|| super::not_found(id.as_str()))?,
        None => load_visible(conn, viewer, id)?.0,
    };
    let status: crate::vocab::Status = row.status.parse().unwrap_or(crate::vocab::Status::Closed);
    if !status.is_open() {
        return Err(AppError::conflict(
            "illegal_transition",
            format!("files cannot be added to a {status} ticket"),
        ));
    }
    Ok(row)
}

/// Stores the files and records them (one event per file), refusing the whole upload when a
/// file has another type or the ticket would hold more than `max_per_ticket`.
pub fn attach(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &TicketId,
    uploads: Vec<Upload>,
    data_dir: &Path,
    max_per_ticket: usize,
    now: NaiveDateTime,
) -> Result<Vec<Attachment>, AppError> {
    if uploads.is_empty() {
        return Err(AppError::validation("file: send at least one file part"));
    }
    let mut typed = Vec::with_capacity(uploads.len());
    for upload in uploads {
        let content_type = sniff(&upload.bytes).ok_or_else(|| AppError::Unsupported {
            code: "unsupported_attachment_type",
            message: format!(
                "'{}' is not a JPEG, PNG, GIF, WebP image or a PDF",
                clean_filename(&upload.filename)
            ),
        })?;
        let sha256: String = Sha256::digest(&upload.bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        typed.push((upload, content_type, sha256));
    }
    // content first (idempotent by hash), then the rows: a crash leaves at most an unreferenced file
    for (upload, _, sha256) in &typed {
        let path = blob_path(data_dir, sha256);
        if !path.exists() {
            let dir = path.parent().unwrap_or(data_dir);
            std::fs::create_dir_all(dir)
                .map_err(|e| AppError::Internal(format!("attachment dir: {e}")))?;
            let tmp = dir.join(format!(".{sha256}.{}", uuid::Uuid::new_v4().simple()));
            std::fs::write(&tmp, &upload.bytes)
                .map_err(|e| AppError::Internal(format!("attachment write: {e}")))?;
            std::fs::rename(&tmp, &path)
                .map_err(|e| AppError::Internal(format!("attachment rename: {e}")))?;
        }
    }
    db::write_tx(conn, |conn| {
        let mut row = check_can_attach(conn, viewer, id)?;
        let existing: i64 = ticket_attachments::table
            .filter(ticket_attachments::ticket_id.eq(&row.id))
            .count()
            .get_result(conn)?;
        if existing as usize + typed.len() > max_per_ticket {
            return Err(AppError::conflict(
                "too_many_attachments",
                format!("a ticket holds at most {max_per_ticket} files; it has {existing}"),
            ));
        }
        let mut added = Vec::new();
        for (upload, content_type, sha256) in typed {
            let attachment = AttachmentRow {
                id: db::new_id(),
                ticket_id: row.id.clone(),
                sha256,
                content_type: content_type.to_string(),
                size_bytes: upload.bytes.len() as i64,
                filename: clean_filename(&upload.filename),
                uploaded_by: viewer.user_id.clone().or(viewer.api_client_id.clone()),
                created_at: now,
            };
            diesel::insert_into(ticket_attachments::table)
                .values(&attachment)
                .execute(conn)?;
            let previous = row.version;
            row.version += 1;
            let changed = diesel::update(
                tickets::table
                    .find(&row.id)
                    .filter(tickets::version.eq(previous)),
            )
            .set((
                tickets::version.eq(row.version),
                tickets::updated_at.eq(now),
            ))
            .execute(conn)?;
            if changed == 0 {
                return Err(AppError::Stale(
                    "the ticket changed meanwhile; retry".into(),
                ));
            }
            let payload = json!({"attachment_id": attachment.id, "filename": attachment.filename,
                                 "content_type": attachment.content_type, "size_bytes": attachment.size_bytes});
            let status = row.status.clone();
            let what = Happened {
                action: "attach",
                from: Some(&status),
                payload,
                public: false,
            };
            insert_event(conn, &row, viewer, what, now)?;
            added.push(Attachment::from(attachment));
        }
        Ok(added)
    })
}

pub fn list(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &TicketId,
) -> Result<Vec<Attachment>, AppError> {
    load_visible(conn, viewer, id)?;
    let rows: Vec<AttachmentRow> = ticket_attachments::table
        .filter(ticket_attachments::ticket_id.eq(id.as_str()))
        .order(ticket_attachments::id.asc())
        .load(conn)?;
    Ok(rows.into_iter().map(Attachment::from).collect())
}

/// One attachment's record, if the viewer may see its ticket.
pub fn get(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &TicketId,
    attachment: &str,
) -> Result<Attachment, AppError> {
    load_visible(conn, viewer, id)?;
    ticket_attachments::table
        .find(attachment)
        .filter(ticket_attachments::ticket_id.eq(id.as_str()))
        .first::<AttachmentRow>(conn)
        .optional()?
        .map(Attachment::from)
        .ok_or_else(|| AppError::NotFound(format!("no attachment {attachment} on this ticket")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        assert_eq!(sniff(b"%PDF-1.7 ..."), Some("application/pdf"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"MZ\x90\0 not an image"), None);
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename(""), "attachment");
    }
}
