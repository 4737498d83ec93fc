//! dawnpost: one shared morning report for e-commerce marketing and operations.
//!
//! The pure core (`period`, `compare`, `metric`, `report::assemble`, `format`) never does I/O
//! and never reads the clock; `store`, `ingest`, `demo` and `cli` touch the outside world.
//! See ARCHITECTURE.md.

pub mod alert;
pub mod chart;
pub mod cli;
pub mod compare;
pub mod compose;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod digest;
pub mod forecast;
pub mod format;
pub mod gather;
pub mod ingest;
pub mod message;
pub mod metric;
pub mod news;
pub mod okr;
pub mod period;
pub mod render;
pub mod report;
pub mod rollup;
pub mod schedule;
pub mod scheduler;
pub mod shops;
pub mod shutdown;
pub mod store;
pub mod table;
pub mod text;
