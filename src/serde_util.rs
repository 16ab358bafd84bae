//! Small serde helpers shared by request bodies, import records and answers.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// For PATCH bodies: absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
pub fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// JSON text stored in a column, decoded leniently (a bad stored value reads as the default).
pub fn from_json_text<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}

pub fn to_json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// A time in an answer, exactly as chrono's own `Serialize` writes it (RFC 3339 in UTC with `Z`,
/// as many fractional digits as it needs), but handed to the serializer as one string: chrono
/// writes it through `collect_str` in a dozen pieces, and serde_json escapes each piece on its
/// own — 13 % of the server's time on a page of 50 tickets with their deadlines
/// (docs/benchmarks.md, "The eighth round"). `#[serde(serialize_with = "crate::serde_util::stamp")]`.
pub fn stamp<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// `stamp` of an optional time (`null` when absent).
pub fn stamp_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => stamp(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    #[derive(serde::Serialize)]
    struct Both {
        chrono: DateTime<Utc>,
        #[serde(serialize_with = "super::stamp")]
        ours: DateTime<Utc>,
        chrono_opt: Option<DateTime<Utc>>,
        #[serde(serialize_with = "super::stamp_opt")]
        ours_opt: Option<DateTime<Utc>>,
    }

    /// Written as chrono writes it, whatever the fraction.
    #[test]
    fn stamps_read_as_chrono_writes_them() {
        let base = Utc
            .with_ymd_and_hms(2026, 12, 5, 22, 14, 29)
            .single()
            .expect("a time");
        for nanos in [0, 786_000_000, 786_818_000, 786_818_123, 1, 999_999_999] {
            let t = base + chrono::Duration::nanoseconds(nanos);
            for opt in [Some(t), None] {
                let v = serde_json::to_value(Both {
                    chrono: t,
                    ours: t,
                    chrono_opt: opt,
                    ours_opt: opt,
                })
                .expect("serializes");
                assert_eq!(v["chrono"], v["ours"], "{nanos}");
                assert_eq!(v["chrono_opt"], v["ours_opt"], "{nanos}");
            }
        }
    }
}
