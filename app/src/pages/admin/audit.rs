//! `/admin/audit`: every admin write, newest first, with who, on what and why.

use leptos::prelude::*;

use super::{AdminOnly, CELL, HEAD_ROW, ROW, Scroll, TABLE, listing, when};
use crate::admin_api::console_audit;

#[component]
pub fn AuditPage() -> impl IntoView {
    view! { <AdminOnly><Audit /></AdminOnly> }
}

#[component]
fn Audit() -> impl IntoView {
    let data = Resource::new(|| (), |_| console_audit());
    view! {
        <h1 class="text-2xl font-bold">"Audit log"</h1>
        <p class="mt-1 text-stone-700">"Append-only: each entry's hash covers the one before it, and " <code>"fitroom ledger verify"</code> " checks the chain."</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                listing(data.await, "No admin writes yet.", |entries| view! {
                        <Scroll label="Audit log">
                            <table class=TABLE>
                                <thead><tr class=HEAD_ROW>
                                    <th scope="col" class=CELL>"When (UTC)"</th>
                                    <th scope="col" class=CELL>"Admin"</th>
                                    <th scope="col" class=CELL>"Action"</th>
                                    <th scope="col" class=CELL>"Target"</th>
                                    <th scope="col" class=CELL>"Reason"</th>
                                </tr></thead>
                                <tbody>
                                    {entries.into_iter().map(|e| {
                                        let target = match e.action.as_str() {
                                            "cancel_job" => format!("/admin/jobs/{}", e.target),
                                            "reset_cooldown" => "/admin/providers".to_owned(),
                                            _ => format!("/admin/users/{}", e.target),
                                        };
                                        view! {
                                            <tr class=ROW data-testid="audit-row">
                                                <td class=format!("{CELL} whitespace-nowrap")>{when(&e.at)}</td>
                                                <td class=CELL>{e.actor.clone()}</td>
                                                <td class=CELL>{e.action.clone()}</td>
                                                <td class=CELL><a class=format!("{} font-mono text-xs", super::LINK) href=target>{e.target.clone()}</a></td>
                                                <td class=CELL>{e.reason.clone()}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </Scroll>
                    }.into_any())
            })}
        </Suspense>
    }
}
