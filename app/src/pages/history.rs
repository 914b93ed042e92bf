//! `/history`: the shopper's generations, newest first.

use fitroom_types::{Generation, GenerationStatus};
use leptos::prelude::*;

use crate::api::history;
use crate::client;
use crate::layout::SignedIn;

#[component]
pub fn HistoryPage() -> impl IntoView {
    view! { <SignedIn><History /></SignedIn> }
}

#[component]
fn History() -> impl IntoView {
    let items = Resource::new(|| (), |_| history());
    view! {
        <h1 class="text-2xl font-bold">"Your try-ons"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match items.await {
                    Ok(list) if list.is_empty() => view! {
                        <p class="mt-4 text-stone-700">"Nothing yet. " <a class="text-indigo-800 underline" href="/">"Try something on"</a></p>
                    }.into_any(),
                    Ok(list) => view! { <Grid list /> }.into_any(),
                    Err(e) => view! { <p role="alert">{crate::api::error_text(&e)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The one island of the page: unfinished cards follow their status, finished ones can be deleted.
#[island]
fn Grid(list: Vec<Generation>) -> impl IntoView {
    view! {
        <ul class="mt-4 grid grid-cols-2 gap-4 sm:grid-cols-3 lg:grid-cols-4">
            {list.into_iter().map(|g| view! { <Card g /> }).collect_view()}
        </ul>
    }
}

pub fn status_label(status: GenerationStatus) -> (&'static str, &'static str) {
    match status {
        GenerationStatus::Queued => ("Queued", "bg-stone-200 text-stone-900"),
        GenerationStatus::Processing => ("In progress", "bg-amber-100 text-amber-900"),
        GenerationStatus::Succeeded => ("Done", "bg-emerald-100 text-emerald-900"),
        GenerationStatus::Failed => ("Failed, not charged", "bg-red-100 text-red-900"),
        GenerationStatus::Canceled => ("Canceled", "bg-stone-200 text-stone-900"),
    }
}

/// Unfinished generations follow their status live, polling with backoff until they finish.
fn follow_live(
    id: String,
    status: RwSignal<GenerationStatus>,
    result: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
) {
    Effect::new(move |_| {
        let id = id.clone();
        leptos::task::spawn_local(async move {
            let mut wait: f64 = 1000.0;
            while !status.get_untracked().is_finished() {
                client::sleep(wait as i32).await;
                wait = (wait * 1.5).min(5000.0);
                if let Ok(g) = client::generation(&id).await {
                    result.set(g.result_url);
                    error.set(g.error);
                    status.set(g.status);
                }
            }
        });
    });
}

#[component]
fn Card(g: Generation) -> impl IntoView {
    let status = RwSignal::new(g.status);
    let result = RwSignal::new(g.result_url.clone());
    let error = RwSignal::new(g.error.clone());
    if !g.status.is_finished() {
        follow_live(g.id.clone(), status, result, error);
    }
    let created_at = g.created_minute();
    let deleted = RwSignal::new(false);
    let id = g.id.clone();
    let delete = move |_| {
        let id = id.clone();
        leptos::task::spawn_local(async move {
            if client::delete_generation(&id).await.is_ok() {
                deleted.set(true);
            }
        });
    };
    view! {
        <li class="overflow-hidden rounded-xl border border-stone-200 bg-white" data-testid="generation" hidden=move || deleted.get()>
            {move || match result.get() {
                Some(url) => {
                    let href = url.clone();
                    let alt = format!("Try-on result from {created_at}");
                    view! {
                        <a href=href class="block focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-700">
                            <img src=url alt=alt class="aspect-[3/4] w-full object-cover" loading="lazy" />
                        </a>
                    }.into_any()
                }
                None => view! { <div class="flex aspect-[3/4] w-full items-center justify-center bg-stone-100 p-2 text-center text-sm text-stone-700">{error.get().unwrap_or_else(|| "No picture yet".into())}</div> }.into_any(),
            }}
            <div class="flex items-center justify-between gap-2 p-2 text-xs">
                {move || { let (label, badge) = status_label(status.get()); view! { <span class=format!("rounded px-2 py-0.5 font-medium {badge}")>{label}</span> } }}
                <span class="text-stone-700">{g.created_minute()}</span>
            </div>
            <div class="px-2 pb-2" hidden=move || !status.get().is_finished()>
                <button type="button" on:click=delete
                    class="text-sm text-red-800 underline hover:text-red-900 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-700">
                    "Delete"
                </button>
            </div>
        </li>
    }
}
