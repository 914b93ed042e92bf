//! `/admin/users`: accounts found by address.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{AdminOnly, BUTTON, CELL, HEAD_ROW, INPUT, LINK, ROW, Scroll, TABLE, listing, when};
use crate::admin_api::console_users;

#[component]
pub fn UsersPage() -> impl IntoView {
    view! { <AdminOnly><Users /></AdminOnly> }
}

#[component]
fn Users() -> impl IntoView {
    let query = use_query_map();
    let email = move || query.read().get("email").unwrap_or_default();
    let data = Resource::new(email, console_users);
    view! {
        <h1 class="text-2xl font-bold">"Users"</h1>
        <form method="get" action="/admin/users" role="search" class="mt-4 flex max-w-xl flex-wrap items-end gap-3">
            <div class="min-w-60 flex-1">
                <label class="block font-medium" for="email">"Email contains"</label>
                <input class=INPUT id="email" name="email" type="search" value=email() />
            </div>
            <button type="submit" class=BUTTON>"Search"</button>
        </form>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                listing(data.await, "No accounts match.", |users| view! {
                        <Scroll label="Accounts">
                            <table class=TABLE>
                                <thead><tr class=HEAD_ROW>
                                    <th scope="col" class=CELL>"Email"</th>
                                    <th scope="col" class=CELL>"Since (UTC)"</th>
                                    <th scope="col" class=CELL>"Available"</th>
                                    <th scope="col" class=CELL>"Held"</th>
                                    <th scope="col" class=CELL>"State"</th>
                                </tr></thead>
                                <tbody>
                                    {users.into_iter().map(|u| view! {
                                        <tr class=ROW>
                                            <th scope="row" class=CELL><a class=LINK href=format!("/admin/users/{}", u.id)>{u.email.clone()}</a></th>
                                            <td class=format!("{CELL} whitespace-nowrap")>{when(&u.created_at)}</td>
                                            <td class=CELL>{u.available}</td>
                                            <td class=CELL>{u.held}</td>
                                            <td class=CELL>{if u.suspended { "suspended" } else { "active" }}</td>
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
