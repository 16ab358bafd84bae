//! Timestamps read from the database, parsed by hand on SQLite.
//!
//! SQLite keeps a timestamp as text (`2026-12-04 21:06:23.342950`, as diesel writes it), and
//! diesel reads it with chrono's `parse_from_str`, which parses its format string again for
//! every value: a page of 50 tickets has about 1,200 of them, and reading them was a seventh
//! of the page's time (docs/benchmarks.md, "The fifth round"). These types read that shape
//! directly and leave anything else to diesel. Row structs use them through
//! `#[diesel(deserialize_as = …)]`: their fields stay `NaiveDateTime`.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::sql_types::{Nullable, Timestamp};
use diesel::sqlite::{Sqlite, SqliteType};

use super::MultiBackend;

/// A `Timestamp` column's value.
#[derive(Debug, Clone, Copy, diesel::deserialize::FromSqlRow)]
pub struct Stamp(pub NaiveDateTime);

/// A nullable `Timestamp` column's value.
#[derive(Debug, Clone, Copy, diesel::deserialize::FromSqlRow)]
pub struct MaybeStamp(pub Option<NaiveDateTime>);

impl From<Stamp> for NaiveDateTime {
    fn from(s: Stamp) -> Self {
        s.0
    }
}

impl From<MaybeStamp> for Option<NaiveDateTime> {
    fn from(s: MaybeStamp) -> Self {
        s.0
    }
}

/// `YYYY-MM-DD HH:MM:SS` (or with `T`), with up to nine digits of fraction; `None` for any
/// other shape.
pub fn parse(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let digits = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(digits(0, 4)? as i32, digits(5, 7)?, digits(8, 10)?)?;
    let (h, m, s) = (digits(11, 13)?, digits(14, 16)?, digits(17, 19)?);
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            digits(20, b.len())? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    Some(NaiveDateTime::new(
        date,
        NaiveTime::from_hms_nano_opt(h, m, s, nanos)?,
    ))
}

impl FromSql<Timestamp, Sqlite> for Stamp {
    fn from_sql(mut value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        if value.value_type() == Some(SqliteType::Text) {
            if let Some(t) = parse(value.read_text()) {
                return Ok(Stamp(t));
            }
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(Stamp)
    }
}

impl FromSql<Timestamp, Pg> for Stamp {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Stamp)
    }
}

impl FromSql<Timestamp, MultiBackend> for Stamp {
    fn from_sql(
        value: <MultiBackend as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

/// `MaybeStamp` on one backend: NULL is `None`, anything else as `Stamp` reads it.
macro_rules! maybe_stamp_on {
    ($backend:ty) => {
        impl FromSql<Nullable<Timestamp>, $backend> for MaybeStamp {
            fn from_sql(
                value: <$backend as diesel::backend::Backend>::RawValue<'_>,
            ) -> deserialize::Result<Self> {
                <Stamp as FromSql<Timestamp, $backend>>::from_sql(value)
                    .map(|s| MaybeStamp(Some(s.0)))
            }

            fn from_nullable_sql(
                value: Option<<$backend as diesel::backend::Backend>::RawValue<'_>>,
            ) -> deserialize::Result<Self> {
                match value {
                    Some(value) => {
                        <Self as FromSql<Nullable<Timestamp>, $backend>>::from_sql(value)
                    }
                    None => Ok(MaybeStamp(None)),
                }
            }
        }
    };
}

maybe_stamp_on!(Sqlite);
maybe_stamp_on!(Pg);
maybe_stamp_on!(MultiBackend);

#[cfg(test)]
mod tests {
    use super::parse;
    use chrono::NaiveDateTime;

    #[test]
    fn reads_what_diesel_and_sqlite_write() {
        for text in [
            "2026-12-04 21:06:23.342950",
            "2026-12-04 21:06:23",
            "2026-12-04T21:06:23.3",
            "2026-12-04 21:06:23.123456789",
            "2024-02-29 00:00:00.000001",
        ] {
            let slow = NaiveDateTime::parse_from_str(&text.replacen('T', " ", 1), "%F %T%.f")
                .expect("chrono reads it");
            assert_eq!(parse(text), Some(slow), "{text}");
        }
        for text in [
            "2026-12-04",
            "2026-13-04 21:06:23",
            "2026-12-04 25:06:23",
            "2026-12-04 21:06:23.",
            "2026-12-04 21:06:23.1234567890",
            "2026-12-04 21:06:23Z",
            "2026-12-04 21:06:23+08:00",
            "２026-12-04 21:06:23",
            "2459000.5",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
