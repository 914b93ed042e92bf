//! The operator console's pages (docs/api.md, Operator console): server-rendered, usable without
//! JavaScript (every form is a plain post that comes back to its page), and 404 for anyone who
//! is not an admin.

pub mod audit;
pub mod job;
pub mod jobs;
pub mod operations;
pub mod providers;
pub mod user;
pub mod users;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::admin_api::console_admin;
use crate::pages::not_found::NotFound;

pub(crate) const INPUT: &str = "mt-1 block w-full rounded-lg border border-stone-400 px-3 py-2 text-base focus:border-indigo-700 focus:outline-none focus:ring-2 focus:ring-indigo-700";
pub(crate) const BUTTON: &str = "rounded-lg bg-indigo-700 px-4 py-2 font-semibold text-white hover:bg-indigo-800 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-700";
pub(crate) const DANGER: &str = "rounded-lg bg-red-800 px-4 py-2 font-semibold text-white hover:bg-red-900 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-red-800";
pub(crate) const LINK: &str = "text-indigo-800 underline";
pub(crate) const TABLE: &str = "w-full text-left text-sm";
pub(crate) const HEAD_ROW: &str = "border-b border-stone-300";
pub(crate) const ROW: &str = "border-b border-stone-200 align-top";
pub(crate) const CELL: &str = "py-2 pr-4";

/// Shows `children` to an admin; anyone else, signed in or not, gets the site's 404.
#[component]
pub fn AdminOnly(children: ChildrenFn) -> impl IntoView {
    let admin = Resource::new(|| (), |_| console_admin());
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| view! { <p class="p-6 text-stone-700">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match admin.await {
                    Ok(Some(email)) => view! {
                        <ConsoleHeader email />
                        <main id="main" class="mx-auto w-full max-w-6xl flex-1 px-4 py-6">
                            <Notice />
                            {children.read_value()()}
                        </main>
                    }
                        .into_any(),
                    _ => view! { <NotFound /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ConsoleHeader(email: String) -> impl IntoView {
    let link = "rounded px-2 py-1 text-stone-800 hover:bg-stone-200 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-700";
    view! {
        <header class="border-b border-stone-200 bg-white">
            <div class="mx-auto flex w-full max-w-6xl flex-wrap items-center gap-x-4 gap-y-2 px-4 py-3">
                <a href="/admin" class="text-xl font-bold tracking-tight text-indigo-800">"Fitroom console"</a>
                <nav aria-label="Console" class="flex flex-wrap gap-1 text-sm">
                    <a class=link href="/admin">"Operations"</a>
                    <a class=link href="/admin/providers">"Providers"</a>
                    <a class=link href="/admin/jobs">"Jobs"</a>
                    <a class=link href="/admin/users">"Users"</a>
                    <a class=link href="/admin/audit">"Audit log"</a>
                </nav>
                <p class="ml-auto text-sm text-stone-700">{email}" · "<a class=LINK href="/">"Back to Fitroom"</a></p>
            </div>
        </header>
    }
}

/// What the last write did (`?done=`) or why it was refused (`?error=`): a form post without
/// JavaScript comes back to its page with one of them.
#[component]
fn Notice() -> impl IntoView {
    let query = use_query_map();
    let done = move || query.read().get("done");
    let error = move || query.read().get("error");
    view! {
        {move || done().map(|text| view! {
            <p role="status" class="mb-4 rounded-lg border border-emerald-300 bg-emerald-50 px-4 py-2 text-emerald-900">{text}</p>
        })}
        {move || error().map(|text| view! {
            <p role="alert" class="mb-4 rounded-lg border border-red-300 bg-red-50 px-4 py-2 text-red-900">{text}</p>
        })}
    }
}

/// A table that may scroll sideways on a phone: focusable and named, so that a keyboard can
/// scroll it too.
#[component]
pub(crate) fn Scroll(label: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="mt-3 overflow-x-auto rounded focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-700" tabindex="0" role="region" aria-label=label>
            {children()}
        </div>
    }
}

/// `2026-12-04T10:30:00.000Z` as `2026-12-04 10:30:00`.
pub(crate) fn when(rfc3339: &str) -> String {
    rfc3339.get(..19).unwrap_or(rfc3339).replace('T', " ")
}

pub(crate) fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |r| format!("{:.0} %", r * 100.0))
}

/// A loaded list as the console shows it: why it failed, `empty` when there is nothing, or the
/// rows as `render` lays them out.
pub(crate) fn listing<T>(
    loaded: Result<Vec<T>, ServerFnError>,
    empty: &'static str,
    render: impl FnOnce(Vec<T>) -> AnyView,
) -> AnyView {
    match loaded {
        Err(e) => failed(&e),
        Ok(rows) if rows.is_empty() => {
            view! { <p class="mt-4 text-stone-700">{empty}</p> }.into_any()
        }
        Ok(rows) => render(rows),
    }
}

/// A failed load, in words.
pub(crate) fn failed(e: &ServerFnError) -> AnyView {
    view! { <p role="alert" class="text-red-900">{crate::api::error_text(e)}</p> }.into_any()
}
