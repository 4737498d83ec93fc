//! The integration tests: one binary, one module per concept.

// Tests stand where a user does: they read the clock to set up "now", as the CLI does.
#![allow(clippy::disallowed_methods)]

mod support;

mod cli;
mod demo;
mod email;
mod exim;
mod export_faults;
mod faults;
mod first_load;
mod glance;
mod import;
mod layout;
mod limits;
mod live;
mod lumpy;
mod metrics;
mod never_twice;
mod news;
mod nightly;
mod outlook;
mod pg_cluster;
mod preflight;
mod presets;
mod replay;
mod rollup;
mod scale;
mod send;
mod serve;
mod serve_stop;
mod slack;
mod smtp;
mod sync;
mod teams;
mod weekly;
