//! `/admin/users/{id}`: one account whole (packages by expiry, ledger, generations), credits
//! granted with a reason, suspension.

use fitroom_types::admin::AdminAccountDetail;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{
    AdminOnly, BUTTON, CELL, DANGER, HEAD_ROW, INPUT, LINK, ROW, Scroll, TABLE, failed, when,
};
use crate::admin_api::{ConsoleGrant, ConsoleSuspend, console_user};

#[component]
pub fn UserPage() -> impl IntoView {
    view! { <AdminOnly><User /></AdminOnly> }
}

#[component]
fn User() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(move || params.read().get("id").unwrap_or_default(), console_user);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(detail) => view! { <Account detail /> }.into_any(),
                    Err(e) => view! { <h1 class="text-2xl font-bold">"User"</h1> {failed(&e)} }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Account(detail: AdminAccountDetail) -> impl IntoView {
    let AdminAccountDetail { user, packages, entries, generations } = detail;
    let id = user.id.clone();
    view! {
        <h1 class="text-2xl font-bold break-all">{user.email.clone()}</h1>
        <p class="mt-1 text-stone-700">
            {format!("Account since {} UTC · ", when(&user.created_at))}
            <span data-testid="account-state" class=if user.suspended { "font-semibold text-red-900" } else { "" }>
                {if user.suspended { "Suspended" } else { "Active" }}
            </span>
        </p>
        <dl class="mt-4 grid grid-cols-2 gap-4 sm:max-w-md">
            <div class="rounded-xl border border-stone-200 bg-white p-4">
                <dt class="text-sm text-stone-700">"Available"</dt>
                <dd class="text-3xl font-bold" data-testid="available">{user.available}</dd>
            </div>
            <div class="rounded-xl border border-stone-200 bg-white p-4">
                <dt class="text-sm text-stone-700">"Held"</dt>
                <dd class="text-3xl font-bold" data-testid="held">{user.held}</dd>
            </div>
        </dl>
        <div class="mt-6 grid gap-6 lg:grid-cols-2">
            <GrantForm id=id.clone() />
            <SuspendForm id=id.clone() suspended=user.suspended />
        </div>
        <h2 class="mt-8 text-xl font-semibold">"Packages, in the order they are spent"</h2>
        <Scroll label="Packages">
            <table class=TABLE>
                <thead><tr class=HEAD_ROW>
                    <th scope="col" class=CELL>"Name"</th>
                    <th scope="col" class=CELL>"Granted"</th>
                    <th scope="col" class=CELL>"Left"</th>
                    <th scope="col" class=CELL>"Held"</th>
                    <th scope="col" class=CELL>"Expires (UTC)"</th>
                    <th scope="col" class=CELL>"State"</th>
                </tr></thead>
                <tbody>
                    {packages.into_iter().map(|p| view! {
                        <tr class=ROW data-testid="package-row">
                            <td class=CELL>{p.name.clone()}</td>
                            <td class=CELL>{p.granted}</td>
                            <td class=CELL>{p.remaining}</td>
                            <td class=CELL>{p.held}</td>
                            <td class=format!("{CELL} whitespace-nowrap")>{p.expires_at.as_deref().map(when).unwrap_or_else(|| "never".into())}</td>
                            <td class=CELL>{p.status.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </Scroll>
        <h2 class="mt-8 text-xl font-semibold">"Ledger"</h2>
        <Scroll label="Ledger">
            <table class=TABLE>
                <thead><tr class=HEAD_ROW>
                    <th scope="col" class=CELL>"When (UTC)"</th>
                    <th scope="col" class=CELL>"Kind"</th>
                    <th scope="col" class=CELL>"Credits"</th>
                    <th scope="col" class=CELL>"Job"</th>
                </tr></thead>
                <tbody>
                    {entries.into_iter().map(|e| view! {
                        <tr class=ROW data-testid="ledger-row">
                            <td class=format!("{CELL} whitespace-nowrap")>{when(&e.at)}</td>
                            <td class=CELL>{e.kind.clone()}</td>
                            <td class=CELL>{e.amount}</td>
                            <td class=CELL>{e.job_id.clone().map(|j| view! {
                                <a class=format!("{LINK} font-mono text-xs") href=format!("/admin/jobs/{j}")>{j.clone()}</a>
                            })}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </Scroll>
        <h2 class="mt-8 text-xl font-semibold">"Generations"</h2>
        {if generations.is_empty() {
            view! { <p class="mt-2 text-stone-700">"None yet."</p> }.into_any()
        } else {
            view! {
                <ul class="mt-3 space-y-1 text-sm">
                    {generations.into_iter().map(|g| view! {
                        <li>
                            <a class=format!("{LINK} font-mono text-xs") href=format!("/admin/jobs/{}", g.id)>{g.id.clone()}</a>
                            {format!(" · {} · {} · {}", g.created_minute(), g.provider.clone().unwrap_or_default(), g.status.as_str())}
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
    }
}

#[component]
fn GrantForm(id: String) -> impl IntoView {
    let grant = ServerAction::<ConsoleGrant>::new();
    view! {
        <section class="rounded-xl border border-stone-200 bg-white p-4" aria-labelledby="grant-heading">
            <h2 id="grant-heading" class="text-lg font-semibold">"Grant credits"</h2>
            <ActionForm action=grant>
                <input type="hidden" name="user_id" value=id />
                <div class="mt-2 grid grid-cols-2 gap-3">
                    <div>
                        <label class="block font-medium" for="grant-amount">"Amount"</label>
                        <input class=INPUT id="grant-amount" name="amount" type="number" min="1" step="1" inputmode="numeric" required />
                    </div>
                    <div>
                        <label class="block font-medium" for="grant-days">"Expires in days"</label>
                        <input class=INPUT id="grant-days" name="expires_in_days" type="number" min="1" step="1" inputmode="numeric" aria-describedby="grant-days-help" />
                    </div>
                </div>
                <p id="grant-days-help" class="mt-1 text-sm text-stone-700">"Empty: the credits never expire."</p>
                <label class="mt-3 block font-medium" for="grant-reason">"Reason"</label>
                <input class=INPUT id="grant-reason" name="reason" required maxlength="500" />
                <button type="submit" class=format!("mt-4 {BUTTON}")>"Grant credits"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn SuspendForm(id: String, suspended: bool) -> impl IntoView {
    let suspend = ServerAction::<ConsoleSuspend>::new();
    let (heading, button, class) = if suspended {
        ("Lift the suspension", "Unsuspend", BUTTON)
    } else {
        ("Suspend this account", "Suspend", DANGER)
    };
    view! {
        <section class="rounded-xl border border-stone-200 bg-white p-4" aria-labelledby="suspend-heading">
            <h2 id="suspend-heading" class="text-lg font-semibold">{heading}</h2>
            {(!suspended).then(|| view! { <p class="mt-1 text-sm text-stone-700">"Every session ends and signing in is refused until the suspension is lifted."</p> })}
            <ActionForm action=suspend>
                <input type="hidden" name="user_id" value=id />
                <input type="hidden" name="suspend" value=if suspended { "false" } else { "true" } />
                <label class="mt-3 block font-medium" for="suspend-reason">"Reason"</label>
                <input class=INPUT id="suspend-reason" name="reason" required maxlength="500" />
                <button type="submit" class=format!("mt-4 {class}")>{button}</button>
            </ActionForm>
        </section>
    }
}
