//! dawnpost: one shared morning report for e-commerce marketing and operations.
//!
//! By pipeline stage, each folder depending only on those below it: `ingest` and `demo` fill
//! the `store`; `store` reads back figures (`report`, `gather`) in the types of `metrics`, the
//! pure arithmetic of periods, comparisons, key results, alerts, news and the forecast;
//! `digest` words them, `chart` draws them, `email` renders and composes the message, and
//! `delivery` sends it; `serve` runs it at 6 AM and `cli` dispatches. The pure core never
//! does I/O nor reads the clock. See ARCHITECTURE.md.

pub mod caught;
pub mod chart;
pub mod chat;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod digest;
pub mod email;
pub mod ingest;
pub mod metrics;
pub mod progress;
pub mod schedule;
pub mod schema;
pub mod serve;
pub mod shops;
pub mod shutdown;
pub mod store;
pub mod text;
