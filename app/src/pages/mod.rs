//! Pages and the application shell. Reception registers services; the owner previews, commits
//! and reviews payouts; each employee reads their own payouts. Every owner/reception page shows
//! the red banner of payouts needing attention.

mod audits;
mod employee;
mod owner;
mod payout;
mod reception;
mod till;

use crate::components::AttentionBanner;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, Lazy, StaticSegment};

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

/// The application: navigation and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/payout-engine.css"/>
        <Title text="Payout Engine"/>
        <Router>
            <header class="top">
                <a class="brand" href="/">"Payout Engine"</a>
                <nav>
                    <A href="/reception">"Reception"</A>
                    <A href="/till">"Till"</A>
                    <A href="/owner">"Payouts"</A>
                    <A href="/employees">"Employees"</A>
                    <A href="/audits">"Audit"</A>
                </nav>
            </header>
            <main>
                <Routes fallback=|| view! { <p>"Page not found."</p> }>
                    <Route path=StaticSegment("") view=Home/>
                    <Route path=path!("/reception") view={Lazy::<reception::ReceptionRoute>::new()}/>
                    <Route path=path!("/owner") view={Lazy::<owner::OwnerRoute>::new()}/>
                    <Route path=path!("/till") view={Lazy::<till::TillRoute>::new()}/>
                    <Route path=path!("/audits") view={Lazy::<audits::AuditsRoute>::new()}/>
                    <Route path=path!("/payouts/:id") view={Lazy::<payout::PayoutRoute>::new()}/>
                    <Route path=path!("/employees") view={Lazy::<employee::EmployeesRoute>::new()}/>
                    <Route path=path!("/employees/:id") view={Lazy::<employee::EmployeeRoute>::new()}/>
                </Routes>
            </main>
        </Router>
    }
}

#[component]
fn Home() -> impl IntoView {
    view! {
        <AttentionBanner/>
        <h1>"Payout Engine"</h1>
        <p>"Services, commissions and payouts for the studios. Choose what you do:"</p>
        <ul class="roles">
            <li><a href="/reception"><strong>"Reception"</strong>" — register the services each employee performed"</a></li>
            <li><a href="/owner"><strong>"Owner"</strong>" — preview, commit and review payouts of both studios"</a></li>
            <li><a href="/till"><strong>"Till"</strong>" — open the cash register, cash in and out, count and close with a Z report"</a></li>
            <li><a href="/employees"><strong>"Employee"</strong>" — see your payouts, their status and lines"</a></li>
            <li><a href="/audits"><strong>"Audit"</strong>" — check the books now and see what the nightly audit found"</a></li>
        </ul>
    }
}
