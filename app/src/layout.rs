//! The frame around every signed-in page: the header with navigation and the balance.

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_location;

use crate::api::{SignOut, Viewer, current_viewer};

/// Shows `children` to a signed-in shopper; sends anyone else to `/login`, and back afterwards.
#[component]
pub fn SignedIn(children: ChildrenFn) -> impl IntoView {
    let me = Resource::new(|| (), |_| current_viewer());
    let location = use_location();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| view! { <p class="p-6 text-stone-700">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(viewer)) => {
                        // A signal, so that the page can refresh the header's balance in place.
                        let viewer = RwSignal::new(viewer);
                        provide_context(viewer);
                        view! {
                            <Header viewer />
                            <main id="main" class="mx-auto w-full max-w-5xl flex-1 px-4 py-6">{children.read_value()()}</main>
                        }
                            .into_any()
                    }
                    _ => {
                        let here = location.pathname.get_untracked();
                        let target = format!("/login?next={here}");
                        // The page renders whole on the server (SsrMode::Async), so this is a
                        // real HTTP redirect rather than one done by the wasm.
                        #[cfg(feature = "ssr")]
                        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                            response.set_status(http::StatusCode::FOUND);
                        }
                        view! { <Redirect path=target /> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn Header(viewer: RwSignal<Viewer>) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    let link = "rounded px-2 py-1 text-stone-800 hover:bg-stone-200 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-700";
    view! {
        <header class="border-b border-stone-200 bg-white">
            <div class="mx-auto flex w-full max-w-5xl flex-wrap items-center gap-x-4 gap-y-2 px-4 py-3">
                <a href="/" class="text-xl font-bold tracking-tight text-indigo-800">"Fitroom"</a>
                <nav aria-label="Main" class="flex flex-wrap gap-1 text-sm">
                    <a class=link href="/">"Try on"</a>
                    <a class=link href="/history">"History"</a>
                    <a class=link href="/account">"Account"</a>
                </nav>
                <p class="ml-auto text-sm text-stone-700" data-testid="header-balance">
                    <span class="font-semibold text-stone-900">{move || viewer.get().available}</span>
                    {move || if viewer.get().available == 1 { " credit" } else { " credits" }}
                    {move || { let held = viewer.get().held; (held > 0).then(|| format!(" ({held} held)")) }}
                </p>
                <ActionForm action=sign_out>
                    <button type="submit" class="rounded border border-stone-300 px-2 py-1 text-sm hover:bg-stone-100 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-700">
                        "Sign out"
                    </button>
                </ActionForm>
            </div>
        </header>
    }
}
