//! Administrative regions: county → town/street → village/community → grid, with the 12-digit
//! division code where one exists, an optional centre point and an optional polygon, so that a
//! latitude/longitude resolves to the smallest region containing it.

pub mod geometry;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use self::geometry::Shape;
use crate::accounts::utc;
use crate::db::schema::regions;
use crate::db::DbConnection;
use crate::error::{AppError, WhenMissing};
use crate::ids::RegionId;
use crate::pagination::{Page, PageRequest};
use crate::serde_util::double_option;
use crate::vocab::RegionLevel;
use crate::{reparent, tree, validate};

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = regions, treat_none_as_null = true)]
pub struct RegionRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_id: Option<String>,
    pub path: String,
    pub center_lat: Option<f64>,
    pub center_lng: Option<f64>,
    pub polygon: Option<String>,
    pub min_lat: Option<f64>,
    pub min_lng: Option<f64>,
    pub max_lat: Option<f64>,
    pub max_lng: Option<f64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Region {
    pub id: RegionId,
    /// The 12-digit administrative division code, or a local grid code.
    pub code: String,
    pub name: String,
    pub level: RegionLevel,
    pub parent_id: Option<RegionId>,
    pub center_lat: Option<f64>,
    pub center_lng: Option<f64>,
    /// GeoJSON Polygon or MultiPolygon (`[longitude, latitude]`).
    #[schema(value_type = Option<Object>)]
    pub polygon: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<RegionRow> for Region {
    fn from(r: RegionRow) -> Self {
        Region {
            id: RegionId(r.id),
            code: r.code,
            name: r.name,
            level: r.level.parse().unwrap_or(RegionLevel::Grid),
            parent_id: r.parent_id.map(RegionId),
            center_lat: r.center_lat,
            center_lng: r.center_lng,
            polygon: r.polygon.and_then(|p| serde_json::from_str(&p).ok()),
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRegion {
    pub code: String,
    pub name: String,
    pub level: RegionLevel,
    pub parent_id: Option<RegionId>,
    pub center_lat: Option<f64>,
    pub center_lng: Option<f64>,
    /// GeoJSON Polygon or MultiPolygon; the centre defaults to its centroid.
    #[schema(value_type = Option<Object>)]
    pub polygon: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionChanges {
    pub name: Option<String>,
    pub level: Option<RegionLevel>,
    /// Moves the region (and its subtree); `null` makes it a root.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub parent_id: Option<Option<RegionId>>,
    #[serde(default, deserialize_with = "double_option")]
    pub center_lat: Option<Option<f64>>,
    #[serde(default, deserialize_with = "double_option")]
    pub center_lng: Option<Option<f64>>,
    /// `null` removes the polygon.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>)]
    pub polygon: Option<Option<serde_json::Value>>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegionFilter {
    /// Direct children of this region.
    pub parent_id: Option<uuid::Uuid>,
    /// This region and everything below it.
    pub under: Option<uuid::Uuid>,
    pub level: Option<RegionLevel>,
    /// Name or code contains this text.
    pub q: Option<String>,
}

/// The stored polygon columns for an optional GeoJSON value.
struct PolygonColumns {
    text: Option<String>,
    bbox: Option<geometry::BBox>,
    centre: Option<(f64, f64)>,
}

fn polygon_columns(value: Option<&serde_json::Value>) -> Result<PolygonColumns, AppError> {
    let Some(value) = value else {
        return Ok(PolygonColumns {
            text: None,
            bbox: None,
            centre: None,
        });
    };
    let shape =
        Shape::from_geojson(value).map_err(|e| AppError::validation(format!("polygon: {e}")))?;
    Ok(PolygonColumns {
        text: Some(value.to_string()),
        bbox: shape.bbox(),
        centre: shape.centre(),
    })
}

fn apply_polygon(row: &mut RegionRow, cols: PolygonColumns) {
    row.polygon = cols.text;
    row.min_lat = cols.bbox.map(|b| b.min_lat);
    row.min_lng = cols.bbox.map(|b| b.min_lng);
    row.max_lat = cols.bbox.map(|b| b.max_lat);
    row.max_lng = cols.bbox.map(|b| b.max_lng);
    if row.center_lat.is_none() || row.center_lng.is_none() {
        if let Some((lat, lng)) = cols.centre {
            row.center_lat = Some(lat);
            row.center_lng = Some(lng);
        }
    }
}

fn check_centre(lat: Option<f64>, lng: Option<f64>) -> Result<(), AppError> {
    match (lat, lng) {
        (Some(lat), Some(lng)) => {
            validate::latitude("center_lat", lat)?;
            validate::longitude("center_lng", lng)
        }
        (None, None) => Ok(()),
        _ => Err(AppError::validation(
            "center_lat, center_lng: give both or neither",
        )),
    }
}

pub fn find_row(conn: &mut DbConnection, id: &RegionId) -> Result<RegionRow, AppError> {
    regions::table
        .find(id.as_str())
        .first::<RegionRow>(conn)
        .optional()?
        .ok_or_else(|| AppError::NotFound(format!("no region with id {id}")))
}

/// A region that a request refers to: 422 when it does not exist.
pub fn referenced(
    conn: &mut DbConnection,
    field: &str,
    id: &RegionId,
) -> Result<RegionRow, AppError> {
    find_row(conn, id)
        .when_missing(|| AppError::validation(format!("{field}: no region with id {id}")))
}

pub fn find_by_code(conn: &mut DbConnection, code: &str) -> Result<Option<RegionRow>, AppError> {
    Ok(regions::table
        .filter(regions::code.eq(code))
        .first(conn)
        .optional()?)
}

pub fn create(
    conn: &mut DbConnection,
    input: NewRegion,
    now: NaiveDateTime,
) -> Result<Region, AppError> {
    validate::code("code", &input.code)?;
    validate::name("name", &input.name, 200)?;
    check_centre(input.center_lat, input.center_lng)?;
    let polygon = polygon_columns(input.polygon.as_ref())?;
    let parent_path = match &input.parent_id {
        Some(p) => Some(referenced(conn, "parent_id", p)?.path),
        None => None,
    };
    let id = RegionId::generate();
    let mut row = RegionRow {
        path: tree::child_path(parent_path.as_deref(), id.as_str()),
        id: id.0,
        code: input.code,
        name: input.name.trim().to_string(),
        level: input.level.as_str().to_string(),
        parent_id: input.parent_id.map(|p| p.0),
        center_lat: input.center_lat,
        center_lng: input.center_lng,
        polygon: None,
        min_lat: None,
        min_lng: None,
        max_lat: None,
        max_lng: None,
        created_at: now,
        updated_at: now,
    };
    apply_polygon(&mut row, polygon);
    diesel::insert_into(regions::table)
        .values(&row)
        .execute(conn)
        .map_err(|e| match AppError::from(e) {
            AppError::Duplicate => {
                AppError::conflict("code_taken", format!("region code '{}' is taken", row.code))
            }
            other => other,
        })?;
    Ok(row.into())
}

pub fn get(conn: &mut DbConnection, id: &RegionId) -> Result<Region, AppError> {
    find_row(conn, id).map(Region::from)
}

pub fn list(
    conn: &mut DbConnection,
    filter: &RegionFilter,
    page: &PageRequest,
) -> Result<Page<Region>, AppError> {
    let mut query = regions::table.into_boxed();
    if let Some(after) = page.after_key()? {
        query = query.filter(regions::id.gt(after.to_string()));
    }
    if let Some(parent) = filter.parent_id {
        query = query.filter(regions::parent_id.eq(parent.to_string()));
    }
    if let Some(under) = filter.under {
        let root = find_row(conn, &RegionId(under.to_string()))?;
        let (lo, hi) = tree::subtree_range(&root.path);
        query = query.filter(regions::path.ge(lo).and(regions::path.lt(hi)));
    }
    if let Some(level) = filter.level {
        query = query.filter(regions::level.eq(level.as_str()));
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        let pattern = crate::db::contains_pattern(q);
        query = query.filter(
            regions::name
                .like(pattern.clone())
                .or(regions::code.like(pattern)),
        );
    }
    let rows: Vec<RegionRow> = query
        .order(regions::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(Page::from_rows(rows, page, |r| vec![r.id.clone()]).map(Region::from))
}

pub fn update(
    conn: &mut DbConnection,
    id: &RegionId,
    changes: RegionChanges,
    now: NaiveDateTime,
) -> Result<Region, AppError> {
    crate::db::write_tx(conn, |conn| {
        let mut row = find_row(conn, id)?;
        if let Some(name) = changes.name {
            validate::name("name", &name, 200)?;
            row.name = name.trim().to_string();
        }
        if let Some(level) = changes.level {
            row.level = level.as_str().to_string();
        }
        if let Some(lat) = changes.center_lat {
            row.center_lat = lat;
        }
        if let Some(lng) = changes.center_lng {
            row.center_lng = lng;
        }
        check_centre(row.center_lat, row.center_lng)?;
        if let Some(polygon) = changes.polygon {
            apply_polygon(&mut row, polygon_columns(polygon.as_ref())?);
        }
        if let Some(new_parent) = changes.parent_id {
            reparent!(conn, regions, row, new_parent, referenced, "region");
        }
        row.updated_at = now;
        diesel::update(regions::table.find(&row.id))
            .set(&row)
            .execute(conn)?;
        Ok(row.into())
    })
}

/// The smallest region whose polygon contains the point, if any. The bounding-box columns
/// (indexed) narrow the candidates; the exact test runs in Rust.
pub fn resolve(conn: &mut DbConnection, lat: f64, lng: f64) -> Result<Option<RegionRow>, AppError> {
    validate::latitude("lat", lat)?;
    validate::longitude("lng", lng)?;
    let candidates: Vec<RegionRow> = regions::table
        .filter(regions::polygon.is_not_null())
        .filter(regions::min_lat.le(lat))
        .filter(regions::max_lat.ge(lat))
        .filter(regions::min_lng.le(lng))
        .filter(regions::max_lng.ge(lng))
        .load(conn)?;
    let best = candidates
        .into_iter()
        .filter_map(|row| {
            let shape = Shape::from_geojson_text(row.polygon.as_deref()?).ok()?;
            shape.contains(lat, lng).then(|| (shape.area(), row))
        })
        // smallest area wins; on a tie the deeper region
        .min_by(|(a, ra), (b, rb)| a.total_cmp(b).then(rb.path.len().cmp(&ra.path.len())));
    Ok(best.map(|(_, row)| row))
}
