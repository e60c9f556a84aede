//! Pages and the application shell. Reception registers services; the owner previews, commits
//! and reviews payouts; each employee reads their own payouts. Every owner/reception page shows
//! the red banner of payouts needing attention.

mod audits;
mod employee;
mod owner;
mod payout;
mod reception;
mod settings;
mod till;

use crate::api::{whoami, SignIn, SignOut};
use crate::components::{AttentionBanner, ErrorMessage};
use crate::domain::{AppError, Me, Permission};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Redirect, Route, Router, Routes, A};
use leptos_router::hooks::{use_navigate, use_query_map};
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

/// Who is signed in, as the shell read it (re-read after each sign-in and sign-out). Pages that
/// adapt to the role await it inside their own `Suspense`.
#[derive(Clone, Copy)]
pub struct Session(pub Resource<Result<Option<Me>, AppError>>);

/// The application: the navigation the signed-in person's role may use, and the routes. The
/// server sends a browser that is not signed in to `/login?next=…` before any page renders.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let sign_in = ServerAction::<SignIn>::new();
    let sign_out = ServerAction::<SignOut>::new();
    let me = Resource::new(
        move || (sign_in.version().get(), sign_out.version().get()),
        |_| whoami(),
    );
    provide_context(Session(me));
    view! {
        <Stylesheet id="leptos" href="/pkg/payout-engine.css"/>
        <Title text="Payout Engine"/>
        <Router>
            <Transition fallback=|| view! { <header class="top"><span class="brand">"Payout Engine"</span></header> }>
                {move || Suspend::new(async move {
                    match me.await {
                        Ok(Some(me)) => view! { <TopBar me sign_out/> }.into_any(),
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
                    <Route path=path!("/login") view=move || view! { <LoginPage sign_in/> }/>
                    <Route path=path!("/reception") view={Lazy::<reception::ReceptionRoute>::new()}/>
                    <Route path=path!("/owner") view={Lazy::<owner::OwnerRoute>::new()}/>
                    <Route path=path!("/till") view={Lazy::<till::TillRoute>::new()}/>
                    <Route path=path!("/audits") view={Lazy::<audits::AuditsRoute>::new()}/>
                    <Route path=path!("/payouts/:id") view={Lazy::<payout::PayoutRoute>::new()}/>
                    <Route path=path!("/employees") view={Lazy::<employee::EmployeesRoute>::new()}/>
                    <Route path=path!("/employees/:id") view={Lazy::<employee::EmployeeRoute>::new()}/>
                    <Route path=path!("/settings") view={Lazy::<settings::SettingsRoute>::new()}/>
                    <Route path=path!("/activity") view={Lazy::<settings::ActivityRoute>::new()}/>
                </Routes>
            </main>
        </Router>
    }
}

/// The navigation of the signed-in person: only the pages their role may use. Signing out goes
/// to the sign-in page.
#[component]
fn TopBar(me: Me, sign_out: ServerAction<SignOut>) -> impl IntoView {
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            navigate("/login", Default::default());
        }
    });
    let may = |action| me.may(action);
    let own_page = me.employee_id.map(|id| format!("/employees/{id}"));
    view! {
        <header class="top">
            <a class="brand" href="/">"Payout Engine"</a>
            <nav>
                {may(Permission::RegisterService).then(|| view! { <A href="/reception">"Reception"</A> })}
                {may(Permission::OperateTill).then(|| view! { <A href="/till">"Till"</A> })}
                {may(Permission::CommitPayout).then(|| view! { <A href="/owner">"Payouts"</A> })}
                {match own_page.clone() {
                    Some(href) => view! { <A href=href>"My payouts"</A> }.into_any(),
                    None => view! { <A href="/employees">"Employees"</A> }.into_any(),
                }}
                {may(Permission::RunAudit).then(|| view! { <A href="/audits">"Audit"</A> })}
                {may(Permission::ManageApiKeys).then(|| view! { <A href="/settings">"Settings"</A> })}
            </nav>
            <div class="who">
                <span class="signed-in" data-role=me.role.as_str()>{format!("{} · {}", me.name, me.role)}</span>
                <ActionForm action=sign_out>
                    <button type="submit" class="sign-out">"Sign out"</button>
                </ActionForm>
            </div>
        </header>
    }
}

/// `/login?next=/owner`: the sign-in form; once signed in (now or already), on to `next` (only a
/// path of this site, never another site: no open redirect).
#[component]
fn LoginPage(sign_in: ServerAction<SignIn>) -> impl IntoView {
    let Session(me) = expect_context::<Session>();
    let query = use_query_map();
    let next = move || {
        query
            .with(|q| q.get("next"))
            .filter(|path| path.starts_with('/') && !path.starts_with("//"))
            .unwrap_or_else(|| "/".to_string())
    };
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(_)) => view! { <Redirect path=next()/> }.into_any(),
                    Ok(None) | Err(_) => view! { <SignInForm sign_in/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Email and password; a refusal (wrong password, too many attempts) is shown as it came.
#[component]
fn SignInForm(sign_in: ServerAction<SignIn>) -> impl IntoView {
    let refused = move || sign_in.value().get().and_then(Result::err);
    view! {
        <section class="sign-in">
            <h1>"Sign in"</h1>
            <ActionForm action=sign_in>
                <label>"Email" <input type="email" name="email" autocomplete="username" required/></label>
                <label>"Password" <input type="password" name="password" autocomplete="current-password" required/></label>
                <button type="submit">"Sign in"</button>
            </ActionForm>
            {move || refused().map(|error| view! { <ErrorMessage error/> })}
        </section>
    }
}

#[component]
fn Home() -> impl IntoView {
    let Session(me) = expect_context::<Session>();
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
            <li><a href="/till"><strong>"Till"</strong>" — open the cash register, cash in and out, count and close with a Z report"</a></li>
            <li><a href="/employees"><strong>"Employee"</strong>" — see your payouts, their status and lines"</a></li>
            <li><a href="/audits"><strong>"Audit"</strong>" — check the books now and see what the nightly audit found"</a></li>
        </ul>
    }
}
