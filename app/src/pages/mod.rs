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
use crate::components::{role_label, AttentionBanner, LanguageMenu};
use crate::domain::{AppError, Me, Permission};
use crate::i18n::{t, t_string, use_i18n, I18nContextProvider};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, Lazy, SsrMode, StaticSegment};

/// The HTML document around the app (server-rendered, then hydrated).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        // `lang` is set by the I18nContextProvider to the page's language; the browser's half of
        // the app reads it back to hydrate in the language the server chose.
        <html>
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
        // The language is the server's choice (`app::engine::auth::pin_request_language`:
        // the signed-in person's, else the language cookie's, else Accept-Language's), which it
        // passes to this provider as the request's only Accept-Language. The page never writes
        // the cookie (leptos_i18n's `cookie` feature is off): `POST /language` alone does, so
        // a page cannot overwrite a choice with the language it happened to render in, and the
        // browser's bundle carries no cookie code.
        <I18nContextProvider>
            <Shell/>
        </I18nContextProvider>
    }
}

/// The top bar and the routes, inside the language context.
#[component]
fn Shell() -> impl IntoView {
    let Session { me, .. } = expect_context::<Session>();
    let i18n = use_i18n();
    view! {
        <Stylesheet id="leptos" href="/pkg/payout-engine.css"/>
        <Title text="Payout Engine"/>
        <Router>
            <Transition fallback=|| view! { <header class="top"><span class="brand">"Payout Engine"</span></header> }>
                {move || Suspend::new(async move {
                    match me.await {
                        Ok(Some(me)) => view! { <TopBar me/> }.into_any(),
                        Ok(None) | Err(_) => view! {
                            <header class="top">
                                <a class="brand" href="/">"Payout Engine"</a>
                                <div class="who"><LanguageMenu/></div>
                            </header>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
            <main>
                <Routes fallback=move || view! { <p>{t!(i18n, common.page_not_found)}</p> }>
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
    let i18n = use_i18n();
    let may = |action| me.may(action);
    let own_page = me.employee_id.map(|id| format!("/employees/{id}"));
    let role = role_label(me.role);
    view! {
        <header class="top">
            <a class="brand" href="/">"Payout Engine"</a>
            <nav aria-label=t_string!(i18n, common.nav.label)>
                {may(Permission::RegisterService).then(|| view! { <A href="/reception">{t!(i18n, common.nav.reception)}</A> })}
                {may(Permission::OperateTill).then(|| view! { <A href="/till">{t!(i18n, common.nav.till)}</A> })}
                {may(Permission::ReadDashboard).then(|| view! { <A href="/dashboard">{t!(i18n, common.nav.dashboard)}</A> })}
                {may(Permission::CommitPayout).then(|| view! { <A href="/owner">{t!(i18n, common.nav.payouts)}</A> })}
                {match own_page.clone() {
                    Some(href) => view! { <A href=href>{t!(i18n, common.nav.my_payouts)}</A> }.into_any(),
                    None => view! { <A href="/employees">{t!(i18n, common.nav.employees)}</A> }.into_any(),
                }}
                {may(Permission::OperatePayments).then(|| view! { <A href="/payments">{t!(i18n, common.nav.card_payments)}</A> })}
                {may(Permission::ReadSettlements).then(|| view! { <A href="/settlements">{t!(i18n, common.nav.settlements)}</A> })}
                {may(Permission::ExportBooks).then(|| view! { <A href="/exports">{t!(i18n, common.nav.exports)}</A> })}
                {may(Permission::RunAudit).then(|| view! { <A href="/audits">{t!(i18n, common.nav.audit)}</A> })}
                {may(Permission::ManageWebhooks).then(|| view! { <A href="/webhooks">{t!(i18n, common.nav.webhooks)}</A> })}
                {may(Permission::ReadLiveFeed).then(|| view! { <A href="/live">{t!(i18n, common.nav.live)}</A> })}
                {may(Permission::ManageApiKeys).then(|| view! { <A href="/settings">{t!(i18n, common.nav.settings)}</A> })}
            </nav>
            <div class="who">
                <span class="signed-in" data-role=me.role.as_str()>{format!("{} · {role}", me.name)}</span>
                <LanguageMenu/>
                <form method="post" action="/logout">
                    <button type="submit" class="sign-out">{t!(i18n, common.nav.sign_out)}</button>
                </form>
            </div>
        </header>
    }
}

#[component]
fn Home() -> impl IntoView {
    let Session { me, .. } = expect_context::<Session>();
    let i18n = use_i18n();
    view! {
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(Me { employee_id: Some(id), .. })) => view! {
                        <h1>"Payout Engine"</h1>
                        <p><a href=format!("/employees/{id}")>{t!(i18n, common.home.employee_link)}</a></p>
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
    let i18n = use_i18n();
    view! {
        <AttentionBanner/>
        <h1>"Payout Engine"</h1>
        <p>{t!(i18n, common.home.intro)}</p>
        <ul class="roles">
            <li><a href="/reception"><strong>{t!(i18n, common.home.reception)}</strong>{t!(i18n, common.home.reception_desc)}</a></li>
            <li><a href="/owner"><strong>{t!(i18n, common.home.owner)}</strong>{t!(i18n, common.home.owner_desc)}</a></li>
            <li><a href="/dashboard"><strong>{t!(i18n, common.home.dashboard)}</strong>{t!(i18n, common.home.dashboard_desc)}</a></li>
            <li><a href="/till"><strong>{t!(i18n, common.home.till)}</strong>{t!(i18n, common.home.till_desc)}</a></li>
            <li><a href="/employees"><strong>{t!(i18n, common.home.employee)}</strong>{t!(i18n, common.home.employee_desc)}</a></li>
            <li><a href="/settlements"><strong>{t!(i18n, common.home.settlements)}</strong>{t!(i18n, common.home.settlements_desc)}</a></li>
            <li><a href="/audits"><strong>{t!(i18n, common.home.audit)}</strong>{t!(i18n, common.home.audit_desc)}</a></li>
            <li><a href="/live"><strong>{t!(i18n, common.home.live)}</strong>{t!(i18n, common.home.live_desc)}</a></li>
        </ul>
    }
}
