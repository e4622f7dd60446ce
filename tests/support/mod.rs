//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod asking;
pub mod bot;
pub mod db;
pub mod harness;
pub mod logs;
pub mod openapi;
pub mod sandbox;
pub mod world;
