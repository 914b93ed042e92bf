//! The frame around every signed-in page: the header with navigation and the balance.
//!
//! The frame itself is server-rendered only (islands mode): the one live part is the balance,
//! which a try-on changes.

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_location;
use serde::{Deserialize, Serialize};

use crate::api::{SignOut, current_viewer};

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
                        // The page's islands take what they need of it as props.
                        provide_context(viewer.clone());
                        let credits = Credits { available: viewer.available, held: viewer.held };
                        view! {
                            <Header credits />
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

/// The shopper's balance as the islands of one page see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credits {
    pub available: i64,
    pub held: i64,
}

/// The balance shared by the islands of this page. The header's `Balance` and the try-on form are
/// separate islands, but they run in one wasm instance: in the browser they share one signal, so a
/// finished try-on updates the header. The first island to ask sets the value; every island gets it
/// from the same server render, so they agree. On the server a thread serves many shoppers, so
/// each render gets a signal of its own.
pub fn shared_credits(initial: Credits) -> RwSignal<Credits> {
    #[cfg(feature = "hydrate")]
    {
        thread_local! {
            static SHARED: std::cell::OnceCell<ArcRwSignal<Credits>> = const { std::cell::OnceCell::new() };
        }
        SHARED.with(|shared| shared.get_or_init(|| ArcRwSignal::new(initial)).clone()).into()
    }
    #[cfg(not(feature = "hydrate"))]
    RwSignal::new(initial)
}

#[island]
fn Balance(credits: Credits) -> impl IntoView {
    let credits = shared_credits(credits);
    view! {
        <span class="font-semibold text-stone-900">{move || credits.get().available}</span>
        {move || if credits.get().available == 1 { " credit" } else { " credits" }}
        {move || { let held = credits.get().held; (held > 0).then(|| format!(" ({held} held)")) }}
    }
}

#[component]
fn Header(credits: Credits) -> impl IntoView {
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
                    <Balance credits />
                </p>
                // A plain form post: sign_out redirects to /login, no wasm needed.
                <ActionForm action=sign_out>
                    <button type="submit" class="rounded border border-stone-300 px-2 py-1 text-sm hover:bg-stone-100 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-700">
                        "Sign out"
                    </button>
                </ActionForm>
            </div>
        </header>
    }
}
