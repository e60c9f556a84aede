//! The owner dashboard (issue 10): what needs the owner at the top (the red banner of failed and
//! interrupted payouts, their counts, open audit findings), a plain GET form choosing the studio,
//! the period and weeks or months, the period's totals, and two bar charts (per employee, per
//! week or month) of revenue, commission, tips and payouts, each followed by its numbers in a
//! table one click away.
//!
//! Everything is rendered on the server: the charts are inline SVG drawn here, the form is an
//! ordinary GET to `/dashboard`, so the page reads the same without JavaScript. Each bar carries
//! its figure's name and amount as text beside it (colour is never the only signal), and every
//! chart has a title for screen readers. Amounts stay integer Rappen until a bar's length is
//! drawn.

use crate::api::owner_dashboard;
use crate::components::{chf, date, utc_minute, AttentionBanner, ErrorMessage, ScrollTable};
use crate::domain::*;
use crate::i18n::{t, t_string, use_i18n};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::{lazy_route, LazyRoute};

/// One of the four figures of a bar group: its name (in the page's language) and colour class,
/// and how to read it.
struct Series {
    name: fn() -> &'static str,
    class: &'static str,
    of: fn(&DashboardAmounts) -> Rappen,
}

/// The figures in the order every chart, legend and table shows them.
const SERIES: [Series; 4] = [
    Series {
        name: || t_string!(use_i18n(), dashboard.series.revenue),
        class: "revenue",
        of: |a| a.revenue,
    },
    Series {
        name: || t_string!(use_i18n(), dashboard.series.commission),
        class: "commission",
        of: |a| a.commission,
    },
    Series {
        name: || t_string!(use_i18n(), dashboard.series.tips),
        class: "tips",
        of: |a| a.tips,
    },
    Series {
        name: || t_string!(use_i18n(), dashboard.series.payouts),
        class: "payouts",
        of: |a| a.payouts,
    },
];

/// Chart geometry, in SVG user units. The viewBox is about a phone's width, so at 375 px the
/// text is drawn at close to its nominal size; wider screens scale it up to the CSS max-width.
const CHART_WIDTH: f64 = 420.0;
/// Longest bar; the rest of the width holds the "Revenue CHF 12'345.00" text after it.
const BAR_MAX: f64 = 235.0;
const BAR_HEIGHT: f64 = 13.0;
const BAR_STEP: f64 = 17.0;
const GROUP_LABEL: f64 = 19.0;
const GROUP_GAP: f64 = 12.0;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let query = use_query_map();
    let selection = move || {
        query.with(|q| {
            (
                q.get("from"),
                q.get("to"),
                q.get("studio_id"),
                q.get("granularity"),
            )
        })
    };
    let dashboard = Resource::new(selection, |(from, to, studio, granularity)| {
        owner_dashboard(from, to, studio, granularity)
    });
    let i18n = use_i18n();
    view! {
        <AttentionBanner/>
        <h1>{t!(i18n, dashboard.title)}</h1>
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match dashboard.await {
                    Ok(dashboard) => view! { <DashboardView dashboard/> }.into_any(),
                    Err(error) => view! {
                        <ErrorMessage error/>
                        <p><a href="/dashboard">{t!(i18n, dashboard.show_default)}</a></p>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}

#[component]
fn DashboardView(dashboard: Dashboard) -> impl IntoView {
    let i18n = use_i18n();
    let (from, to) = (date(dashboard.from), date(dashboard.to));
    let (per_heading, periods_title) = match dashboard.granularity {
        Granularity::Week => (
            t_string!(i18n, dashboard.per_week),
            t_string!(
                i18n,
                dashboard.chart_title.week,
                from = from.clone(),
                to = to.clone()
            )
            .to_string(),
        ),
        Granularity::Month => (
            t_string!(i18n, dashboard.per_month),
            t_string!(
                i18n,
                dashboard.chart_title.month,
                from = from.clone(),
                to = to.clone()
            )
            .to_string(),
        ),
    };
    let employees_title = t_string!(
        i18n,
        dashboard.chart_title.employees,
        from = from.clone(),
        to = to.clone()
    )
    .to_string();
    let scope = match dashboard.studio_id {
        Some(id) => dashboard
            .studios
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| t_string!(i18n, dashboard.scope.selected_studio).into()),
        None => all_studios(dashboard.studios.len()).to_string(),
    };
    let heading =
        t_string!(i18n, dashboard.heading, scope = scope, from = from, to = to).to_string();
    let employee_groups: Vec<(String, DashboardAmounts)> = dashboard
        .employees
        .iter()
        .map(|e| (e.employee_name.clone(), e.amounts))
        .collect();
    let period_groups: Vec<(String, DashboardAmounts)> = dashboard
        .periods
        .iter()
        .map(|p| {
            let label = t_string!(
                i18n,
                dashboard.period_group,
                label = p.label.clone(),
                start = date(p.start),
                end = date(p.end)
            )
            .to_string();
            (label, p.amounts)
        })
        .collect();
    let empty = dashboard.totals.services == 0 && dashboard.totals.payouts == Rappen::ZERO;
    view! {
        <AttentionCounts attention=dashboard.attention.clone()/>
        <Filters dashboard=dashboard.clone()/>
        <section class="dashboard-summary" aria-labelledby="dashboard-heading">
            <h2 id="dashboard-heading">{heading}</h2>
            <Totals totals=dashboard.totals/>
            {empty.then(|| view! {
                <p class="hint">{t!(i18n, dashboard.empty)}</p>
            })}
        </section>
        <Legend/>
        <section class="dashboard-chart" data-chart="employees">
            <h2>{t!(i18n, dashboard.per_employee)}</h2>
            <BarChart id="chart-employees" title=employees_title groups=employee_groups/>
            <EmployeeNumbers dashboard=dashboard.clone()/>
        </section>
        <section class="dashboard-chart" data-chart="periods">
            <h2>{per_heading}</h2>
            <BarChart id="chart-periods" title=periods_title groups=period_groups/>
            <PeriodNumbers dashboard/>
        </section>
        <p class="hint">
            {t!(i18n, dashboard.hint_revenue)}
            {t!(i18n, dashboard.hint_payouts)}
        </p>
    }
    .into_any()
}

/// "Both studios" for two, "All studios" otherwise (in the page's language).
fn all_studios(count: usize) -> &'static str {
    let i18n = use_i18n();
    if count == 2 {
        t_string!(i18n, dashboard.scope.both_studios)
    } else {
        t_string!(i18n, dashboard.scope.all_studios)
    }
}

/// Failed and interrupted payouts and open audit findings, in words with an icon (never colour
/// alone), each with a link to where they are dealt with. The red banner above lists the payouts
/// themselves with their Finish button.
#[component]
fn AttentionCounts(attention: DashboardAttention) -> impl IntoView {
    let i18n = use_i18n();
    let stuck = attention.failed_payouts + attention.pending_payouts;
    let payouts = if stuck == 0 {
        t_string!(i18n, dashboard.attention.no_payouts).to_string()
    } else {
        t_string!(
            i18n,
            dashboard.attention.payouts,
            failed = attention.failed_payouts,
            pending = attention.pending_payouts,
            count = stuck
        )
        .to_string()
    };
    let audit = match (attention.audited_at, attention.open_audit_findings) {
        (None, _) => t_string!(i18n, dashboard.attention.no_audit).to_string(),
        (Some(at), 0) => {
            t_string!(i18n, dashboard.attention.audit_clean, at = utc_minute(at)).to_string()
        }
        (Some(at), n) => t_string!(
            i18n,
            dashboard.attention.findings,
            count = n,
            at = utc_minute(at)
        )
        .to_string(),
    };
    let audit_alert = attention.open_audit_findings > 0;
    view! {
        <section class="dashboard-attention" aria-label=t_string!(i18n, dashboard.attention.label)>
            <p
                data-testid="attention-payouts"
                data-failed=attention.failed_payouts
                data-pending=attention.pending_payouts
                class={if stuck > 0 { "alert" } else { "ok" }}
            >
                <span class="icon" aria-hidden="true">{if stuck > 0 { "⛔ " } else { "✓ " }}</span>
                {payouts}
                " " <a href="/owner?state=failed">{t!(i18n, dashboard.attention.open_payouts)}</a>
            </p>
            <p
                data-testid="attention-audit"
                data-findings=attention.open_audit_findings
                class={if audit_alert { "alert" } else { "ok" }}
            >
                <span class="icon" aria-hidden="true">{if audit_alert { "⚠ " } else { "✓ " }}</span>
                {audit}
                " " <a href="/audits">{t!(i18n, dashboard.attention.open_audit)}</a>
            </p>
        </section>
    }
    .into_any()
}

/// The selection as a plain GET form: works without JavaScript (a full page load).
#[component]
fn Filters(dashboard: Dashboard) -> impl IntoView {
    let selected_studio = dashboard.studio_id;
    let all = all_studios(dashboard.studios.len());
    let i18n = use_i18n();
    view! {
        <form method="get" action="/dashboard" class="dashboard-filters">
            <label>
                {t!(i18n, dashboard.filters.studio)}
                <select name="studio_id">
                    <option value="" selected=selected_studio.is_none()>{all}</option>
                    {dashboard.studios.into_iter().map(|studio| {
                        let selected = selected_studio == Some(studio.id);
                        view! { <option value=studio.id.to_string() selected=selected>{studio.name}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>{t!(i18n, dashboard.filters.from)} <input type="date" name="from" value=dashboard.from.to_string() required/></label>
            <label>{t!(i18n, dashboard.filters.to)} <input type="date" name="to" value=dashboard.to.to_string() required/></label>
            <label>
                {t!(i18n, dashboard.filters.per)}
                <select name="granularity">
                    {Granularity::ALL.into_iter().map(|g| view! {
                        <option value=g.as_str() selected=g == dashboard.granularity>
                            {match g {
                                Granularity::Week => t_string!(i18n, dashboard.filters.week),
                                Granularity::Month => t_string!(i18n, dashboard.filters.month),
                            }}
                        </option>
                    }).collect_view()}
                </select>
            </label>
            <button type="submit">{t!(i18n, dashboard.filters.show)}</button>
        </form>
    }
    .into_any()
}

/// The period's four totals (and the number of services), as text.
#[component]
fn Totals(totals: DashboardAmounts) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <dl class="dashboard-totals">
            {SERIES.iter().map(|series| {
                let amount = (series.of)(&totals);
                view! {
                    <div class=format!("total {}", series.class)>
                        <dt>{(series.name)()}</dt>
                        <dd data-testid=format!("total-{}", series.class) data-rappen=amount.0>{chf(amount)}</dd>
                    </div>
                }
            }).collect_view()}
            <div class="total services">
                <dt>{t!(i18n, dashboard.numbers.services)}</dt>
                <dd data-testid="total-services">{totals.services}</dd>
            </div>
        </dl>
    }
    .into_any()
}

/// What each colour means (the bars say it in words too).
#[component]
fn Legend() -> impl IntoView {
    view! {
        <ul class="chart-legend" aria-hidden="true">
            {SERIES.iter().map(|series| view! {
                <li><span class=format!("swatch {}", series.class)></span>{(series.name)()}</li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// A horizontal grouped bar chart: per group (an employee, a week) one bar per figure, each
/// followed by its name and amount. Bars share one scale, the largest figure of the chart; a
/// negative figure (deductions above earnings) draws no bar but keeps its text.
#[component]
fn BarChart(
    id: &'static str,
    title: String,
    groups: Vec<(String, DashboardAmounts)>,
) -> impl IntoView {
    let largest = groups
        .iter()
        .flat_map(|(_, amounts)| SERIES.iter().map(move |s| (s.of)(amounts).0))
        .max()
        .unwrap_or(0)
        .max(1);
    let group_height = GROUP_LABEL + BAR_STEP * SERIES.len() as f64 + GROUP_GAP;
    let height = (group_height * groups.len() as f64).max(GROUP_LABEL);
    let title_id = format!("{id}-title");
    let labelled_by = title_id.clone();
    let i18n = use_i18n();
    let description = if groups.is_empty() {
        t_string!(i18n, dashboard.chart.nothing).to_string()
    } else {
        t_string!(i18n, dashboard.chart.groups, count = groups.len() as u64).to_string()
    };
    let bars = groups
        .into_iter()
        .enumerate()
        .map(|(index, (label, amounts))| {
            let top = group_height * index as f64;
            let group_bars = SERIES
                .iter()
                .enumerate()
                .map(|(row, series)| {
                    let amount = (series.of)(&amounts);
                    let width = BAR_MAX * (amount.0.max(0) as f64) / (largest as f64);
                    let y = top + GROUP_LABEL + BAR_STEP * row as f64;
                    let text = t_string!(
                        i18n,
                        dashboard.chart.bar,
                        name = (series.name)(),
                        amount = chf(amount)
                    )
                    .to_string();
                    let tooltip = t_string!(
                        i18n,
                        dashboard.chart.bar_title,
                        label = label.clone(),
                        text = text.clone()
                    )
                    .to_string();
                    view! {
                        <g class=format!("bar {}", series.class)>
                            {svg_title(tooltip, None)}
                            <rect x="0" y=format!("{y:.1}") width=format!("{width:.1}") height=BAR_HEIGHT.to_string()></rect>
                            <text x=format!("{:.1}", width + 4.0) y=format!("{:.1}", y + BAR_HEIGHT - 2.5)>{text}</text>
                        </g>
                    }
                })
                .collect_view();
            view! {
                <g class="group">
                    <text class="group-label" x="0" y=format!("{:.1}", top + GROUP_LABEL - 5.0)>{label.clone()}</text>
                    {group_bars}
                </g>
            }
        })
        .collect_view();
    view! {
        <svg
            class="bar-chart"
            id=id
            role="img"
            aria-labelledby=labelled_by
            viewBox=format!("0 0 {CHART_WIDTH} {height:.0}")
            width="100%"
            preserveAspectRatio="xMinYMin meet"
        >
            {svg_title(title, Some(title_id))}
            <desc>{description}</desc>
            {bars}
        </svg>
    }
    .into_any()
}

/// An SVG `<title>` (a chart's name, a bar's tooltip). Built by hand: the view macro makes
/// `<title>` the HTML element, which is the same markup on the server but not an SVG title
/// when the browser renders the chart itself (after navigating to the page).
fn svg_title(text: String, id: Option<String>) -> impl IntoView {
    leptos::svg::title().attr("id", id).child(text)
}

/// The cells of one row's four figures (and its services).
fn amount_cells(amounts: DashboardAmounts, testid_prefix: Option<&'static str>) -> impl IntoView {
    let figures = SERIES
        .iter()
        .map(|series| {
            let amount = (series.of)(&amounts);
            view! {
                <td
                    class="num"
                    data-testid=testid_prefix.map(|prefix| format!("{prefix}-{}", series.class))
                    data-rappen=amount.0
                >
                    {chf(amount)}
                </td>
            }
        })
        .collect_view();
    view! {
        <td class="num" data-testid=testid_prefix.map(|prefix| format!("{prefix}-services"))>{amounts.services}</td>
        {figures}
    }
}

fn figure_headers() -> impl IntoView {
    view! {
        <th class="num" scope="col">{t!(use_i18n(), dashboard.numbers.services)}</th>
        {SERIES.iter().map(|s| view! { <th class="num" scope="col">{(s.name)()}</th> }).collect_view()}
    }
}

/// The per-employee chart's exact figures, with a totals row.
#[component]
fn EmployeeNumbers(dashboard: Dashboard) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <details class="numbers">
            <summary>{t!(i18n, dashboard.numbers.summary)}</summary>
            <ScrollTable label=t_string!(i18n, dashboard.numbers.employees_label)>
                <table class="dashboard-employees">
                    <caption>{t!(i18n, dashboard.numbers.employees_caption)}</caption>
                    <thead><tr><th scope="col">{t!(i18n, dashboard.numbers.employee)}</th><th scope="col">{t!(i18n, dashboard.numbers.studio)}</th>{figure_headers()}</tr></thead>
                    <tbody>
                        {dashboard.employees.into_iter().map(|e| view! {
                            <tr data-employee-id=e.employee_id.to_string()>
                                <th scope="row">{e.employee_name}</th>
                                <td>{e.studio_name}</td>
                                {amount_cells(e.amounts, None)}
                            </tr>
                        }).collect_view()}
                    </tbody>
                    <tfoot>
                        <tr class="totals">
                            <th scope="row" colspan="2">{t!(i18n, dashboard.numbers.total)}</th>
                            {amount_cells(dashboard.totals, Some("employees-total"))}
                        </tr>
                    </tfoot>
                </table>
            </ScrollTable>
        </details>
    }
    .into_any()
}

/// The per-week or per-month chart's exact figures, with a totals row.
#[component]
fn PeriodNumbers(dashboard: Dashboard) -> impl IntoView {
    let i18n = use_i18n();
    let (per, caption) = match dashboard.granularity {
        Granularity::Week => (
            t_string!(i18n, dashboard.numbers.week),
            t_string!(i18n, dashboard.numbers.week_caption),
        ),
        Granularity::Month => (
            t_string!(i18n, dashboard.numbers.month),
            t_string!(i18n, dashboard.numbers.month_caption),
        ),
    };
    view! {
        <details class="numbers">
            <summary>{t!(i18n, dashboard.numbers.summary)}</summary>
            <ScrollTable label=t_string!(i18n, dashboard.numbers.periods_label)>
                <table class="dashboard-periods">
                    <caption>{caption}</caption>
                    <thead><tr><th scope="col">{per}</th><th scope="col">{t!(i18n, dashboard.numbers.from)}</th><th scope="col">{t!(i18n, dashboard.numbers.to)}</th>{figure_headers()}</tr></thead>
                    <tbody>
                        {dashboard.periods.into_iter().map(|p| {
                            let label = p.label.clone();
                            view! {
                            <tr data-period=label>
                                <th scope="row">{p.label}</th>
                                <td>{date(p.start)}</td>
                                <td>{date(p.end)}</td>
                                {amount_cells(p.amounts, None)}
                            </tr>
                        }}).collect_view()}
                    </tbody>
                    <tfoot>
                        <tr class="totals">
                            <th scope="row" colspan="3">{t!(i18n, dashboard.numbers.total)}</th>
                            {amount_cells(dashboard.totals, Some("periods-total"))}
                        </tr>
                    </tfoot>
                </table>
            </ScrollTable>
        </details>
    }
    .into_any()
}

/// The dashboard as a lazy route: its code is a separate WASM chunk (`cargo leptos --split`),
/// loaded when the page is first shown.
pub struct DashboardRoute;

#[lazy_route]
impl LazyRoute for DashboardRoute {
    fn data() -> Self {
        DashboardRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <DashboardPage/> }.into_any()
    }
}
