//! Untimed set-up shared by the benchmarks and the property tests: a studio with its catalogue
//! and employees written straight into the database (the engine's own paths are what they time
//! or test, not the set-up). Included by `tests/common/mod.rs` and, through `#[path]`, by the
//! benches.

#![allow(dead_code, clippy::unwrap_used)]

use app::domain::{EmployeeId, ServiceId, StudioId};
use app::engine::db;
use app::engine::Engine;

/// A studio named `name` with one service in its catalogue ("Cut", CHF 95.00).
pub async fn studio_with_a_service(engine: &Engine, name: &str) -> (StudioId, ServiceId) {
    let studio = StudioId::generate();
    let service = ServiceId::generate();
    db::query("INSERT INTO studios (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(studio)
        .bind(name)
        .bind(chrono::Utc::now())
        .execute(engine.pool())
        .await
        .unwrap();
    db::query("INSERT INTO services (id, studio_id, name, category, list_price) VALUES ($1, $2, 'Cut', 'hair', 9500)")
        .bind(service)
        .bind(studio)
        .execute(engine.pool())
        .await
        .unwrap();
    (studio, service)
}

/// An employee of `studio` earning `commission_bps` (basis points of the price).
pub async fn employee(
    engine: &Engine,
    studio: StudioId,
    name: &str,
    commission_bps: i64,
) -> EmployeeId {
    let id = EmployeeId::generate();
    db::query("INSERT INTO employees (id, studio_id, name, commission_bps, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(studio)
        .bind(name)
        .bind(commission_bps)
        .bind(chrono::Utc::now())
        .execute(engine.pool())
        .await
        .unwrap();
    id
}
