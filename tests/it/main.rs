//! The integration tests: one binary, one module per concept.

mod support;

mod cli;
mod demo;
mod email;
mod exim;
mod export_faults;
mod faults;
mod import;
mod layout;
mod limits;
mod metrics;
mod news;
mod outlook;
mod presets;
mod rollup;
mod scale;
mod send;
mod serve;
mod smtp;
