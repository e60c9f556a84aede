//! Payout Engine application crate, compiled twice: with `ssr` for the server (domain + engine +
//! server functions + server-side rendering) and with `hydrate` for the browser (domain + UI).
//! The state machines in [`domain`] are the same code on both sides.

#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod domain;
#[cfg(feature = "ssr")]
pub mod engine;
pub mod pages;

pub use pages::{shell, App};
