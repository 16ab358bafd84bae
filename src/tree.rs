//! Materialised paths for the trees (departments, regions, categories): a node's `path` is
//! `/<root id>/.../<own id>/`. Ancestors are read off the path; descendants share its prefix.

use crate::error::AppError;

/// The path of a new node under `parent_path` (or at the root).
pub fn child_path(parent_path: Option<&str>, id: &str) -> String {
    format!("{}{id}/", parent_path.unwrap_or("/"))
}

/// The ids on a path, from the root down to the node itself.
pub fn path_ids(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The half-open range `[lo, hi)` of the paths of a node and all its descendants, for an
/// indexed range scan on both backends (byte order: SQLite's BINARY collation, PostgreSQL's
/// `COLLATE "C"`). Paths end in `/` (0x2F); the next byte is `0` (0x30).
pub fn subtree_range(path: &str) -> (String, String) {
    let hi = match path.strip_suffix('/') {
        Some(stem) => format!("{stem}0"),
        None => format!("{path}\u{10FFFF}"),
    };
    (path.to_string(), hi)
}

/// Refuses to move `node_path` under `new_parent_path` when the new parent is the node itself or
/// one of its descendants.
pub fn check_move(
    node_path: &str,
    new_parent_path: Option<&str>,
    what: &str,
) -> Result<(), AppError> {
    match new_parent_path {
        Some(parent) if parent.starts_with(node_path) => Err(AppError::conflict(
            "tree_cycle",
            format!("cannot move a {what} under itself or one of its descendants"),
        )),
        _ => Ok(()),
    }
}

diesel::define_sql_function! {
    /// SQL `substr(text, start)`, 1-based; the same on SQLite and PostgreSQL.
    fn substr(text: diesel::sql_types::Text, start: diesel::sql_types::Integer) -> diesel::sql_types::Text;
}

/// Re-roots every path under `old_prefix` to `new_prefix` in one UPDATE on `$table`.
#[macro_export]
macro_rules! move_subtree {
    ($conn:expr, $table:ident, $old_prefix:expr, $new_prefix:expr) => {{
        use diesel::prelude::*;
        use diesel::IntoSql;
        let old: &str = $old_prefix;
        let new: &str = $new_prefix;
        let keep_from = i32::try_from(old.len() + 1).unwrap_or(i32::MAX);
        let (lo, hi) = $crate::tree::subtree_range(old);
        diesel::update(
            $table::table
                .filter($table::path.ge(lo))
                .filter($table::path.lt(hi)),
        )
        .set(
            $table::path.eq(new
                .to_string()
                .into_sql::<diesel::sql_types::Text>()
                .concat($crate::tree::substr($table::path, keep_from))),
        )
        .execute($conn)
    }};
}

/// Moves `$row` (with `id`, `path`, `parent_id` fields) under `$new_parent` (an
/// `Option<IdType>`, `None` = root): checks that the parent exists (via `$lookup`) and is not in
/// the row's own subtree, and re-roots the subtree's paths.
#[macro_export]
macro_rules! reparent {
    ($conn:expr, $table:ident, $row:expr, $new_parent:expr, $lookup:path, $what:literal) => {{
        let new_parent = $new_parent;
        let parent_path = match &new_parent {
            Some(p) => Some($lookup($conn, "parent_id", p)?.path),
            None => None,
        };
        $crate::tree::check_move(&$row.path, parent_path.as_deref(), $what)?;
        let new_path = $crate::tree::child_path(parent_path.as_deref(), &$row.id);
        if new_path != $row.path {
            $crate::move_subtree!($conn, $table, &$row.path, &new_path)?;
            $row.path = new_path;
        }
        $row.parent_id = new_parent.map(|p| p.0);
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let root = child_path(None, "a");
        let child = child_path(Some(&root), "b");
        assert_eq!(child, "/a/b/");
        assert_eq!(path_ids(&child), vec!["a", "b"]);
        assert!(check_move(&root, Some(&child), "department").is_err());
        assert!(check_move(&child, Some(&root), "department").is_ok());
        assert!(check_move(&root, None, "department").is_ok());
        let (lo, hi) = subtree_range("/a/b/");
        for inside in ["/a/b/", "/a/b/c/", "/a/b/zz/y/"] {
            assert!(lo.as_str() <= inside && inside < hi.as_str(), "{inside}");
        }
        for outside in ["/a/", "/a/bb/", "/a/c/", "/a/b"] {
            assert!(
                !(lo.as_str() <= outside && outside < hi.as_str()),
                "{outside}"
            );
        }
    }
}
