//! `/admin`: "Operations", how the last hour went and whether the money adds up.

use fitroom_types::admin::{Operations, Verification};
use leptos::prelude::*;

use super::{AdminOnly, BUTTON, CELL, HEAD_ROW, ROW, Scroll, TABLE, failed, percent, when};
use crate::admin_api::{ConsoleVerifyLedger, console_operations};
use crate::pages::admin::providers::ProviderTable;

#[component]
pub fn OperationsPage() -> impl IntoView {
    view! { <AdminOnly><Overview /></AdminOnly> }
}

#[component]
fn Overview() -> impl IntoView {
    let data = Resource::new(|| (), |_| console_operations());
    view! {
        <h1 class="text-2xl font-bold">"Operations"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(ops) => view! { <Figures ops /> }.into_any(),
                    Err(e) => failed(&e),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Figures(ops: Operations) -> impl IntoView {
    let total: i64 = ops.last_hour.iter().map(|p| p.jobs).sum();
    let succeeded: i64 = ops.last_hour.iter().map(|p| p.succeeded).sum();
    let finished: i64 = ops.last_hour.iter().map(|p| p.succeeded + p.failed).sum();
    let rate = (finished > 0).then(|| succeeded as f64 / finished as f64);
    view! {
        <dl class="mt-4 grid grid-cols-2 gap-4 sm:grid-cols-4">
            <Figure label="Jobs in the last hour" value=total.to_string() id="jobs-last-hour" />
            <Figure label="Success rate (finished)" value=percent(rate) id="success-rate" />
            <Figure label="Open holds" value=ops.open_holds.to_string() id="open-holds" />
            <Figure label="Credits held" value=ops.held_credits.to_string() id="held-credits" />
        </dl>
        <h2 class="mt-8 text-xl font-semibold">"Last hour by provider"</h2>
        {if ops.last_hour.is_empty() {
            view! { <p class="mt-2 text-stone-700">"No jobs in the last hour."</p> }.into_any()
        } else {
            view! {
                <Scroll label="Last hour by provider">
                    <table class=TABLE>
                        <thead><tr class=HEAD_ROW>
                            <th scope="col" class=CELL>"Provider"</th>
                            <th scope="col" class=CELL>"Jobs"</th>
                            <th scope="col" class=CELL>"Succeeded"</th>
                            <th scope="col" class=CELL>"Failed"</th>
                            <th scope="col" class=CELL>"Running"</th>
                            <th scope="col" class=CELL>"Success rate"</th>
                        </tr></thead>
                        <tbody>
                            {ops.last_hour.into_iter().map(|p| view! {
                                <tr class=ROW>
                                    <th scope="row" class=CELL>
                                        <a class=super::LINK href=format!("/admin/jobs?provider={}&hours=1", p.provider)>{p.provider.clone()}</a>
                                    </th>
                                    <td class=CELL>{p.jobs}</td>
                                    <td class=CELL>{p.succeeded}</td>
                                    <td class=CELL>{p.failed}</td>
                                    <td class=CELL>{p.unfinished}</td>
                                    <td class=CELL>{percent(p.success_rate)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </Scroll>
            }.into_any()
        }}
        <h2 class="mt-8 text-xl font-semibold">"Spend against budgets"</h2>
        <ProviderTable rows=ops.providers />
        <h2 class="mt-8 text-xl font-semibold">"Ledger"</h2>
        <LastVerification last=ops.last_verification />
    }
}

#[component]
fn Figure(label: &'static str, value: String, id: &'static str) -> impl IntoView {
    view! {
        <div class="rounded-xl border border-stone-200 bg-white p-4">
            <dt class="text-sm text-stone-700">{label}</dt>
            <dd class="text-3xl font-bold" data-testid=id>{value}</dd>
        </div>
    }
}

#[component]
fn LastVerification(last: Option<Verification>) -> impl IntoView {
    let verify = ServerAction::<ConsoleVerifyLedger>::new();
    view! {
        {match last {
            None => view! { <p class="mt-2 text-stone-700" data-testid="last-verification">"The ledger has not been verified yet."</p> }.into_any(),
            Some(v) => view! {
                <div class="mt-2" data-testid="last-verification">
                    <p class=if v.clean { "font-semibold text-emerald-900" } else { "font-semibold text-red-900" }>
                        {if v.clean { "Clean" } else { "Violations found" }}
                    </p>
                    <p class="text-stone-700">{format!("Last verified {} UTC by {}: {}", when(&v.at), v.by, v.summary)}</p>
                    {(!v.violations.is_empty()).then(|| view! {
                        <ul class="mt-2 list-disc pl-6 text-sm text-red-900">
                            {v.violations.into_iter().map(|text| view! { <li>{text}</li> }).collect_view()}
                        </ul>
                    })}
                </div>
            }.into_any(),
        }}
        <ActionForm action=verify>
            <button type="submit" class=format!("mt-3 {BUTTON}")>"Verify the ledger now"</button>
        </ActionForm>
    }
}
