//! Ticket numbers: `HL` + the date in China time + a counter that never repeats. Numbers are
//! unique and sort by day; they may have gaps.
//!
//! PostgreSQL draws from a sequence (`ticket_number_seq`, 8 digits): no row lock, so concurrent
//! intakes never queue behind one another (a daily counter row made every intake of the day
//! wait on one lock); a rolled-back intake leaves a gap. SQLite, whose writers are serialised
//! anyway, keeps the per-day counter (6 digits, from 1 each day, no gaps).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::ticket_counters;
use crate::db::DbConnection;
use crate::error::AppError;

/// The date in China Standard Time (UTC+8; China keeps no daylight saving, so the shift is exact).
fn china_date(now: NaiveDateTime) -> String {
    (now + chrono::Duration::hours(8))
        .format("%Y%m%d")
        .to_string()
}

/// The next number of the day, `HL` + date (China time) + 6 digits. The counter row is updated
/// with `UPDATE ... RETURNING` inside the ticket's transaction: concurrent writers, in one
/// process or several, queue on the row lock and never share a number.
///
/// `lock`: a key (`db::lock_id`) the transaction takes with the number, in the same round trip
/// on PostgreSQL (SQLite's write lock already serialises its writers).
pub(super) fn next_number(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lock: Option<&str>,
) -> Result<String, AppError> {
    let day = china_date(now);
    if let DbConnection::Pg(pg) = conn {
        let n = crate::db::next_ticket_number(pg, lock)?;
        return Ok(format!("HL{day}{n:08}"));
    }
    let bump = |conn: &mut DbConnection| -> Result<Option<i32>, AppError> {
        Ok(crate::db::Cached(
            diesel::update(ticket_counters::table.find(&day))
                .set(ticket_counters::last.eq(ticket_counters::last + 1))
                .returning(ticket_counters::last),
        )
        .get_result::<i32>(conn)
        .optional()?)
    };
    let last = match bump(conn)? {
        Some(n) => n,
        None => {
            // first ticket of the day: create the row; a concurrent creator may win the insert
            let inserted = conn.transaction(|c| {
                diesel::insert_into(ticket_counters::table)
                    .values((ticket_counters::day.eq(&day), ticket_counters::last.eq(0)))
                    .execute(c)
            });
            match inserted {
                Ok(_)
                | Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => {}
                Err(e) => return Err(e.into()),
            }
            bump(conn)?.ok_or_else(|| AppError::Internal("ticket counter vanished".into()))?
        }
    };
    Ok(format!("HL{day}{last:06}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_china_date() {
        let late_utc = chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .and_then(|d| d.and_hms_opt(16, 30, 0))
            .expect("time");
        assert_eq!(
            china_date(late_utc),
            "20261124",
            "00:30 next day in Beijing"
        );
        let early_utc = chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .and_then(|d| d.and_hms_opt(15, 59, 59))
            .expect("time");
        assert_eq!(china_date(early_utc), "20261123");
    }
}
