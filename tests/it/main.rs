//! The integration tests: one binary, every test runs the real `mlops`
//! executable against real git repositories in temp dirs.

mod support;

mod ci;
mod contracts;
mod data;
mod demo;
mod drift;
mod fairness;
mod foundation;
mod governance;
mod history;
mod install;
mod monitoring;
mod paths;
mod privacy;
mod registry;
mod report;
mod runner;
mod scale;
mod secrets;
mod shadow;
mod sync;
mod tracking;
