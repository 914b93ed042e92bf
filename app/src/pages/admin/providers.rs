//! `/admin/providers`: each provider's state, price, spend against budget, success rate and
//! latency over the routing window, and a reset for a cool-down.

use fitroom_types::admin::ProviderRow;
use leptos::prelude::*;

use super::{AdminOnly, BUTTON, CELL, HEAD_ROW, INPUT, ROW, Scroll, TABLE, failed, percent, when};
use crate::admin_api::{ConsoleResetCooldown, console_providers};

#[component]
pub fn ProvidersPage() -> impl IntoView {
    view! {
        <AdminOnly>
            <h1 class="text-2xl font-bold">"Providers"</h1>
            <p class="mt-1 text-stone-700">"Success rate and times over the routing window; spend over the budget's period (the UTC day without one), tasks in flight counted at their price."</p>
            <Providers />
        </AdminOnly>
    }
}

#[component]
fn Providers() -> impl IntoView {
    let data = Resource::new(|| (), |_| console_providers());
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => failed(&e),
                    Ok(rows) => view! { <ProviderTable rows=rows.clone() /> <Resets rows /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn money(usd: f64) -> String {
    if usd == 0.0 { "$0".to_owned() } else { format!("${usd:.4}").trim_end_matches('0').to_owned() }
}

fn millis(ms: Option<i64>) -> String {
    ms.map_or_else(
        || "–".to_owned(),
        |ms| if ms >= 1000 { format!("{:.1} s", ms as f64 / 1000.0) } else { format!("{ms} ms") },
    )
}

/// The providers' figures, as the overview and this page show them.
#[component]
pub fn ProviderTable(rows: Vec<ProviderRow>) -> impl IntoView {
    view! {
        <Scroll label="Providers">
            <table class=TABLE>
                <thead><tr class=HEAD_ROW>
                    <th scope="col" class=CELL>"Provider"</th>
                    <th scope="col" class=CELL>"State"</th>
                    <th scope="col" class=CELL>"Price"</th>
                    <th scope="col" class=CELL>"Spend"</th>
                    <th scope="col" class=CELL>"Budget"</th>
                    <th scope="col" class=CELL>"Jobs"</th>
                    <th scope="col" class=CELL>"Success"</th>
                    <th scope="col" class=CELL>"p50"</th>
                    <th scope="col" class=CELL>"p95"</th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|r| {
                        let state = match (r.state.as_str(), &r.cooling_until) {
                            ("cooling", Some(until)) => format!("cooling until {} UTC", when(until)),
                            ("over_budget", _) => "over budget".to_owned(),
                            (state, _) => state.to_owned(),
                        };
                        let budget = match (r.budget, &r.period) {
                            (Some(b), Some(p)) => format!("{} / {p}", money(b)),
                            _ => "none".to_owned(),
                        };
                        view! {
                            <tr class=ROW data-testid="provider-row">
                                <th scope="row" class=CELL>{r.name.clone()}</th>
                                <td class=if r.state == "ok" { CELL.to_owned() } else { format!("{CELL} font-semibold text-red-900") }>{state}</td>
                                <td class=CELL>{money(r.price)}</td>
                                <td class=CELL>{money(r.spend)}</td>
                                <td class=CELL>{budget}</td>
                                <td class=CELL>{r.jobs}</td>
                                <td class=CELL>{percent(r.success_rate)}</td>
                                <td class=CELL>{millis(r.p50_ms)}</td>
                                <td class=CELL>{millis(r.p95_ms)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </Scroll>
    }
}

/// One reset form per provider that is cooling down.
#[component]
fn Resets(rows: Vec<ProviderRow>) -> impl IntoView {
    let reset = ServerAction::<ConsoleResetCooldown>::new();
    view! {
                {rows.into_iter().filter(|r| r.state == "cooling").map(|r| {
                    let id = format!("reset-{}", r.name);
                    view! {
                        <section class="mt-6 max-w-xl rounded-xl border border-stone-200 bg-white p-4">
                            <h2 class="text-lg font-semibold">{format!("Reset {}'s cool-down", r.name)}</h2>
                            <ActionForm action=reset>
                                <input type="hidden" name="provider" value=r.name.clone() />
                                <label class="mt-2 block font-medium" for=id.clone()>"Reason"</label>
                                <input class=INPUT id=id name="reason" required maxlength="500" />
                                <button type="submit" class=format!("mt-3 {BUTTON}")>"Reset cool-down"</button>
                            </ActionForm>
                        </section>
                    }
                }).collect_view()}
    }
}
