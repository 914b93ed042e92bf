//! What the operator console reads (`/api/admin/…` and the `/admin` pages).

use serde::{Deserialize, Serialize};

use crate::{Generation, LedgerEntry, Package};

/// A job as the operator sees it: everything the shopper sees, and whose it is, where it went,
/// how often it was offered to a provider, and why it failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminJob {
    #[serde(flatten)]
    pub generation: Generation,
    pub user_id: String,
    pub email: String,
    pub task_id: Option<String>,
    pub attempts: i64,
    pub error_code: Option<String>,
    pub submitted_at: Option<String>,
    pub finished_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub at: String,
    pub kind: String,
    pub detail: Option<String>,
}

/// One of a job's images still in Fitroom's storage, as the operator may open it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredImage {
    /// `person`, `garment` or `result`.
    pub name: String,
    pub url: String,
}

/// `GET /api/admin/jobs/{id}`: the job, its timeline (oldest first) and its stored images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobTimeline {
    pub job: AdminJob,
    pub events: Vec<TimelineEvent>,
    pub images: Vec<StoredImage>,
}

/// An account as the console lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminAccount {
    pub id: String,
    pub email: String,
    pub created_at: String,
    pub available: i64,
    pub held: i64,
    pub suspended: bool,
}

/// `GET /api/admin/users/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminAccountDetail {
    pub user: AdminAccount,
    pub packages: Vec<Package>,
    pub entries: Vec<LedgerEntry>,
    pub generations: Vec<Generation>,
}

/// One admin write in the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub reason: String,
}

/// Jobs started in the last hour at one provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderHour {
    pub provider: String,
    pub jobs: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub unfinished: i64,
    /// Of the finished jobs; `None` before any finished.
    pub success_rate: Option<f64>,
}

/// The result of one `ledger verify`, kept so that the console shows the last one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub at: String,
    /// `cli` or the admin's email.
    pub by: String,
    pub clean: bool,
    pub summary: String,
    /// The first violations found (all of them are printed by the CLI).
    pub violations: Vec<String>,
}

/// One enabled provider, as `fitroom providers --json` and `GET /api/admin/providers` show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderRow {
    pub name: String,
    /// `ok`, `cooling` or `over_budget`.
    pub state: String,
    /// USD per generation.
    pub price: f64,
    /// USD committed this period: settled tasks at their cost, tasks in flight at their price.
    pub spend: f64,
    pub budget: Option<f64>,
    /// `hour`, `day` or `month`; the spend is over the current UTC day without a budget.
    pub period: Option<String>,
    /// Tasks this provider was sent that ended within the routing window, succeeded or failed
    /// (submission failures included; cancels not counted).
    pub jobs: i64,
    pub success_rate: Option<f64>,
    /// Submission to result of the window's successes.
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
    /// RFC 3339, while cooling down.
    pub cooling_until: Option<String>,
}

/// The `/admin` overview.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Operations {
    pub last_hour: Vec<ProviderHour>,
    pub providers: Vec<ProviderRow>,
    pub open_holds: i64,
    pub held_credits: i64,
    pub last_verification: Option<Verification>,
}
