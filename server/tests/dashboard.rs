//! The owner dashboard (`GET /api/v1/dashboard`) on the demo data: its totals are the sums of the
//! service records and of the committed payouts' lines, counted independently here with plain
//! SQL, for the whole business and for one studio; its employees and its weeks or months add up
//! to those totals; a week that spans a month end is one bar by week and two by month; refunds
//! and payouts that did not commit count for nothing while the failed payout and the audit's
//! findings are flagged; only owners may read it, and malformed periods are refused naming the
//! parameter. Runs on SQLite, and on PostgreSQL with PAYOUT_ENGINE_TEST_DATABASE=postgres.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::domain::locale::{format_chf, Language};
use app::domain::{
    ApiKeyRequest, ApiScope, Dashboard, DashboardAmounts, Granularity, PayoutPhase, Rappen, Role,
    StudioId,
};
use app::engine::access::Caller;
use app::engine::db;
use app::engine::faults::{Fault, FaultKind};
use chrono::NaiveDate;
use common::*;
use serde_json::{json, Value};

const OWNER: (&str, &str) = ("owner@demo.test", "owner-demo");
const RECEPTION_ZURICH: (&str, &str) = ("reception@demo.test", "reception-demo");
const LARA_LOGIN: (&str, &str) = ("lara@demo.test", "employee-demo");
const ZURICH: &str = "Salon Seefeld, Zürich";
const BERN: &str = "Studio Marktgasse, Bern";

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a date")
}

async fn signed_in(app: &TestApp, login: (&str, &str)) -> reqwest::Client {
    match app.sign_in(login.0, login.1).await {
        Ok(client) => client,
        Err(response) => panic!("{} cannot sign in: {}", login.0, response.status()),
    }
}

/// `GET path` as `client`: the status and the JSON body.
async fn get(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, Value) {
    let response = client.get(app.url(path)).send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// The dashboard the owner sees for `query` (asserting 200).
async fn dashboard(app: &TestApp, owner: &reqwest::Client, query: &str) -> Dashboard {
    let (status, body) = get(app, owner, &format!("/api/v1/dashboard{query}")).await;
    assert_eq!(status, 200, "GET /api/v1/dashboard{query}: {body}");
    serde_json::from_value(body).expect("a dashboard")
}

async fn studio_named(app: &TestApp, name: &str) -> StudioId {
    app.engine
        .studios(&Caller::operator("test"))
        .await
        .expect("studios")
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no studio {name}"))
        .id
}

/// What the dashboard should say for `from..=to` (and one studio), summed straight from the
/// tables: services not refunded, and the live lines of committed payouts dated in the period.
async fn expected(
    app: &TestApp,
    from: &str,
    to: &str,
    studio: Option<StudioId>,
) -> DashboardAmounts {
    let (services, revenue, commission, tips): (i64, i64, i64, i64) = db::query_as(
        "SELECT COUNT(*), COALESCE(CAST(SUM(price) AS BIGINT), 0),
                COALESCE(CAST(SUM(commission) AS BIGINT), 0), COALESCE(CAST(SUM(tip) AS BIGINT), 0)
         FROM service_records
         WHERE performed_on >= $1 AND performed_on <= $2 AND refunded_at IS NULL
           AND ($3 IS NULL OR studio_id = $3)",
    )
    .bind(day(from))
    .bind(day(to))
    .bind(studio)
    .fetch_one(app.engine.pool())
    .await
    .expect("the records' sums");
    let payouts: i64 = db::query_scalar(
        "SELECT COALESCE(CAST(SUM(pl.amount) AS BIGINT), 0)
         FROM payout_lines pl JOIN payouts p ON p.id = pl.payout_id
         WHERE p.state = 'committed' AND NOT pl.released
           AND pl.on_date >= $1 AND pl.on_date <= $2 AND ($3 IS NULL OR p.studio_id = $3)",
    )
    .bind(day(from))
    .bind(day(to))
    .bind(studio)
    .fetch_one(app.engine.pool())
    .await
    .expect("the payouts' sum");
    DashboardAmounts {
        services,
        revenue: Rappen(revenue),
        commission: Rappen(commission),
        tips: Rappen(tips),
        payouts: Rappen(payouts),
    }
}

fn sum<'a>(amounts: impl Iterator<Item = &'a DashboardAmounts>) -> DashboardAmounts {
    let mut total = DashboardAmounts::default();
    for amounts in amounts {
        total.add(amounts).expect("no overflow");
    }
    total
}

/// Checks that the employees and the periods each add up to the totals.
fn assert_adds_up(board: &Dashboard) {
    assert_eq!(
        sum(board.employees.iter().map(|e| &e.amounts)),
        board.totals,
        "the employees add up to the totals"
    );
    assert_eq!(
        sum(board.periods.iter().map(|p| &p.amounts)),
        board.totals,
        "the weeks or months add up to the totals"
    );
}

#[tokio::test]
async fn the_totals_are_the_sums_of_the_demo_records_and_committed_payouts_for_the_business_and_each_studio(
) {
    let app = spawn_demo_app().await;
    let owner = signed_in(&app, OWNER).await;
    let (from, to) = ("2026-09-01", "2026-10-30");

    let business = dashboard(&app, &owner, &format!("?from={from}&to={to}")).await;
    assert_eq!(business.totals, expected(&app, from, to, None).await);
    assert_eq!((business.from, business.to), (day(from), day(to)));
    assert_eq!(business.currency, "CHF");
    assert_eq!(business.studio_id, None);
    assert_eq!(business.studios.len(), 2, "both studios to choose from");
    assert_eq!(business.employees.len(), 12, "every demo employee");
    assert_eq!(business.granularity, Granularity::Week);
    assert_eq!(
        business.periods.len(),
        9,
        "nine weeks touch 1 September to 30 October"
    );
    assert_adds_up(&business);
    // The whole window holds every committed payout (September's, at seed): the payouts total
    // is what they paid, read from the payouts themselves.
    let committed: i64 = db::query_scalar(
        "SELECT COALESCE(CAST(SUM(total) AS BIGINT), 0) FROM payouts WHERE state = 'committed'",
    )
    .fetch_one(app.engine.pool())
    .await
    .expect("committed payouts");
    assert!(committed > 0);
    assert_eq!(business.totals.payouts, Rappen(committed));
    assert!(business.totals.revenue > business.totals.commission);
    // Lara Meier's October (and September) is not paid yet: she earned, nothing was paid.
    let lara = business
        .employees
        .iter()
        .find(|e| e.employee_name == "Lara Meier")
        .expect("Lara");
    assert_eq!(lara.amounts.payouts, Rappen::ZERO);
    assert!(lara.amounts.commission > Rappen::ZERO);

    let mut studios = DashboardAmounts::default();
    for name in [ZURICH, BERN] {
        let studio = studio_named(&app, name).await;
        let one = dashboard(
            &app,
            &owner,
            &format!("?from={from}&to={to}&studio_id={studio}"),
        )
        .await;
        assert_eq!(one.studio_id, Some(studio));
        assert_eq!(
            one.totals,
            expected(&app, from, to, Some(studio)).await,
            "{name}"
        );
        assert!(one.totals.revenue > Rappen::ZERO, "{name} has takings");
        assert_eq!(one.employees.len(), 6, "{name}'s six employees");
        assert!(
            one.employees.iter().all(|e| e.studio_id == studio),
            "only {name}'s employees"
        );
        assert_adds_up(&one);
        studios.add(&one.totals).expect("no overflow");
    }
    assert_eq!(
        studios, business.totals,
        "the two studios make up the business"
    );
}

#[tokio::test]
async fn without_a_period_it_shows_last_month_and_this_month_up_to_the_latest_service() {
    let app = spawn_demo_app().await;
    let owner = signed_in(&app, OWNER).await;
    let board = dashboard(&app, &owner, "").await;
    // The demo's services run from 1 September to 30 October 2026.
    assert_eq!(
        (board.from, board.to),
        (day("2026-09-01"), day("2026-10-30"))
    );
    assert_eq!(board.granularity, Granularity::Week);
    assert_eq!(
        board.totals,
        expected(&app, "2026-09-01", "2026-10-30", None).await
    );
    // Empty parameters, as the page's form sends them, are the defaults too.
    let same = dashboard(&app, &owner, "?from=&to=&studio_id=&granularity=").await;
    assert_eq!(same, board);
}

#[tokio::test]
async fn a_week_across_a_month_end_is_one_bar_by_week_and_two_by_month() {
    let app = spawn_demo_app().await;
    let owner = signed_in(&app, OWNER).await;
    // Monday 28 September to Sunday 4 October 2026: September is paid, October is not.
    let query = "?from=2026-09-28&to=2026-10-04";

    let by_week = dashboard(&app, &owner, &format!("{query}&granularity=week")).await;
    assert_eq!(by_week.periods.len(), 1, "{:?}", by_week.periods);
    let week = &by_week.periods[0];
    assert_eq!(week.label, "2026-W40");
    assert_eq!(
        (week.start, week.end),
        (day("2026-09-28"), day("2026-10-04"))
    );
    assert_eq!(
        week.amounts,
        expected(&app, "2026-09-28", "2026-10-04", None).await
    );

    let by_month = dashboard(&app, &owner, &format!("{query}&granularity=month")).await;
    assert_eq!(by_month.granularity, Granularity::Month);
    let labels: Vec<&str> = by_month.periods.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels, ["2026-09", "2026-10"]);
    let (september, october) = (&by_month.periods[0], &by_month.periods[1]);
    assert_eq!(
        (september.start, september.end),
        (day("2026-09-28"), day("2026-09-30"))
    );
    assert_eq!(
        (october.start, october.end),
        (day("2026-10-01"), day("2026-10-04"))
    );
    assert_eq!(
        september.amounts,
        expected(&app, "2026-09-28", "2026-09-30", None).await
    );
    assert_eq!(
        october.amounts,
        expected(&app, "2026-10-01", "2026-10-04", None).await
    );
    assert!(
        september.amounts.payouts > Rappen::ZERO,
        "September is paid"
    );
    assert_eq!(october.amounts.payouts, Rappen::ZERO, "October is not");
    assert!(october.amounts.revenue > Rappen::ZERO);
    // The same days, cut differently, make the same totals.
    assert_eq!(by_month.totals, by_week.totals);
    assert_adds_up(&by_month);
    assert_adds_up(&by_week);
}

#[tokio::test]
async fn a_refund_and_a_failed_payout_count_for_nothing_but_the_failure_and_audit_findings_are_flagged(
) {
    let app = spawn_demo_app().await;
    let owner = signed_in(&app, OWNER).await;
    let query = "?from=2026-10-01&to=2026-10-30";
    let before = dashboard(&app, &owner, query).await;
    assert_eq!(before.attention.failed_payouts, 0);
    assert_eq!(before.attention.pending_payouts, 0);
    assert_eq!(before.attention.audit_run_id, None, "no audit has run");

    // One of Lara's October services, paid by card, is refunded.
    let lara = app.employee_named("Lara Meier").await;
    let lara_id: uuid::Uuid = serde_json::from_value(lara["id"].clone()).expect("id");
    let (record, price): (uuid::Uuid, i64) = db::query_as(
        "SELECT id, price FROM service_records
         WHERE employee_id = $1 AND payment_method = 'card' AND performed_on >= $2
         ORDER BY performed_on, id LIMIT 1",
    )
    .bind(lara_id)
    .bind(day("2026-10-01"))
    .fetch_one(app.engine.pool())
    .await
    .expect("a card service of Lara in October");
    let refunded = app
        .post(
            &format!("/api/v1/service-records/{record}/refund"),
            &new_key(),
            &json!({ "reason": "client unhappy with the colour" }),
        )
        .await;
    assert_eq!(refunded.status(), 200);

    // Her payout fails midway: recorded as failed, not committed.
    app.engine.faults().arm(Fault {
        phase: PayoutPhase::LinesClaimed,
        kind: FaultKind::Error,
        times: 1,
    });
    let failed = app
        .post(
            "/api/v1/payouts",
            &new_key(),
            &TestApp::window_request(&lara["id"]),
        )
        .await;
    assert_eq!(failed.status(), 500, "the payout fails");

    let after = dashboard(&app, &owner, query).await;
    assert_eq!(after.totals.services, before.totals.services - 1);
    assert_eq!(
        after.totals.revenue,
        Rappen(before.totals.revenue.0 - price)
    );
    assert_eq!(
        after.totals.payouts, before.totals.payouts,
        "a failed payout paid nothing"
    );
    assert_eq!(
        after.totals,
        expected(&app, "2026-10-01", "2026-10-30", None).await
    );
    assert_eq!(
        after.attention.failed_payouts, 1,
        "the failed payout is flagged"
    );
    let bern = studio_named(&app, BERN).await;
    let bern_board = dashboard(&app, &owner, &format!("{query}&studio_id={bern}")).await;
    assert_eq!(
        bern_board.attention.failed_payouts, 0,
        "Lara's failed payout is Zürich's"
    );

    // An audit runs: the dashboard shows its findings as open.
    let (status, run) = {
        let response = app.post("/api/v1/audits", &new_key(), &json!({})).await;
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.expect("json"))
    };
    assert_eq!(status, 201, "{run}");
    let audited = dashboard(&app, &owner, query).await;
    assert_eq!(
        audited.attention.audit_run_id.map(|id| id.to_string()),
        run["id"].as_str().map(str::to_string)
    );
    assert_eq!(
        Some(audited.attention.open_audit_findings),
        run["finding_count"].as_i64()
    );
}

#[tokio::test]
async fn only_owners_may_read_the_dashboard() {
    let app = spawn_demo_app().await;
    let zurich = studio_named(&app, ZURICH).await;
    let operator = Caller::operator("test");
    let key = |role: Role, studio: Option<StudioId>, scopes: Vec<ApiScope>| {
        let engine = app.engine.clone();
        let operator = operator.clone();
        async move {
            engine
                .create_api_key(
                    &operator,
                    &ApiKeyRequest {
                        name: format!("{role} {scopes:?}"),
                        role,
                        studio_id: studio,
                        scopes: Some(scopes),
                    },
                )
                .await
                .expect("an API key")
                .key
        }
    };
    let ledger_reader = key(Role::Owner, None, vec![ApiScope::LedgerRead]).await;
    let payouts_reader = key(Role::Owner, None, vec![ApiScope::PayoutsRead]).await;
    let desk_key = key(
        Role::Receptionist,
        Some(zurich),
        vec![ApiScope::PayoutsRead, ApiScope::ServiceRecordsRead],
    )
    .await;

    let callers = [
        ("nobody", reqwest::Client::new(), 401),
        ("the owner", signed_in(&app, OWNER).await, 200),
        (
            "a receptionist",
            signed_in(&app, RECEPTION_ZURICH).await,
            403,
        ),
        ("an employee", signed_in(&app, LARA_LOGIN).await, 403),
        (
            "an owner key with ledger:read",
            bearer_client(&ledger_reader),
            200,
        ),
        (
            "an owner key without ledger:read",
            bearer_client(&payouts_reader),
            403,
        ),
        ("a receptionist's key", bearer_client(&desk_key), 403),
    ];
    let one_studio = format!("?studio_id={zurich}");
    for (who, client, status) in &callers {
        for query in ["", "?from=2026-10-01&to=2026-10-30", one_studio.as_str()] {
            let (answered, body) = get(&app, client, &format!("/api/v1/dashboard{query}")).await;
            assert_eq!(answered, *status, "{who} {query}: {body}");
            if *status == 403 {
                assert_eq!(body["error"]["code"], "forbidden", "{who}: {body}");
                assert!(body.get("totals").is_none(), "no figures in a refusal");
            }
        }
    }
    // A refusal comes before any complaint about the parameters.
    let (status, _) = get(
        &app,
        &callers[2].1,
        "/api/v1/dashboard?from=someday&granularity=day",
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn malformed_or_impossible_periods_are_refused_naming_the_parameter() {
    let app = spawn_demo_app().await;
    let owner = signed_in(&app, OWNER).await;
    for (query, field) in [
        ("?from=2026-13-01", "from"),
        ("?from=1.9.2026", "from"),
        ("?to=30.10.2026", "to"),
        ("?studio_id=zurich", "studio_id"),
        ("?granularity=day", "granularity"),
        ("?from=2026-10-30&to=2026-09-01", "from"),
        ("?from=2025-01-01&to=2026-10-30", "to"),
        ("?from=1999-12-31&to=2000-01-31", "from"),
    ] {
        let (status, body) = get(&app, &owner, &format!("/api/v1/dashboard{query}")).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(
            body["error"]["code"], "validation_failed",
            "{query}: {body}"
        );
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
    // A year (366 days, 2028 is a leap year) is the longest period.
    let year = dashboard(
        &app,
        &owner,
        "?from=2028-01-01&to=2028-12-31&granularity=month",
    )
    .await;
    assert_eq!(year.periods.len(), 12);
    assert_eq!(
        year.totals,
        DashboardAmounts::default(),
        "no demo data in 2028"
    );
}

#[tokio::test]
async fn the_page_is_whole_without_javascript_with_both_charts_and_the_apis_totals() {
    let app = spawn_demo_app().await;
    let owner = signed_in(&app, OWNER).await;
    let query = "?from=2026-09-01&to=2026-10-30&granularity=month";
    let board = dashboard(&app, &owner, query).await;
    let response = owner
        .get(app.url(&format!("/dashboard{query}")))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let html = response
        .text()
        .await
        .expect("the page")
        .replace("&#x27;", "'")
        .replace("&#39;", "'");
    // Rendered whole on the server: no "Loading…" placeholder waiting for a script.
    assert!(
        !html.contains("Loading…"),
        "a placeholder is left: {html:.3000}"
    );
    assert_eq!(html.matches("class=\"bar-chart\"").count(), 2, "two charts");
    // Each chart is named by its SVG title.
    for chart in ["chart-employees", "chart-periods"] {
        assert!(
            html.contains(&format!("aria-labelledby=\"{chart}-title\""))
                && html.contains(&format!("<title id=\"{chart}-title\">")),
            "{chart} is labelled by its title"
        );
    }
    for title in ["per employee", "per month"] {
        assert!(
            html.contains(&format!("Revenue, commission, tips and payouts {title}")),
            "the chart {title} has its title"
        );
    }
    for (figure, amount) in [
        ("revenue", board.totals.revenue),
        ("commission", board.totals.commission),
        ("tips", board.totals.tips),
        ("payouts", board.totals.payouts),
    ] {
        for prefix in ["total", "employees-total", "periods-total"] {
            let cell = format!(
                "data-testid=\"{prefix}-{figure}\" data-rappen=\"{}\"",
                amount.0
            );
            assert!(html.contains(&cell), "{cell} in the page");
        }
        // As the page prints it in English (CLDR: a no-break space after CHF); the apostrophe
        // may be escaped as an HTML entity.
        let shown = format_chf(Language::En, amount);
        assert!(
            html.contains(&shown) || html.contains(&shown.replace('\'', "&#x27;")),
            "{shown} shown as text"
        );
    }
    assert!(html.contains("Lara Meier"));
    // The GET form keeps what was chosen.
    assert!(html.contains("name=\"from\" value=\"2026-09-01\""));
    assert!(html.contains("<option value=\"month\" selected"));

    // A receptionist gets the page with the refusal, and no figures.
    let desk = signed_in(&app, RECEPTION_ZURICH).await;
    let refused = desk
        .get(app.url("/dashboard"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("the page");
    assert!(
        refused.contains("may not read the dashboard"),
        "{refused:.3000}"
    );
    assert!(!refused.contains("bar-chart"));
}
