//! `Day`: a calendar day as the store keeps it, `YYYY-MM-DD` text on both backends (text that
//! sorts as the days do), bound and read as a date so no query formats or parses one itself.

use chrono::NaiveDate;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

/// A day bound to or read from a `day`-like column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub NaiveDate);

impl From<NaiveDate> for Day {
    fn from(d: NaiveDate) -> Day {
        Day(d)
    }
}

impl From<Day> for NaiveDate {
    fn from(d: Day) -> NaiveDate {
        d.0
    }
}

impl<DB: Database> Type<DB> for Day
where
    String: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as Type<DB>>::compatible(ty)
    }
}

impl<'q, DB: Database> Encode<'q, DB> for Day
where
    String: Encode<'q, DB>,
{
    fn encode_by_ref(&self, buf: &mut DB::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // NaiveDate shows as zero-padded `%Y-%m-%d`: the form every row is written in.
        self.0.to_string().encode(buf)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for Day
where
    &'r str: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Day, BoxDynError> {
        let text = <&str as Decode<DB>>::decode(value)?;
        text.parse::<NaiveDate>().map(Day).map_err(|_| {
            let shown = crate::text::cap(text, 40);
            format!("{shown:?} is not a YYYY-MM-DD day").into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_day_goes_in_and_comes_out_as_text_that_sorts() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        let d = NaiveDate::from_ymd_opt(987, 3, 4).unwrap();
        let (text, back): (String, Day) = sqlx::query_as("SELECT $1, $1")
            .bind(Day(d))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(text, "0987-03-04");
        assert_eq!(back, Day(d));
        let bad = sqlx::query_scalar::<_, Day>("SELECT '2026-02-30'")
            .fetch_one(&pool)
            .await
            .unwrap_err();
        assert!(
            bad.to_string()
                .contains("\"2026-02-30\" is not a YYYY-MM-DD day"),
            "{bad}"
        );
    }
}
