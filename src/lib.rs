//! dawnpost: one shared morning report for e-commerce marketing and operations.
//!
//! The pure core (`period`, `compare`, `metric`, `report::assemble`, `format`) never does I/O
//! and never reads the clock; `store`, `import`, `demo` and `cli` touch the outside world.
//! See ARCHITECTURE.md.

pub mod cli;
pub mod compare;
pub mod config;
pub mod demo;
pub mod format;
pub mod import;
pub mod metric;
pub mod period;
pub mod report;
pub mod store;
pub mod table;
