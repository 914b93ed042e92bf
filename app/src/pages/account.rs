//! `/account`: credits, the packages in the order they are spent, and the ledger.

use leptos::prelude::*;

use crate::api::{AccountView, Buy, CatalogView, PackageView, account, catalog};
use crate::layout::SignedIn;

#[component]
pub fn AccountPage() -> impl IntoView {
    view! { <SignedIn><Credits /></SignedIn> }
}

#[component]
fn Credits() -> impl IntoView {
    let data = Resource::new(|| (), |_| account());
    let offers = Resource::new(|| (), |_| catalog());
    view! {
        <h1 class="text-2xl font-bold">"Credits"</h1>
        <p class="mt-1"><a class="text-indigo-800 underline" href="/account/security">"Security and privacy: sessions, password, your data, deleting the account"</a></p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <AccountDetails view /> }.into_any(),
                    Err(e) => view! { <p role="alert">{crate::api::error_text(&e)}</p> }.into_any(),
                }
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                offers.await.ok().map(|view| view! { <Shop view /> })
            })}
        </Suspense>
    }
}

#[component]
fn Shop(view: CatalogView) -> impl IntoView {
    let buy = ServerAction::<Buy>::new();
    let enabled = view.buying_enabled;
    view! {
        <h2 class="mt-8 text-xl font-semibold">"Buy credits"</h2>
        {(!enabled).then(|| view! { <p class="mt-2 text-stone-700">"Buying credits is not set up on this Fitroom yet."</p> })}
        <ul class="mt-3 grid gap-3 sm:grid-cols-3">
            {view.items.into_iter().map(|item| view! {
                <li class="rounded-xl border border-stone-200 bg-white p-4">
                    <p class="font-semibold">{item.name.clone()}</p>
                    <p class="text-stone-700">{format!("{} credits, valid {} days", item.credits, item.valid_days)}</p>
                    <ActionForm action=buy>
                        <input type="hidden" name="package_id" value=item.id.clone() />
                        <button type="submit" disabled=!enabled
                            class="mt-3 w-full rounded-lg bg-indigo-700 px-3 py-2 font-medium text-white hover:bg-indigo-800 disabled:bg-stone-300 disabled:text-stone-800 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-700">
                            {if enabled { format!("Buy for {}", item.price) } else { "Not available".to_owned() }}
                        </button>
                    </ActionForm>
                </li>
            }).collect_view()}
        </ul>
    }
}

#[component]
fn AccountDetails(view: AccountView) -> impl IntoView {
    let (active, finished): (Vec<PackageView>, Vec<PackageView>) =
        view.packages.into_iter().partition(|p| p.status == "active");
    view! {
        <dl class="mt-4 grid grid-cols-2 gap-4 sm:max-w-md">
            <div class="rounded-xl border border-stone-200 bg-white p-4">
                <dt class="text-sm text-stone-700">"Available"</dt>
                <dd class="text-3xl font-bold" data-testid="available">{view.available}</dd>
            </div>
            <div class="rounded-xl border border-stone-200 bg-white p-4">
                <dt class="text-sm text-stone-700">"Held for running generations"</dt>
                <dd class="text-3xl font-bold" data-testid="held">{view.held}</dd>
            </div>
        </dl>
        <h2 class="mt-8 text-xl font-semibold">"Your packages, in the order they are used"</h2>
        {if active.is_empty() {
            view! { <p class="mt-2 text-stone-700">"No credits left to spend."</p> }.into_any()
        } else {
            view! { <ol class="mt-3 space-y-3">{active.into_iter().map(|p| view! { <PackageRow p /> }).collect_view()}</ol> }.into_any()
        }}
        {(!finished.is_empty()).then(|| view! {
            <details class="mt-6">
                <summary class="cursor-pointer font-medium">"Used up and expired packages"</summary>
                <ul class="mt-3 space-y-3">{finished.into_iter().map(|p| view! { <PackageRow p /> }).collect_view()}</ul>
            </details>
        })}
        <h2 class="mt-8 text-xl font-semibold">"Credit history"</h2>
        <div class="mt-3 overflow-x-auto">
            <table class="w-full text-left text-sm">
                <thead><tr class="border-b border-stone-300">
                    <th scope="col" class="py-2 pr-4">"When (UTC)"</th>
                    <th scope="col" class="py-2 pr-4">"What"</th>
                    <th scope="col" class="py-2 pr-4">"Credits"</th>
                    <th scope="col" class="py-2">"Generation"</th>
                </tr></thead>
                <tbody>
                    {view.entries.into_iter().map(|e| view! {
                        <tr class="border-b border-stone-200">
                            <td class="py-2 pr-4 whitespace-nowrap">{e.at}</td>
                            <td class="py-2 pr-4">{describe(&e.kind)}</td>
                            <td class="py-2 pr-4">{e.amount}</td>
                            <td class="py-2 font-mono text-xs">{e.job_id.unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

fn describe(kind: &str) -> &'static str {
    match kind {
        "grant" => "Credits added",
        "freeze" => "Held for a generation",
        "settle" => "Spent on a generation",
        "release" => "Returned (not charged)",
        "expire" => "Expired unused",
        "refund" => "Taken back (payment refunded)",
        _ => "Other",
    }
}

#[component]
fn PackageRow(p: PackageView) -> impl IntoView {
    let percent = if p.granted > 0 { p.remaining * 100 / p.granted } else { 0 };
    let soon = p.status == "active" && p.expires_in_days.is_some_and(|d| d <= 3);
    let expiry = match (&p.expires_on, p.expires_in_days, p.status.as_str()) {
        (Some(date), _, "expired") => format!("Expired {date}"),
        (Some(date), Some(0), _) => format!("Expires {date} (today)"),
        (Some(date), Some(1), _) => format!("Expires {date} (in 1 day)"),
        (Some(date), Some(days), _) => format!("Expires {date} (in {days} days)"),
        _ => "Never expires".to_owned(),
    };
    view! {
        <li class="rounded-xl border border-stone-200 bg-white p-4" data-testid="package">
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <span class="font-semibold">{p.name}</span>
                <span class=if soon { "font-semibold text-amber-900" } else { "text-stone-700" }>{expiry}</span>
            </div>
            <div class="mt-2 h-2 w-full rounded bg-stone-200" role="img" aria-label=format!("{} of {} credits left", p.remaining, p.granted)>
                <div class="h-2 rounded bg-indigo-700" style=format!("width: {percent}%")></div>
            </div>
            <p class="mt-1 text-sm text-stone-700">
                {format!("{} of {} left", p.remaining, p.granted)}
                {(p.held > 0).then(|| format!(", {} held", p.held))}
            </p>
        </li>
    }
}
