//! The figures' arithmetic: the metric catalog, report periods, comparisons, key results,
//! alerts, the news and the forecast.
//!
//! Pure and at the bottom of the crate: nothing here imports another part of dawnpost, does
//! I/O or reads the clock. The store fills these types; the digest words them.

pub mod alert;
pub mod calendar;
pub mod compare;
pub mod forecast;
pub mod inputs;
pub mod live;
pub mod metric;
pub mod news;
pub mod okr;
pub mod period;
pub mod plan;
pub mod preflight;
pub mod report;
pub mod zeros;
