//! The deterministic demo data set (`payout-engine seed-demo`, `serve --demo`): two studios,
//! twelve employees, each studio's catalogue, and 60 days (2026-09-01 to 2026-10-30) of services
//! and day records for every working day. September is already paid out for everyone but Lara
//! Meier, whose next payout covers exactly 212 records and comes to exactly CHF 18'080.00 — the
//! payout the no-code system reported as done after marking ~100 of its records.
//!
//! The same seed always yields the same ids, records and amounts (ChaCha8, a stream that is
//! stable across `rand` versions). Seeding a database that already has studios does nothing.

use super::access::Caller;
use super::db;
use super::idempotency::IdempotencyKey;
use super::{db_error, now, Engine};
use crate::domain::*;
use chrono::{Datelike, NaiveDate, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

/// First day of the demo window.
pub const WINDOW_START: (i32, u32, u32) = (2026, 9, 1);
/// Number of days in the demo window.
pub const WINDOW_DAYS: i64 = 60;
/// The employee whose next payout is the 212-record one.
pub const FEATURED_EMPLOYEE: &str = "Lara Meier";
/// Records in the featured employee's next payout.
pub const FEATURED_RECORDS: i64 = 212;
/// Total of the featured employee's next payout: CHF 18'080.00.
pub const FEATURED_TOTAL: Rappen = Rappen(1_808_000);

const SEED: u64 = 0x5041_594f_5554; // "PAYOUT"

struct CatalogueEntry {
    name: &'static str,
    category: &'static str,
    price: i64,
}

const CATALOGUE: [CatalogueEntry; 10] = [
    CatalogueEntry {
        name: "Women's cut & blow-dry",
        category: "hair",
        price: 9_500,
    },
    CatalogueEntry {
        name: "Men's cut",
        category: "hair",
        price: 5_500,
    },
    CatalogueEntry {
        name: "Blow-dry",
        category: "hair",
        price: 4_500,
    },
    CatalogueEntry {
        name: "Full colour",
        category: "colour",
        price: 18_500,
    },
    CatalogueEntry {
        name: "Highlights",
        category: "colour",
        price: 22_000,
    },
    CatalogueEntry {
        name: "Balayage",
        category: "colour",
        price: 26_000,
    },
    CatalogueEntry {
        name: "Manicure",
        category: "nails",
        price: 6_000,
    },
    CatalogueEntry {
        name: "Gel nails",
        category: "nails",
        price: 8_500,
    },
    CatalogueEntry {
        name: "Facial",
        category: "cosmetics",
        price: 12_000,
    },
    CatalogueEntry {
        name: "Brow shaping",
        category: "cosmetics",
        price: 3_500,
    },
];

struct DemoEmployee {
    name: &'static str,
    studio: usize,
    bps: i64,
    colour_bps: Option<i64>,
    /// Categories they perform.
    categories: &'static [&'static str],
    chair_rent: i64,
    guaranteed_minimum: i64,
    day_off: Weekday,
    /// Where bank payouts go (a valid test IBAN); `None` shows a payout a bank file must skip.
    iban: Option<&'static str>,
}

/// A demo login (README "Demo logins"). Their passwords are published, so `serve` refuses to
/// start outside demo mode while any of them is active.
pub struct DemoLogin {
    /// Sign-in email (`.test` is reserved for testing, RFC 2606).
    pub email: &'static str,
    /// Published password.
    pub password: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Role.
    pub role: Role,
    /// A receptionist's studio (index into the demo studios).
    pub studio: Option<usize>,
    /// An employee's name.
    pub employee: Option<&'static str>,
}

/// One user per role (and a receptionist per studio).
pub const DEMO_LOGINS: [DemoLogin; 4] = [
    DemoLogin {
        email: "owner@demo.test",
        password: "owner-demo",
        name: "Claudia Steiner",
        role: Role::Owner,
        studio: None,
        employee: None,
    },
    DemoLogin {
        email: "reception@demo.test",
        password: "reception-demo",
        name: "Reception Zürich",
        role: Role::Receptionist,
        studio: Some(0),
        employee: None,
    },
    DemoLogin {
        email: "reception.bern@demo.test",
        password: "reception-demo",
        name: "Reception Bern",
        role: Role::Receptionist,
        studio: Some(1),
        employee: None,
    },
    DemoLogin {
        email: "lara@demo.test",
        password: "employee-demo",
        name: "Lara Meier",
        role: Role::Employee,
        studio: None,
        employee: Some(FEATURED_EMPLOYEE),
    },
];

const STUDIOS: [&str; 2] = ["Salon Seefeld, Zürich", "Studio Marktgasse, Bern"];

/// The accounts the demo studios pay bank payouts from (valid test IBANs, not real accounts).
const STUDIO_IBANS: [&str; 2] = ["CH9300762011623852957", "CH8900235000012345678"];

const EMPLOYEES: [DemoEmployee; 12] = [
    DemoEmployee {
        name: FEATURED_EMPLOYEE,
        studio: 0,
        bps: 5_000,
        colour_bps: Some(5_500),
        categories: &["colour", "hair"],
        chair_rent: 2_000,
        guaranteed_minimum: 0,
        day_off: Weekday::Mon,
        iban: Some("CH0300700110000123456"),
    },
    DemoEmployee {
        name: "Jonas Keller",
        studio: 0,
        bps: 4_000,
        colour_bps: None,
        categories: &["hair"],
        chair_rent: 0,
        guaranteed_minimum: 0,
        day_off: Weekday::Tue,
        iban: Some("CH3600483000009876543"),
    },
    DemoEmployee {
        name: "Sofia Brunner",
        studio: 0,
        bps: 4_500,
        colour_bps: Some(5_000),
        categories: &["hair", "colour"],
        chair_rent: 0,
        guaranteed_minimum: 0,
        day_off: Weekday::Wed,
        iban: Some("CH6000230000011112222"),
    },
    DemoEmployee {
        name: "Mia Fischer",
        studio: 0,
        bps: 4_000,
        colour_bps: None,
        categories: &["nails"],
        chair_rent: 0,
        guaranteed_minimum: 0,
        day_off: Weekday::Thu,
        iban: Some("CH9300767000033334444"),
    },
    DemoEmployee {
        name: "Noah Weber",
        studio: 0,
        bps: 3_500,
        colour_bps: None,
        categories: &["hair"],
        chair_rent: 0,
        guaranteed_minimum: 12_000,
        day_off: Weekday::Fri,
        iban: None,
    },
    DemoEmployee {
        name: "Elena Rossi",
        studio: 0,
        bps: 4_200,
        colour_bps: None,
        categories: &["cosmetics", "nails"],
        chair_rent: 3_000,
        guaranteed_minimum: 0,
        day_off: Weekday::Mon,
        iban: Some("CH7200788000055556666"),
    },
    DemoEmployee {
        name: "Luca Schmid",
        studio: 1,
        bps: 4_000,
        colour_bps: Some(4_500),
        categories: &["hair", "colour"],
        chair_rent: 0,
        guaranteed_minimum: 0,
        day_off: Weekday::Mon,
        iban: Some("CH9300790000077778888"),
    },
    DemoEmployee {
        name: "Anna Huber",
        studio: 1,
        bps: 4_500,
        colour_bps: None,
        categories: &["hair"],
        chair_rent: 2_500,
        guaranteed_minimum: 0,
        day_off: Weekday::Tue,
        iban: Some("CH7200781000099990000"),
    },
    DemoEmployee {
        name: "Leonie Graf",
        studio: 1,
        bps: 4_000,
        colour_bps: None,
        categories: &["nails", "cosmetics"],
        chair_rent: 0,
        guaranteed_minimum: 0,
        day_off: Weekday::Wed,
        iban: Some("CH5900762000012121212"),
    },
    DemoEmployee {
        name: "David Baumann",
        studio: 1,
        bps: 3_500,
        colour_bps: None,
        categories: &["hair"],
        chair_rent: 0,
        guaranteed_minimum: 12_000,
        day_off: Weekday::Thu,
        iban: Some("CH1900235000034343434"),
    },
    DemoEmployee {
        name: "Chiara Moser",
        studio: 1,
        bps: 4_800,
        colour_bps: Some(5_200),
        categories: &["colour"],
        chair_rent: 0,
        guaranteed_minimum: 0,
        day_off: Weekday::Fri,
        iban: Some("CH5800700000056565656"),
    },
    DemoEmployee {
        name: "Tim Frei",
        studio: 1,
        bps: 4_000,
        colour_bps: None,
        categories: &["hair", "cosmetics"],
        chair_rent: 0,
        guaranteed_minimum: 0,
        day_off: Weekday::Sat,
        iban: Some("CH7300483000078787878"),
    },
];

struct SeedRecord {
    id: Uuid,
    studio: Uuid,
    employee: Uuid,
    service: Uuid,
    on: NaiveDate,
    price: i64,
    tip: i64,
    method: PaymentMethod,
    bps: i64,
    commission: i64,
}

struct SeedDay {
    id: Uuid,
    studio: Uuid,
    employee: Uuid,
    on: NaiveDate,
    deduction: i64,
    minimum: i64,
}

/// What seeding did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    /// False when the database already had data and nothing was written.
    pub seeded: bool,
    /// Service records written.
    pub service_records: usize,
    /// Day records written.
    pub day_records: usize,
    /// Payouts committed (September, everyone but the featured employee).
    pub payouts: usize,
}

fn uuid_from(rng: &mut ChaCha8Rng) -> Uuid {
    let bytes: [u8; 16] = rng.random();
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// First day of the demo window.
pub fn window_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(WINDOW_START.0, WINDOW_START.1, WINDOW_START.2)
        .unwrap_or(NaiveDate::MIN)
}

/// Last day of the demo window (inclusive).
pub fn window_end() -> NaiveDate {
    window_start() + chrono::Duration::days(WINDOW_DAYS - 1)
}

impl Engine {
    /// Writes the demo data set unless the database already has studios.
    ///
    /// Errors: any database error (nothing is half-written: the records go in one transaction;
    /// the September payouts then run through the normal engine).
    pub async fn seed_demo(&self) -> Result<SeedReport, AppError> {
        let existing: i64 = db::query_scalar("SELECT COUNT(*) FROM studios")
            .fetch_one(self.pool())
            .await
            .map_err(db_error("checking for existing data"))?;
        if existing > 0 {
            return Ok(SeedReport {
                seeded: false,
                service_records: 0,
                day_records: 0,
                payouts: 0,
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        let created = now();
        let studio_ids: Vec<Uuid> = STUDIOS.iter().map(|_| uuid_from(&mut rng)).collect();
        let service_ids: Vec<Vec<Uuid>> = STUDIOS
            .iter()
            .map(|_| CATALOGUE.iter().map(|_| uuid_from(&mut rng)).collect())
            .collect();
        let employee_ids: Vec<Uuid> = EMPLOYEES.iter().map(|_| uuid_from(&mut rng)).collect();

        let mut records: Vec<SeedRecord> = Vec::new();
        let mut days: Vec<SeedDay> = Vec::new();
        for (index, employee) in EMPLOYEES.iter().enumerate() {
            let featured = employee.name == FEATURED_EMPLOYEE;
            let studio = studio_ids[employee.studio];
            let working_days: Vec<NaiveDate> = (0..WINDOW_DAYS)
                .map(|d| window_start() + chrono::Duration::days(d))
                .filter(|d| d.weekday() != Weekday::Sun && d.weekday() != employee.day_off)
                .collect();
            let first_record = records.len();
            let service_target = if featured {
                usize::try_from(FEATURED_RECORDS)
                    .unwrap_or(0)
                    .saturating_sub(working_days.len())
            } else {
                0
            };
            for (day_index, day) in working_days.iter().enumerate() {
                days.push(SeedDay {
                    id: uuid_from(&mut rng),
                    studio,
                    employee: employee_ids[index],
                    on: *day,
                    deduction: employee.chair_rent,
                    minimum: employee.guaranteed_minimum,
                });
                let per_day = if featured {
                    // Spread exactly `service_target` services over the working days.
                    let before = service_target * day_index / working_days.len();
                    let after = service_target * (day_index + 1) / working_days.len();
                    after - before
                } else {
                    rng.random_range(2..=6)
                };
                for _ in 0..per_day {
                    let options: Vec<usize> = CATALOGUE
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| employee.categories.contains(&c.category))
                        .filter(|(_, c)| !featured || c.price >= 9_500)
                        .map(|(i, _)| i)
                        .collect();
                    let pick = options[rng.random_range(0..options.len())];
                    let entry = &CATALOGUE[pick];
                    // Prices vary around the list price in 5-franc steps (long hair, extra product).
                    let price = entry.price + 500 * rng.random_range(-1..=3);
                    let tip = [0, 0, 200, 500, 500, 1_000][rng.random_range(0..6)];
                    let method = [
                        PaymentMethod::Card,
                        PaymentMethod::Card,
                        PaymentMethod::Twint,
                        PaymentMethod::Cash,
                    ][rng.random_range(0..4)];
                    let bps = match (entry.category, employee.colour_bps) {
                        ("colour", Some(colour)) => colour,
                        _ => employee.bps,
                    };
                    records.push(SeedRecord {
                        id: uuid_from(&mut rng),
                        studio,
                        employee: employee_ids[index],
                        service: service_ids[employee.studio][pick],
                        on: *day,
                        price,
                        tip,
                        method,
                        bps,
                        commission: BasisPoints(bps).commission_on(Rappen(price)).0,
                    });
                }
            }
            if featured {
                let deductions: i64 = working_days.len() as i64 * employee.chair_rent;
                land_on_total(&mut records[first_record..], FEATURED_TOTAL.0 + deductions);
            }
        }

        let mut tx = self.begin_write().await?;
        for (i, name) in STUDIOS.iter().enumerate() {
            db::query("INSERT INTO studios (id, name, created_at, iban) VALUES ($1, $2, $3, $4)")
                .bind(studio_ids[i])
                .bind(*name)
                .bind(created)
                .bind(STUDIO_IBANS[i])
                .execute(&mut tx)
                .await
                .map_err(db_error("seeding studios"))?;
            db::insert_values(
                "INSERT INTO services (id, studio_id, name, category, list_price)",
                CATALOGUE.iter().enumerate(),
                5,
                |row, (j, entry)| {
                    row.bind(service_ids[i][j])
                        .bind(studio_ids[i])
                        .bind(entry.name)
                        .bind(entry.category)
                        .bind(entry.price)
                },
            )
            .execute(&mut tx)
            .await
            .map_err(db_error("seeding services"))?;
        }
        for (index, employee) in EMPLOYEES.iter().enumerate() {
            db::query("INSERT INTO employees (id, studio_id, name, commission_bps, created_at, iban) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(employee_ids[index])
                .bind(studio_ids[employee.studio])
                .bind(employee.name)
                .bind(employee.bps)
                .bind(created)
                .bind(employee.iban)
                .execute(&mut tx)
                .await
                .map_err(db_error("seeding employees"))?;
            if let Some(colour) = employee.colour_bps {
                db::query("INSERT INTO commission_overrides (employee_id, category, commission_bps) VALUES ($1, 'colour', $2)")
                    .bind(employee_ids[index])
                    .bind(colour)
                    .execute(&mut tx)
                    .await
                    .map_err(db_error("seeding commission overrides"))?;
            }
        }
        // SQLite allows 32,766 bound parameters per statement: 11 per record, so chunks of 2,000.
        for chunk in records.chunks(2_000) {
            db::insert_values(
                "INSERT INTO service_records (id, studio_id, employee_id, service_id, performed_on, price, tip,
                 payment_method, commission_bps, commission, created_at)",
                chunk,
                11,
                |row, r| {
                    row.bind(r.id)
                        .bind(r.studio)
                        .bind(r.employee)
                        .bind(r.service)
                        .bind(r.on)
                        .bind(r.price)
                        .bind(r.tip)
                        .bind(r.method)
                        .bind(r.bps)
                        .bind(r.commission)
                        .bind(created)
                },
            )
            .execute(&mut tx)
                .await
                .map_err(db_error("seeding service records"))?;
        }
        for chunk in days.chunks(4_000) {
            db::insert_values(
                "INSERT INTO day_records (id, studio_id, employee_id, worked_on, deduction, guaranteed_minimum, created_at)",
                chunk,
                7,
                |row, d| {
                    row.bind(d.id)
                        .bind(d.studio)
                        .bind(d.employee)
                        .bind(d.on)
                        .bind(d.deduction)
                        .bind(d.minimum)
                        .bind(created)
                },
            )
            .execute(&mut tx)
                .await
                .map_err(db_error("seeding day records"))?;
        }
        // The same posting rules as a single registration, applied to every seeded record at once.
        super::ledger::ensure_accounts(&mut tx).await?;
        super::ledger::post_service_transfers(&mut tx, None, created).await?;
        super::ledger::post_day_transfers(&mut tx, None, created).await?;
        tx.commit()
            .await
            .map_err(db_error("committing the demo data"))?;
        self.studios_changed();

        let seeder = Caller::operator("demo-seed");
        for login in DEMO_LOGINS {
            let employee_id = login.employee.and_then(|name| {
                EMPLOYEES
                    .iter()
                    .position(|e| e.name == name)
                    .map(|i| EmployeeId(employee_ids[i]))
            });
            self.insert_user(
                &seeder,
                &UserRequest {
                    email: login.email.into(),
                    name: login.name.into(),
                    role: login.role,
                    studio_id: login.studio.map(|i| StudioId(studio_ids[i])),
                    employee_id,
                    password: login.password.into(),
                },
                true,
            )
            .await?;
        }

        // September is paid for everyone but the featured employee, through the real engine.
        let september_end = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap_or(window_end());
        let mut payouts = 0;
        for (index, employee) in EMPLOYEES.iter().enumerate() {
            if employee.name == FEATURED_EMPLOYEE {
                continue;
            }
            let key =
                IdempotencyKey::parse(Some(&format!("demo-september-{}", employee_ids[index])))?;
            let request = PayoutRequest {
                employee_id: EmployeeId(employee_ids[index]),
                period_start: window_start(),
                period_end: september_end,
                method: PayoutMethod::Bank,
            };
            self.commit_payout(&seeder, &key, &request).await?;
            payouts += 1;
        }
        tracing::info!(
            service_records = records.len(),
            day_records = days.len(),
            payouts,
            "demo data seeded"
        );
        Ok(SeedReport {
            seeded: true,
            service_records: records.len(),
            day_records: days.len(),
            payouts,
        })
    }
}

/// Adjusts tips (never below 0, never above CHF 60 each) so that the records' commission + tip
/// sum to exactly `target` Rappen. Deterministic: walks the records from the last one back.
fn land_on_total(records: &mut [SeedRecord], target: i64) {
    let mut gap = target - records.iter().map(|r| r.commission + r.tip).sum::<i64>();
    // Spread the gap evenly first (whole 5-Rappen steps), then settle the remainder from the end.
    let share = (gap / (records.len().max(1) as i64)) / 5 * 5;
    for record in records.iter_mut() {
        let new_tip = (record.tip + share).clamp(0, 6_000);
        gap -= new_tip - record.tip;
        record.tip = new_tip;
    }
    for record in records.iter_mut().rev() {
        if gap == 0 {
            break;
        }
        let new_tip = (record.tip + gap).clamp(0, 6_000);
        gap -= new_tip - record.tip;
        record.tip = new_tip;
    }
    // Any remainder means the generator's prices drifted too far from the target: the seed tests
    // catch it (the featured payout must be exactly CHF 18'080.00).
    if gap != 0 {
        tracing::error!(
            gap,
            "demo data could not land exactly on the featured payout total"
        );
    }
}
