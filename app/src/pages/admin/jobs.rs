//! `/admin/jobs`: every shopper's generations, narrowed by status, provider, address and time.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{AdminOnly, BUTTON, CELL, HEAD_ROW, INPUT, LINK, ROW, Scroll, TABLE, listing, when};
use crate::admin_api::console_jobs;

const STATUSES: [&str; 5] = ["queued", "processing", "succeeded", "failed", "canceled"];
const PERIODS: [(&str, &str); 4] =
    [("", "Any time"), ("1", "Last hour"), ("24", "Last 24 hours"), ("168", "Last 7 days")];

#[component]
pub fn JobsPage() -> impl IntoView {
    view! { <AdminOnly><Jobs /></AdminOnly> }
}

#[component]
fn Jobs() -> impl IntoView {
    let query = use_query_map();
    let param = move |key: &str| query.read().get(key).unwrap_or_default();
    let filter = move || (param("status"), param("provider"), param("email"), param("hours"));
    let data = Resource::new(filter, |(status, provider, email, hours)| {
        console_jobs(status, provider, email, hours)
    });
    let (status, provider, email, hours) = filter();
    view! {
        <h1 class="text-2xl font-bold">"Jobs"</h1>
        // A GET form: the filter is the page's address, so it can be bookmarked and shared.
        <form method="get" action="/admin/jobs" class="mt-4 grid gap-3 sm:grid-cols-5 sm:items-end">
            <div>
                <label class="block font-medium" for="status">"Status"</label>
                <select class=INPUT id="status" name="status">
                    <option value="" selected=status.is_empty()>"Any"</option>
                    {STATUSES.into_iter().map(|s| view! { <option value=s selected=status == s>{s}</option> }).collect_view()}
                </select>
            </div>
            <div>
                <label class="block font-medium" for="provider">"Provider"</label>
                <input class=INPUT id="provider" name="provider" value=provider />
            </div>
            <div>
                <label class="block font-medium" for="email">"Email"</label>
                <input class=INPUT id="email" name="email" type="search" value=email />
            </div>
            <div>
                <label class="block font-medium" for="hours">"Time"</label>
                <select class=INPUT id="hours" name="hours">
                    {PERIODS.into_iter().map(|(value, label)| view! { <option value=value selected=hours == value>{label}</option> }).collect_view()}
                </select>
            </div>
            <button type="submit" class=BUTTON>"Filter"</button>
        </form>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                listing(data.await, "No jobs match.", |items| view! {
                        <Scroll label="Jobs">
                            <table class=TABLE>
                                <thead><tr class=HEAD_ROW>
                                    <th scope="col" class=CELL>"Created (UTC)"</th>
                                    <th scope="col" class=CELL>"Job"</th>
                                    <th scope="col" class=CELL>"Shopper"</th>
                                    <th scope="col" class=CELL>"Provider"</th>
                                    <th scope="col" class=CELL>"Status"</th>
                                    <th scope="col" class=CELL>"Attempts"</th>
                                    <th scope="col" class=CELL>"Error"</th>
                                </tr></thead>
                                <tbody>
                                    {items.into_iter().map(|j| view! {
                                        <tr class=ROW data-testid="job-row">
                                            <td class=format!("{CELL} whitespace-nowrap")>{when(&j.generation.created_at)}</td>
                                            <td class=CELL><a class=format!("{LINK} font-mono text-xs") href=format!("/admin/jobs/{}", j.generation.id)>{j.generation.id.clone()}</a></td>
                                            <td class=CELL><a class=LINK href=format!("/admin/users/{}", j.user_id)>{j.email.clone()}</a></td>
                                            <td class=CELL>{j.generation.provider.clone().unwrap_or_default()}</td>
                                            <td class=CELL>{j.generation.status.as_str()}</td>
                                            <td class=CELL>{j.attempts}</td>
                                            <td class=CELL>{j.error_code.clone().unwrap_or_default()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </Scroll>
                    }.into_any())
            })}
        </Suspense>
    }
}
