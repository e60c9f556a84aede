//! `/login`: the sign-in form, a lazy route of its own (nobody needs its code once signed in).

use super::Session;
use crate::api::SignIn;
use crate::components::{current_language, ErrorMessage};
use crate::domain::local_redirect_target;
use crate::i18n::{t, use_i18n};
use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;
use leptos_router::{lazy_route, LazyRoute};

/// `/login?next=/owner`: the sign-in form; once signed in (now or already), on to `next` (only a
/// path of this site, never another site: no open redirect).
#[component]
pub fn LoginPage() -> impl IntoView {
    let Session { me, changed } = expect_context::<Session>();
    let sign_in = ServerAction::<SignIn>::new();
    let query = use_query_map();
    let next = move || query.with(|q| local_redirect_target(q.get_str("next")));
    // A successful sign-in makes the shell read who is signed in again; this page then redirects.
    // Someone who chose another language than this page's gets `next` loaded anew instead, so
    // everything renders in their language (the sign-in set the cookie the server reads).
    Effect::new(move |_| {
        if let Some(Ok(signed_in)) = sign_in.value().get() {
            match signed_in.language {
                Some(language) if language != current_language() => {
                    if let Err(error) = window().location().set_href(&next()) {
                        leptos::logging::error!(
                            "could not load {} in the chosen language: {error:?}",
                            next()
                        );
                        changed.update(|n| *n += 1);
                    }
                }
                Some(_) | None => changed.update(|n| *n += 1),
            }
        }
    });
    let i18n = use_i18n();
    view! {
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
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
    let i18n = use_i18n();
    view! {
        <section class="sign-in">
            <h1>{t!(i18n, common.sign_in.title)}</h1>
            <ActionForm action=sign_in>
                <label>{t!(i18n, common.sign_in.email)} " " <input type="email" name="email" autocomplete="username" required/></label>
                <label>{t!(i18n, common.sign_in.password)} " " <input type="password" name="password" autocomplete="current-password" required/></label>
                <button type="submit">{t!(i18n, common.sign_in.submit)}</button>
            </ActionForm>
            {move || refused().map(|error| view! { <ErrorMessage error/> })}
        </section>
    }
}

/// The sign-in page as a lazy route: its code is a separate WASM chunk (`cargo leptos --split`),
/// loaded when the page is first shown.
pub struct LoginRoute;

#[lazy_route]
impl LazyRoute for LoginRoute {
    fn data() -> Self {
        LoginRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <LoginPage/> }.into_any()
    }
}
