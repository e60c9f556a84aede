//! The owner's settings: API keys for integrations (create, shown once; revoke), the people who
//! sign in, and the activity log of every change (who, when, what, before and after).

use crate::api::{
    list_activity, list_api_keys, list_employees, list_studios, list_users, CreateApiKey,
    CreateUser, RevokeApiKey, SetUserActive,
};
use crate::components::{utc_minute, ErrorMessage};
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
    view! {
        <h1>"Settings"</h1>
        <p><a href="/activity">"Activity log: every change, who made it and when"</a></p>
        <h2>"API keys"</h2>
        <p class="hint">"An integration (booking system, accounting) sends its key as "<code>"Authorization: Bearer pe_…"</code>". A receptionist key works for one studio."</p>
        <ActionForm action=create attr:class="api-key-form">
            <label>"Name" <input type="text" name="name" required placeholder="booking system"/></label>
            <label>"Role"
                <select name="role">
                    <option value="receptionist">"receptionist (one studio)"</option>
                    <option value="owner">"owner (every studio)"</option>
                </select>
            </label>
            <label>"Studio (receptionist keys)"
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
            <label>"Access"
                <select name="access">
                    <option value="full">"everything the role may do"</option>
                    <option value="read_only">"read only"</option>
                </select>
            </label>
            <button type="submit" class="create-key" disabled=move || create.pending().get()>"Create key"</button>
        </ActionForm>
        {move || match create.value().get() {
            Some(Ok(created)) => view! {
                <div class="notice success new-key" role="status">
                    <p>{format!("Key '{}' created. Copy it now: it is not shown again.", created.info.name)}</p>
                    <code class="key">{created.key}</code>
                </div>
            }.into_any(),
            Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
            None => ().into_any(),
        }}
        {move || revoke.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error/> })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match keys.await {
                    Ok(list) if list.is_empty() => view! { <p class="hint">"No API keys yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="api-keys">
                            <thead><tr><th>"Name"</th><th>"Key"</th><th>"Role"</th><th>"Scopes"</th><th>"Created"</th><th>"Last used"</th><th>"State"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|k| {
                                    let id = k.id.to_string();
                                    let scopes: Vec<&str> = k.scopes.iter().map(|s| s.as_str()).collect();
                                    view! {
                                        <tr data-key=k.name.clone()>
                                            <td>{k.name.clone()}</td>
                                            <td><code>{format!("pe_{}_…", k.prefix)}</code></td>
                                            <td>{k.role.as_str()}</td>
                                            <td>{scopes.join(", ")}</td>
                                            <td>{format!("{} by {}", utc_minute(k.created_at), k.created_by)}</td>
                                            <td>{k.last_used_at.map(utc_minute).unwrap_or_else(|| "never".into())}</td>
                                            <td>{match k.revoked_at {
                                                Some(at) => view! { <span class="revoked">{format!("revoked {}", utc_minute(at))}</span> }.into_any(),
                                                None => view! {
                                                    <ActionForm action=revoke>
                                                        <input type="hidden" name="key_id" value=id/>
                                                        <button type="submit" class="revoke">"Revoke"</button>
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
        <h2>"People who sign in"</h2>
        <ActionForm action=add_user attr:class="user-form">
            <label>"Name" <input type="text" name="name" required/></label>
            <label>"Email" <input type="email" name="email" required autocomplete="off"/></label>
            <label>"Role"
                <select name="role">
                    <option value="receptionist">"receptionist"</option>
                    <option value="employee">"employee"</option>
                    <option value="owner">"owner"</option>
                </select>
            </label>
            <label>"Studio (receptionist)"
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
            <label>"Employee (employee account)"
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
            <label>"Initial password (12+ characters)" <input type="password" name="password" required minlength="12" autocomplete="new-password"/></label>
            <button type="submit" class="add-user" disabled=move || add_user.pending().get()>"Add person"</button>
        </ActionForm>
        {move || match add_user.value().get() {
            Some(Ok(user)) => view! { <p class="notice success" role="status">{format!("{} can now sign in as {}.", user.name, user.email)}</p> }.into_any(),
            Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
            None => ().into_any(),
        }}
        {move || set_active.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error/> })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(list) => view! {
                        <table class="users">
                            <thead><tr><th>"Name"</th><th>"Email"</th><th>"Role"</th><th>"State"</th><th></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|u| {
                                    let id = u.id.to_string();
                                    let (label, next) = if u.active { ("Deactivate", "false") } else { ("Reactivate", "true") };
                                    let email = u.email.clone();
                                    view! {
                                        <tr data-user=email>
                                            <td>{u.name}</td>
                                            <td>{u.email}</td>
                                            <td>{u.role.as_str()}</td>
                                            <td>{match (u.active, u.demo_credentials) {
                                                (false, _) => "inactive",
                                                (true, true) => "active · demo password",
                                                (true, false) => "active",
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
        <p class="hint">"Set a new password with "<code>"payout-engine user set-password --email EMAIL"</code>"."</p>
    }
}

#[component]
pub fn ActivityPage() -> impl IntoView {
    let query = use_query_map();
    let before = move || query.with(|q| q.get("before").and_then(|b| b.parse::<i64>().ok()));
    let entries = Resource::new(before, list_activity);
    view! {
        <h1>"Activity log"</h1>
        <p class="hint">"Every change, newest first: who made it, when, with which request, and the state before and after. Nothing here can be edited or deleted."</p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Ok(list) => {
                        let older = list.last().map(|e| format!("/activity?before={}", e.id));
                        let full_page = list.len() == 50;
                        view! {
                            <table class="activity">
                                <thead><tr><th>"When"</th><th>"Who"</th><th>"What"</th><th>"Entity"</th><th>"Request"</th><th>"Before → after"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|e| {
                                        let action = e.action.clone();
                                        view! {
                                        <tr data-action=action>
                                            <td>{utc_minute(e.at)}</td>
                                            <td>{format!("{} ({})", e.actor_label, e.role)}</td>
                                            <td>{e.action}</td>
                                            <td>{format!("{} {}", e.entity_type, e.entity_id.unwrap_or_default())}</td>
                                            <td><code>{e.idempotency_key.unwrap_or_default()}</code></td>
                                            <td>
                                                <details>
                                                    <summary>"states"</summary>
                                                    <pre>{format!("before: {}\nafter: {}", e.before_state.unwrap_or_else(|| "—".into()), e.after_state.unwrap_or_else(|| "—".into()))}</pre>
                                                </details>
                                            </td>
                                        </tr>
                                    }}).collect_view()}
                                </tbody>
                            </table>
                            {full_page.then(|| older.map(|href| view! { <p><a class="older" href=href>"Older entries"</a></p> }))}
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
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
