//! Region shapes: GeoJSON (Polygon or MultiPolygon, `[lng, lat]` order) parsed into `geo`
//! types, with the bounding box used as the database prefilter and point-in-polygon in Rust.

use geo::{Area, BoundingRect, Centroid, Contains, MultiPolygon, Point};

#[derive(Debug, Clone)]
pub struct Shape {
    polygons: MultiPolygon<f64>,
}

/// A bounding box in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    pub min_lat: f64,
    pub min_lng: f64,
    pub max_lat: f64,
    pub max_lng: f64,
}

impl Shape {
    /// Parses a GeoJSON geometry (or a Feature holding one) of type Polygon or MultiPolygon.
    pub fn from_geojson(value: &serde_json::Value) -> Result<Shape, String> {
        let parsed = serde_json::from_value::<geojson::GeoJson>(value.clone())
            .map_err(|e| format!("not GeoJSON: {e}"))?;
        let geometry = match parsed {
            geojson::GeoJson::Geometry(g) => g,
            geojson::GeoJson::Feature(f) => f.geometry.ok_or("the Feature has no geometry")?,
            geojson::GeoJson::FeatureCollection(_) => {
                return Err("give one geometry, not a FeatureCollection".into())
            }
        };
        let geometry: geo::Geometry<f64> = geometry
            .try_into()
            .map_err(|e: geojson::Error| format!("bad geometry: {e}"))?;
        let polygons = match geometry {
            geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
            geo::Geometry::MultiPolygon(mp) => mp,
            _ => return Err("the geometry must be a Polygon or a MultiPolygon".into()),
        };
        let shape = Shape { polygons };
        let bbox = shape.bbox().ok_or("the polygon is empty")?;
        let in_range =
            |lat: f64, lng: f64| (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng);
        if !in_range(bbox.min_lat, bbox.min_lng) || !in_range(bbox.max_lat, bbox.max_lng) {
            return Err("coordinates must be [longitude, latitude] in degrees".into());
        }
        if shape.area() <= 0.0 {
            return Err("the polygon has no area".into());
        }
        Ok(shape)
    }

    pub fn from_geojson_text(text: &str) -> Result<Shape, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        Shape::from_geojson(&value)
    }

    pub fn bbox(&self) -> Option<BBox> {
        self.polygons.bounding_rect().map(|r| BBox {
            min_lat: r.min().y,
            min_lng: r.min().x,
            max_lat: r.max().y,
            max_lng: r.max().x,
        })
    }

    /// Area in square degrees: only for comparing nested regions.
    pub fn area(&self) -> f64 {
        self.polygons.unsigned_area()
    }

    /// A representative point `(lat, lng)`.
    pub fn centre(&self) -> Option<(f64, f64)> {
        self.polygons.centroid().map(|p| (p.y(), p.x()))
    }

    pub fn contains(&self, lat: f64, lng: f64) -> bool {
        self.polygons.contains(&Point::new(lng, lat))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn square(lng: f64, lat: f64, size: f64) -> serde_json::Value {
        json!({"type": "Polygon", "coordinates": [[[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]]})
    }

    #[test]
    fn point_in_polygon() {
        let shape = Shape::from_geojson(&square(118.0, 36.0, 0.01)).expect("shape");
        assert!(shape.contains(36.005, 118.005));
        assert!(!shape.contains(36.02, 118.005));
        let bbox = shape.bbox().expect("bbox");
        assert!((bbox.max_lat - 36.01).abs() < 1e-9);
        assert!(Shape::from_geojson(&json!({"type": "Point", "coordinates": [1, 2]})).is_err());
        assert!(Shape::from_geojson(&json!({"hello": 1})).is_err());
    }
}
