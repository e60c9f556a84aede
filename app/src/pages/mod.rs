//! Pages and the application shell. Reception registers services; the owner previews, commits
//! and reviews payouts, and reads the dashboard; each employee reads their own payouts. Every
//! owner/reception page shows the red banner of payouts needing attention.

mod audits;
mod dashboard;
mod employee;
mod exports;
mod live;
mod login;
mod owner;
mod payments;
mod payout;
mod reception;
mod settings;
mod settlements;
mod till;
mod webhooks;

use crate::api::whoami;
use crate::components::AttentionBanner;
use crate::domain::{AppError, Me, Permission};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, Lazy, SsrMode, StaticSegment};

/// The HTML document around the app (server-rendered, then hydrated).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="data:,"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Who is signed in, as the shell read it. Pages that adapt to the role await `me` inside their
/// own `Suspense`; the sign-in page bumps `changed` after a sign-in so the shell reads it again.
#[derive(Clone, Copy)]
pub struct Session {
    /// The signed-in person (`None`: nobody).
    pub me: Resource<Result<Option<Me>, AppError>>,
    /// Bumped when who is signed in changes.
    pub changed: RwSignal<u32>,
}

/// The application: the navigation the signed-in person's role may use, and the routes. The
/// server sends a browser that is not signed in to `/login?next=…` before any page renders.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let changed = RwSignal::new(0_u32);
    let me = Resource::new(move || changed.get(), |_| whoami());
    provide_context(Session { me, changed });
    view! {
        <Stylesheet id="leptos" href="/pkg/payout-engine.css"/>
        <Title text="Payout Engine"/>
        <Router>
            <Transition fallback=|| view! { <header class="top"><span class="brand">"Payout Engine"</span></header> }>
                {move || Suspend::new(async move {
                    match me.await {
                        Ok(Some(me)) => view! { <TopBar me/> }.into_any(),
                        Ok(None) | Err(_) => view! {
                            <header class="top"><a class="brand" href="/">"Payout Engine"</a></header>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
            <main>
                <Routes fallback=|| view! { <p>"Page not found."</p> }>
                    <Route path=StaticSegment("") view=Home/>
                    <Route path=path!("/login") view={Lazy::<login::LoginRoute>::new()}/>
                    <Route path=path!("/reception") view={Lazy::<reception::ReceptionRoute>::new()}/>
                    <Route path=path!("/owner") view={Lazy::<owner::OwnerRoute>::new()}/>
                    // Rendered whole on the server before it is sent (not streamed with
                    // placeholders that script fills in), so the dashboard reads without JavaScript.
                    <Route path=path!("/dashboard") view={Lazy::<dashboard::DashboardRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/till") view={Lazy::<till::TillRoute>::new()}/>
                    <Route path=path!("/audits") view={Lazy::<audits::AuditsRoute>::new()}/>
                    <Route path=path!("/payments") view={Lazy::<payments::PaymentsRoute>::new()}/>
                    <Route path=path!("/settlements") view={Lazy::<settlements::SettlementsRoute>::new()}/>
                    <Route path=path!("/exports") view={Lazy::<exports::ExportsRoute>::new()}/>
                    <Route path=path!("/payouts/:id") view={Lazy::<payout::PayoutRoute>::new()}/>
                    <Route path=path!("/employees") view={Lazy::<employee::EmployeesRoute>::new()}/>
                    <Route path=path!("/employees/:id") view={Lazy::<employee::EmployeeRoute>::new()}/>
                    <Route path=path!("/settings") view={Lazy::<settings::SettingsRoute>::new()}/>
                    <Route path=path!("/activity") view={Lazy::<settings::ActivityRoute>::new()}/>
                    <Route path=path!("/webhooks") view={Lazy::<webhooks::WebhooksRoute>::new()}/>
                    <Route path=path!("/live") view={Lazy::<live::LiveRoute>::new()}/>
                </Routes>
            </main>
        </Router>
    }
}

/// The navigation of the signed-in person: only the pages their role may use. Signing out is a
/// plain form post to `/logout` (the server ends the session and sends the browser to the sign-in
/// page with a full page load, so nothing of the session stays in the page).
#[component]
fn TopBar(me: Me) -> impl IntoView {
    let may = |action| me.may(action);
    let own_page = me.employee_id.map(|id| format!("/employees/{id}"));
    view! {
        <header class="top">
            <a class="brand" href="/">"Payout Engine"</a>
            <nav>
                {may(Permission::RegisterService).then(|| view! { <A href="/reception">"Reception"</A> })}
                {may(Permission::OperateTill).then(|| view! { <A href="/till">"Till"</A> })}
                {may(Permission::ReadDashboard).then(|| view! { <A href="/dashboard">"Dashboard"</A> })}
                {may(Permission::CommitPayout).then(|| view! { <A href="/owner">"Payouts"</A> })}
                {match own_page.clone() {
                    Some(href) => view! { <A href=href>"My payouts"</A> }.into_any(),
                    None => view! { <A href="/employees">"Employees"</A> }.into_any(),
                }}
                {may(Permission::OperatePayments).then(|| view! { <A href="/payments">"Card payments"</A> })}
                {may(Permission::ReadSettlements).then(|| view! { <A href="/settlements">"Settlements"</A> })}
                {may(Permission::ExportBooks).then(|| view! { <A href="/exports">"Exports"</A> })}
                {may(Permission::RunAudit).then(|| view! { <A href="/audits">"Audit"</A> })}
                {may(Permission::ManageWebhooks).then(|| view! { <A href="/webhooks">"Webhooks"</A> })}
                {may(Permission::ReadLiveFeed).then(|| view! { <A href="/live">"Live"</A> })}
                {may(Permission::ManageApiKeys).then(|| view! { <A href="/settings">"Settings"</A> })}
            </nav>
            <div class="who">
                <span class="signed-in" data-role=me.role.as_str()>{format!("{} · {}", me.name, me.role)}</span>
                <form method="post" action="/logout">
                    <button type="submit" class="sign-out">"Sign out"</button>
                </form>
            </div>
        </header>
    }
}

#[component]
fn Home() -> impl IntoView {
    let Session { me, .. } = expect_context::<Session>();
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(Me { employee_id: Some(id), .. })) => view! {
                        <h1>"Payout Engine"</h1>
                        <p><a href=format!("/employees/{id}")>"See your payouts and what is not paid out yet"</a></p>
                    }
                    .into_any(),
                    Ok(_) | Err(_) => view! { <StaffHome/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// What the owner and reception choose from.
#[component]
fn StaffHome() -> impl IntoView {
    view! {
        <AttentionBanner/>
        <h1>"Payout Engine"</h1>
        <p>"Services, commissions and payouts for the studios. Choose what you do:"</p>
        <ul class="roles">
            <li><a href="/reception"><strong>"Reception"</strong>" — register the services each employee performed"</a></li>
            <li><a href="/owner"><strong>"Owner"</strong>" — preview, commit and review payouts of both studios"</a></li>
            <li><a href="/dashboard"><strong>"Dashboard"</strong>" — revenue, commission, tips and payouts per employee and per week or month"</a></li>
            <li><a href="/till"><strong>"Till"</strong>" — open the cash register, cash in and out, count and close with a Z report"</a></li>
            <li><a href="/employees"><strong>"Employee"</strong>" — see your payouts, their status and lines"</a></li>
            <li><a href="/settlements"><strong>"Settlements"</strong>" — write bank files, import bank statements and follow each transfer until the bank shows it"</a></li>
            <li><a href="/audits"><strong>"Audit"</strong>" — check the books now and see what the nightly audit found"</a></li>
            <li><a href="/live"><strong>"Live"</strong>" — watch payouts, payments, tills and audits as they happen"</a></li>
        </ul>
    }
}
