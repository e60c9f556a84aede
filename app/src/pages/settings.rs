//! The owner's settings: API keys for integrations (create, shown once; revoke), the people who
//! sign in, and the activity log of every change (who, when, what, before and after).

use crate::api::{
    list_activity, list_api_keys, list_employees, list_studios, list_users, CreateApiKey,
    CreateUser, RevokeApiKey, SetUserActive,
};
use crate::components::{role_label, utc_minute, ErrorMessage};
use crate::domain::Role;
use crate::i18n::{t, t_string, use_i18n};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::{lazy_route, LazyRoute};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_api_keys(),
    );
    let add_user = ServerAction::<CreateUser>::new();
    let set_active = ServerAction::<SetUserActive>::new();
    let users = Resource::new(
        move || (add_user.version().get(), set_active.version().get()),
        |_| list_users(),
    );
    let studios = OnceResource::new(list_studios());
    let employees = OnceResource::new(list_employees());
    let i18n = use_i18n();
    view! {
        <h1>{t!(i18n, settings.title)}</h1>
        <p><a href="/activity">{t!(i18n, settings.activity_link)}</a></p>
        <h2>{t!(i18n, settings.api_keys.title)}</h2>
        <p class="hint">{t!(i18n, settings.api_keys.hint_before)}<code>"Authorization: Bearer pe_…"</code>{t!(i18n, settings.api_keys.hint_after)}</p>
        <ActionForm action=create attr:class="api-key-form">
            <label>{t!(i18n, settings.api_keys.name)} <input type="text" name="name" required placeholder=t_string!(i18n, settings.api_keys.name_placeholder)/></label>
            <label>{t!(i18n, settings.api_keys.role)}
                <select name="role">
                    <option value="receptionist">{t!(i18n, settings.api_keys.role_receptionist)}</option>
                    <option value="owner">{t!(i18n, settings.api_keys.role_owner)}</option>
                </select>
            </label>
            <label>{t!(i18n, settings.api_keys.studio)}
                <select name="studio_id">
                    <option value="">"—"</option>
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            studios.await.unwrap_or_default().into_iter().map(|s| view! {
                                <option value=s.id.to_string()>{s.name}</option>
                            }).collect_view()
                        })}
                    </Suspense>
                </select>
            </label>
            <label>{t!(i18n, settings.api_keys.access)}
                <select name="access">
                    <option value="full">{t!(i18n, settings.api_keys.access_full)}</option>
                    <option value="read_only">{t!(i18n, settings.api_keys.access_read_only)}</option>
                </select>
            </label>
            <button type="submit" class="create-key" disabled=move || create.pending().get()>{t!(i18n, settings.api_keys.create)}</button>
        </ActionForm>
        {move || match create.value().get() {
            Some(Ok(created)) => view! {
                <div class="notice success new-key" role="status">
                    <p>{t_string!(i18n, settings.api_keys.created, name = created.info.name.clone()).to_string()}</p>
                    <code class="key">{created.key}</code>
                </div>
            }.into_any(),
            Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
            None => ().into_any(),
        }}
        {move || revoke.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error/> })}
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match keys.await {
                    Ok(list) if list.is_empty() => view! { <p class="hint">{t!(i18n, settings.api_keys.none)}</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="api-keys">
                            <thead><tr><th>{t!(i18n, settings.api_keys.table.name)}</th><th>{t!(i18n, settings.api_keys.table.key)}</th>
                                <th>{t!(i18n, settings.api_keys.table.role)}</th><th>{t!(i18n, settings.api_keys.table.scopes)}</th>
                                <th>{t!(i18n, settings.api_keys.table.created)}</th><th>{t!(i18n, settings.api_keys.table.last_used)}</th>
                                <th>{t!(i18n, settings.api_keys.table.state)}</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|k| {
                                    let id = k.id.to_string();
                                    let scopes: Vec<&str> = k.scopes.iter().map(|s| s.as_str()).collect();
                                    view! {
                                        <tr data-key=k.name.clone()>
                                            <td>{k.name.clone()}</td>
                                            <td><code>{format!("pe_{}_…", k.prefix)}</code></td>
                                            <td>{role_label(k.role)}</td>
                                            <td>{scopes.join(", ")}</td>
                                            <td>{t_string!(i18n, settings.api_keys.created_by, at = utc_minute(k.created_at), who = k.created_by.clone()).to_string()}</td>
                                            <td>{k.last_used_at.map(utc_minute).unwrap_or_else(|| t_string!(i18n, settings.api_keys.never).to_string())}</td>
                                            <td>{match k.revoked_at {
                                                Some(at) => view! { <span class="revoked">{t_string!(i18n, settings.api_keys.revoked, at = utc_minute(at)).to_string()}</span> }.into_any(),
                                                None => view! {
                                                    <ActionForm action=revoke>
                                                        <input type="hidden" name="key_id" value=id/>
                                                        <button type="submit" class="revoke">{t!(i18n, settings.api_keys.revoke)}</button>
                                                    </ActionForm>
                                                }.into_any(),
                                            }}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
        <h2>{t!(i18n, settings.users.title)}</h2>
        <ActionForm action=add_user attr:class="user-form">
            <label>{t!(i18n, settings.users.name)} <input type="text" name="name" required/></label>
            <label>{t!(i18n, settings.users.email)} <input type="email" name="email" required autocomplete="off"/></label>
            <label>{t!(i18n, settings.users.role)}
                <select name="role">
                    <option value="receptionist">{role_label(Role::Receptionist)}</option>
                    <option value="employee">{role_label(Role::Employee)}</option>
                    <option value="owner">{role_label(Role::Owner)}</option>
                </select>
            </label>
            <label>{t!(i18n, settings.users.studio)}
                <select name="studio_id">
                    <option value="">"—"</option>
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            studios.await.unwrap_or_default().into_iter().map(|s| view! {
                                <option value=s.id.to_string()>{s.name}</option>
                            }).collect_view()
                        })}
                    </Suspense>
                </select>
            </label>
            <label>{t!(i18n, settings.users.employee)}
                <select name="employee_id">
                    <option value="">"—"</option>
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            employees.await.unwrap_or_default().into_iter().map(|e| view! {
                                <option value=e.id.to_string()>{format!("{} ({})", e.name, e.studio_name)}</option>
                            }).collect_view()
                        })}
                    </Suspense>
                </select>
            </label>
            <label>{t!(i18n, settings.users.password)} <input type="password" name="password" required minlength="12" autocomplete="new-password"/></label>
            <button type="submit" class="add-user" disabled=move || add_user.pending().get()>{t!(i18n, settings.users.add)}</button>
        </ActionForm>
        {move || match add_user.value().get() {
            Some(Ok(user)) => view! { <p class="notice success" role="status">{t_string!(i18n, settings.users.added, name = user.name.clone(), email = user.email.clone()).to_string()}</p> }.into_any(),
            Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
            None => ().into_any(),
        }}
        {move || set_active.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error/> })}
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(list) => view! {
                        <table class="users">
                            <thead><tr><th>{t!(i18n, settings.users.table.name)}</th><th>{t!(i18n, settings.users.table.email)}</th>
                                <th>{t!(i18n, settings.users.table.role)}</th><th>{t!(i18n, settings.users.table.state)}</th><th></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|u| {
                                    let id = u.id.to_string();
                                    let (label, next) = if u.active {
                                        (t_string!(i18n, settings.users.deactivate), "false")
                                    } else {
                                        (t_string!(i18n, settings.users.reactivate), "true")
                                    };
                                    let email = u.email.clone();
                                    view! {
                                        <tr data-user=email>
                                            <td>{u.name}</td>
                                            <td>{u.email}</td>
                                            <td>{role_label(u.role)}</td>
                                            <td>{match (u.active, u.demo_credentials) {
                                                (false, _) => t_string!(i18n, settings.users.inactive),
                                                (true, true) => t_string!(i18n, settings.users.active_demo),
                                                (true, false) => t_string!(i18n, settings.users.active),
                                            }}</td>
                                            <td>
                                                <ActionForm action=set_active>
                                                    <input type="hidden" name="user_id" value=id/>
                                                    <input type="hidden" name="active" value=next/>
                                                    <button type="submit">{label}</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
        <p class="hint">{t!(i18n, settings.users.password_hint_before)}<code>"payout-engine user set-password --email EMAIL"</code>{t!(i18n, settings.users.password_hint_after)}</p>
    }
}

#[component]
pub fn ActivityPage() -> impl IntoView {
    let query = use_query_map();
    let before = move || query.with(|q| q.get("before").and_then(|b| b.parse::<i64>().ok()));
    let entries = Resource::new(before, list_activity);
    let i18n = use_i18n();
    view! {
        <h1>{t!(i18n, settings.activity.title)}</h1>
        <p class="hint">{t!(i18n, settings.activity.hint)}</p>
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Ok(list) => {
                        let older = list.last().map(|e| format!("/activity?before={}", e.id));
                        let full_page = list.len() == 50;
                        view! {
                            <table class="activity">
                                <thead><tr><th>{t!(i18n, settings.activity.when)}</th><th>{t!(i18n, settings.activity.who)}</th>
                                    <th>{t!(i18n, settings.activity.what)}</th><th>{t!(i18n, settings.activity.entity)}</th>
                                    <th>{t!(i18n, settings.activity.request)}</th><th>{t!(i18n, settings.activity.before_after)}</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|e| {
                                        let action = e.action.clone();
                                        view! {
                                        <tr data-action=action>
                                            <td>{utc_minute(e.at)}</td>
                                            <td>{format!("{} ({})", e.actor_label, stored_role_label(&e.role))}</td>
                                            <td>{e.action}</td>
                                            <td>{format!("{} {}", e.entity_type, e.entity_id.unwrap_or_default())}</td>
                                            <td><code>{e.idempotency_key.unwrap_or_default()}</code></td>
                                            <td>
                                                <details>
                                                    <summary>{t!(i18n, settings.activity.states)}</summary>
                                                    <pre>{t_string!(i18n, settings.activity.before_and_after,
                                                        before = e.before_state.unwrap_or_else(|| "—".into()),
                                                        after = e.after_state.unwrap_or_else(|| "—".into())).to_string()}</pre>
                                                </details>
                                            </td>
                                        </tr>
                                    }}).collect_view()}
                                </tbody>
                            </table>
                            {full_page.then(|| older.map(|href| view! { <p><a class="older" href=href>{t!(i18n, settings.activity.older)}</a></p> }))}
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// A role as the activity log stores it (`owner`), in the page's language; a spelling the app
/// does not know is shown as it is.
fn stored_role_label(stored: &str) -> String {
    match Role::parse(stored) {
        Ok(role) => role_label(role).to_string(),
        Err(_) => stored.to_string(),
    }
}

/// The settings page as a lazy route: its code is a separate WASM chunk (`cargo leptos --split`),
/// loaded when the page is first shown.
pub struct SettingsRoute;

#[lazy_route]
impl LazyRoute for SettingsRoute {
    fn data() -> Self {
        SettingsRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <SettingsPage/> }.into_any()
    }
}

/// The activity log as a lazy route: its code is a separate WASM chunk (`cargo leptos --split`),
/// loaded when the page is first shown.
pub struct ActivityRoute;

#[lazy_route]
impl LazyRoute for ActivityRoute {
    fn data() -> Self {
        ActivityRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <ActivityPage/> }.into_any()
    }
}
