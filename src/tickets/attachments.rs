//! Attachments of a ticket: photos and PDF, typed by their content (not by the name or the
//! client's content type), stored once per content under `<data_dir>/attachments/` by SHA-256,
//! and served only to those who may see the ticket.
//!
//! An upload is checked whole (types, the per-ticket count) before anything touches the disk;
//! the files are written to `attachments/tmp/` (0600) and moved into place as the last step
//! before the transaction commits. [`sweep_orphans`] removes, at start, temporary files and
//! content that no row refers to (left by a crash between the move and the commit).

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

fn tmp_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("attachments").join("tmp")
}

/// The file extension that goes with a detected type.
fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => "pdf",
    }
}

/// Images a browser may show inline; anything else is served as a download.
pub fn is_inline_safe(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/jpeg" | "image/png" | "image/gif" | "image/webp"
    )
}

/// The stored name: the client's base name reduced to letters, digits, spaces and `-_.()`,
/// at most 100 characters, with the extension of the *detected* type (`x.html` holding a GIF is
/// stored as `x.gif`), so no name can make a browser treat the file as something else.
pub fn clean_filename(name: &str, content_type: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let stem = match base.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => base,
    };
    let cleaned: String = stem
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '(' | ')'))
        .take(100)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let stem = if cleaned.is_empty() {
        "attachment"
    } else {
        cleaned
    };
    format!("{stem}.{}", extension(content_type))
}

/// An uploaded file, read whole (its size is bounded by the configuration).
pub struct Upload {
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// Whether the caller may add files: staff who see the ticket, or the API client that
/// submitted it, while the ticket is open. Answers the ticket row and how many files it has.
pub fn check_can_attach(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &TicketId,
    max_per_ticket: usize,
) -> Result<(TicketRow, usize), AppError> {
    let row = match viewer.api_client_id() {
        Some(client) => tickets::table
            .find(id.as_str())
            .filter(tickets::api_client_id.eq(client))
            .first::<TicketRow>(conn)
            .optional()?
            .ok_or_else(|| super::not_found(id.as_str()))?,
        None => load_visible(conn, viewer, id)?.0,
    };
    let status = row.status;
    if !status.is_open() {
        return Err(AppError::conflict(
            "illegal_transition",
            format!("files cannot be added to a {status} ticket"),
        ));
    }
    let existing: i64 = ticket_attachments::table
        .filter(ticket_attachments::ticket_id.eq(&row.id))
        .count()
        .get_result(conn)?;
    let existing = usize::try_from(existing).unwrap_or(usize::MAX);
    if existing >= max_per_ticket {
        return Err(too_many(max_per_ticket, existing));
    }
    Ok((row, existing))
}

fn too_many(max_per_ticket: usize, existing: usize) -> AppError {
    AppError::conflict(
        "too_many_attachments",
        format!("a ticket holds at most {max_per_ticket} files; it has {existing}"),
    )
}

/// A checked file written to a private temporary file, not yet in place.
struct Staged {
    tmp: PathBuf,
    target: PathBuf,
}

impl Drop for Staged {
    fn drop(&mut self) {
        // moved into place: nothing left; refused or failed: the temporary file goes
        let _ = std::fs::remove_file(&self.tmp);
    }
}

fn stage(data_dir: &Path, sha256: &str, bytes: &[u8]) -> Result<Staged, AppError> {
    let io = |what: &str, e: std::io::Error| AppError::Internal(format!("attachment {what}: {e}"));
    let dir = tmp_dir(data_dir);
    crate::files::create_private_dir(&dir).map_err(|e| io("dir", e))?;
    let tmp = dir.join(format!("{sha256}.{}", uuid::Uuid::new_v4().simple()));
    crate::files::write_private(&tmp, bytes).map_err(|e| io("write", e))?;
    Ok(Staged {
        tmp,
        target: blob_path(data_dir, sha256),
    })
}

fn put_in_place(staged: &Staged) -> Result<(), AppError> {
    let io = |what: &str, e: std::io::Error| AppError::Internal(format!("attachment {what}: {e}"));
    if staged.target.exists() {
        return Ok(()); // the same content is stored already
    }
    if let Some(dir) = staged.target.parent() {
        crate::files::create_private_dir(dir).map_err(|e| io("dir", e))?;
    }
    std::fs::rename(&staged.tmp, &staged.target).map_err(|e| io("move", e))
}

/// How old an unreferenced file must be before the sweep removes it.
pub const ORPHAN_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes temporary files and stored content no attachment row refers to, older than
/// `grace` (an upload in flight is younger). Answers how many files were removed.
pub fn sweep_orphans(
    conn: &mut DbConnection,
    data_dir: &Path,
    grace: std::time::Duration,
) -> Result<usize, AppError> {
    let root = data_dir.join("attachments");
    if !root.exists() {
        return Ok(0);
    }
    let referenced: std::collections::HashSet<String> = ticket_attachments::table
        .select(ticket_attachments::sha256)
        .distinct()
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let old_enough = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= grace)
    };
    let mut removed = 0;
    let dirs = std::fs::read_dir(&root)
        .map_err(|e| AppError::Internal(format!("attachments dir: {e}")))?;
    for dir in dirs.flatten() {
        let is_tmp = dir.file_name() == "tmp";
        let Ok(files) = std::fs::read_dir(dir.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            let name = file.file_name().to_string_lossy().to_string();
            let orphan = is_tmp || name.starts_with('.') || !referenced.contains(&name);
            if orphan && old_enough(&path) && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed orphaned attachment files");
    }
    Ok(removed)
}

/// Stores the files and records them (one event per file), refusing the whole upload, before
/// anything is written, when a file has another type or the ticket would hold more than
/// `max_per_ticket`.
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
                upload
                    .filename
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(100)
                    .collect::<String>()
            ),
        })?;
        let sha256: String = Sha256::digest(&upload.bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        typed.push((upload, content_type, sha256));
    }
    db::write_tx(conn, |conn| {
        db::lock_tickets(conn, &[id.as_str()])?;
        let (mut row, existing) = check_can_attach(conn, viewer, id, max_per_ticket)?;
        if existing + typed.len() > max_per_ticket {
            return Err(too_many(max_per_ticket, existing));
        }
        // every check has passed: now the files go to disk, privately, not yet in place
        let staged = typed
            .iter()
            .map(|(upload, _, sha256)| stage(data_dir, sha256, &upload.bytes))
            .collect::<Result<Vec<_>, _>>()?;
        let mut added = Vec::new();
        for (upload, content_type, sha256) in &typed {
            let attachment = AttachmentRow {
                id: db::new_id(),
                ticket_id: row.id.clone(),
                sha256: sha256.clone(),
                content_type: content_type.to_string(),
                size_bytes: upload.bytes.len() as i64,
                filename: clean_filename(&upload.filename, content_type),
                uploaded_by: viewer
                    .user_id()
                    .or(viewer.api_client_id())
                    .map(str::to_string),
                created_at: now,
            };
            diesel::insert_into(ticket_attachments::table)
                .values(&attachment)
                .execute(conn)?;
            row.version += 1;
            diesel::update(tickets::table.find(&row.id))
                .set((
                    tickets::version.eq(row.version),
                    tickets::updated_at.eq(now),
                ))
                .execute(conn)?;
            let payload = json!({"attachment_id": attachment.id, "filename": attachment.filename,
                                 "content_type": attachment.content_type, "size_bytes": attachment.size_bytes});
            let status = row.status;
            let what = Happened {
                action: "attach",
                from: Some(status),
                payload,
                public: false,
            };
            insert_event(conn, &row, viewer, what, now)?;
            added.push(Attachment::from(attachment));
        }
        // last step before the commit: a failure here rolls the rows back
        for file in &staged {
            put_in_place(file)?;
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
        assert_eq!(
            clean_filename("../../etc/passwd", "application/pdf"),
            "passwd.pdf"
        );
        assert_eq!(clean_filename("", "image/png"), "attachment.png");
        assert_eq!(clean_filename("x.html", "image/gif"), "x.gif");
        assert_eq!(clean_filename("\"; evil\r\n.jpg", "image/jpeg"), "evil.jpg");
        assert_eq!(clean_filename("照片 1.JPG", "image/jpeg"), "照片 1.jpg");
    }
}
