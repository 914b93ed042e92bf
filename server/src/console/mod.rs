//! The operator console's domain (docs/api.md, Operator console): what `/api/admin/…` answers and
//! the `/admin` pages show, written once. Every write names the admin who made it and why, and
//! lands in the append-only audit log (`crate::audit`).

pub mod accounts;
pub mod audit_log;
pub mod jobs;
pub mod operations;
pub mod providers;
pub mod verification;

use crate::AppState;
use crate::accounts::AccountsError;
use crate::accounts::admin::admin_email;
use crate::ids::UserId;
use crate::jobs::JobError;
use crate::ledger::LedgerError;

/// A signed-in admin, with the address the audit log names them by.
#[derive(Clone, Debug)]
pub struct Admin {
    pub id: UserId,
    pub email: String,
}

impl Admin {
    /// The admin behind a session's user; `None` for anyone who is not one.
    pub async fn of(state: &AppState, user: UserId) -> Result<Option<Admin>, ConsoleError> {
        Ok(admin_email(&state.db, &user).await?.map(|email| Admin { id: user, email }))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Jobs(#[from] JobError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Accounts(#[from] AccountsError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Why an admin made a write: required, and short enough to read in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(text: Option<&str>) -> Result<Reason, ConsoleError> {
        let text = text.map(str::trim).unwrap_or_default();
        if text.is_empty() || text.chars().count() > Self::MAX_CHARS {
            return Err(ConsoleError::Invalid("Give a reason (1 to 500 characters)."));
        }
        Ok(Reason(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A `LIKE … ESCAPE '\\'` pattern for text containing `text`, without case: LIKE's own
/// characters in the text match themselves.
fn containing(text: &str) -> String {
    let text = text.to_lowercase();
    format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

/// The console page of one thing, e.g. `page_of("/admin/users", id)`; the id is encoded, since
/// it comes from a form.
pub fn page_of(section: &str, id: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');
    let id = percent_encoding::utf8_percent_encode(id, SEGMENT);
    format!("{section}/{id}")
}

/// Where a console form goes after a write when the page has no JavaScript: back to `path`, with
/// what happened (`done`) or what was wrong (`error`) in the query, for the page to show.
pub fn page_after(path: &str, outcome: Result<&str, &str>) -> String {
    let (key, text) = match outcome {
        Ok(done) => ("done", done),
        Err(error) => ("error", error),
    };
    let query: String =
        url::form_urlencoded::Serializer::new(String::new()).append_pair(key, text).finish();
    format!("{path}?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_required_and_bounded() {
        assert!(Reason::parse(None).is_err());
        assert!(Reason::parse(Some("   ")).is_err());
        assert!(Reason::parse(Some(&"x".repeat(501))).is_err());
        assert_eq!(Reason::parse(Some("  refund for #12 ")).unwrap().as_str(), "refund for #12");
    }

    #[test]
    fn a_page_is_told_what_happened_in_its_query() {
        assert_eq!(
            page_after("/admin/users/u1", Ok("Granted 5 credits.")),
            "/admin/users/u1?done=Granted+5+credits."
        );
        assert_eq!(page_after("/admin", Err("a&b")), "/admin?error=a%26b");
    }

    #[test]
    fn an_id_from_a_form_stays_one_path_segment() {
        assert_eq!(page_of("/admin/users", "0193-ab_c.d"), "/admin/users/0193-ab_c.d");
        assert_eq!(page_of("/admin/users", "../x?y"), "/admin/users/..%2Fx%3Fy");
    }

    #[test]
    fn like_characters_in_a_search_match_themselves() {
        assert_eq!(containing("A_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}
