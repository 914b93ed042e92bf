//! Fitroom's pages: rendered on the server, hydrated in the browser.

mod account_api;
mod admin_api;
pub mod api;
mod client;
mod layout;
mod pages;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, StaticSegment, path};

use pages::account::AccountPage;
use pages::admin::{
    audit::AuditPage, job::JobPage, jobs::JobsPage, operations::OperationsPage,
    providers::ProvidersPage, user::UserPage, users::UsersPage,
};
use pages::auth::{LoginPage, SignupPage};
use pages::history::HistoryPage;
use pages::not_found::NotFound;
use pages::password::{ForgotPasswordPage, ResetPasswordPage};
use pages::privacy::PrivacyPage;
use pages::security::SecurityPage;
use pages::tryon::TryOnPage;
use pages::verify::VerifyEmailPage;

/// The HTML document around every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                // Islands: only the live parts (balance, try-on form, history grid) ship as wasm;
                // the rest is plain server-rendered HTML whose forms post without it.
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body class="min-h-screen bg-stone-50 text-stone-900 antialiased">
                <App />
            </body>
        </html>
    }
}

/// Only our own scripts run: the inline hydration script carries this response's nonce, and the
/// wasm is compiled from our own origin. Pages cannot be framed.
#[cfg(feature = "ssr")]
fn set_content_security_policy() {
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else { return };
    let script = match leptos::nonce::use_nonce() {
        Some(nonce) => format!("'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
        None => "'self' 'wasm-unsafe-eval'".to_owned(),
    };
    let policy = format!(
        "default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
         connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/fitroom.css" />
        <Title text="Fitroom" />
        <Router>
            // The router's view needs an element of its own to hydrate into.
            <div id="app" class="flex min-h-screen flex-col">
                <Routes fallback=NotFound>
                    // Signed-in pages render whole before answering, so that a visitor without a
                    // session gets a real redirect to /login.
                    <Route path=StaticSegment("") view=TryOnPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("history") view=HistoryPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("account") view=AccountPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("login") view=LoginPage />
                    <Route path=StaticSegment("signup") view=SignupPage />
                    <Route path=path!("/account/security") view=SecurityPage ssr=SsrMode::Async />
                    <Route path=path!("/forgot-password") view=ForgotPasswordPage />
                    <Route path=path!("/reset-password") view=ResetPasswordPage />
                    <Route path=path!("/verify-email") view=VerifyEmailPage />
                    <Route path=path!("/privacy") view=PrivacyPage ssr=SsrMode::Async />
                    // The operator console: 404 for anyone who is not an admin.
                    <Route path=path!("/admin") view=OperationsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/providers") view=ProvidersPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/jobs") view=JobsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/jobs/:id") view=JobPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/users") view=UsersPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/users/:id") view=UserPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/audit") view=AuditPage ssr=SsrMode::Async />
                </Routes>
            </div>
        </Router>
    }
}
