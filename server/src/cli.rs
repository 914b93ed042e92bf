//! The `fitroom` command line (docs/api.md, Command line). `serve` lives in the binary, which owns the web app;
//! the operator commands live here, beside the code they drive.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::accounts::{Email, admin};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::db::Db;
use crate::ids::UserId;
use crate::ledger::{Credits, Grant, Ledger};

#[derive(Debug, Parser)]
#[command(name = "fitroom", version, about = "Fitroom, a virtual fitting room")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default); migrations are applied at start.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage shoppers' credits.
    #[command(subcommand)]
    Credits(CreditsCommand),
    /// Inspect the credit ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Make or unmake operators of the console.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Look after stored objects.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Each enabled provider: state, price, spend against budget, success rate and latency over
    /// the routing window.
    Providers {
        /// `{"providers":[…]}` instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make the account with this email an admin.
    Add {
        #[arg(long)]
        email: String,
    },
    /// Take admin rights back from the account with this email.
    Remove {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CreditsCommand {
    /// Give a shopper a credit package; prints its id.
    Grant {
        #[arg(long)]
        email: String,
        #[arg(long)]
        amount: i64,
        /// Days until the package expires; without it the package never expires.
        #[arg(long = "expires-in-days")]
        expires_in_days: Option<i64>,
        #[arg(long, default_value = "Granted by the operator")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Delete stored objects that nothing references and that are older than an hour.
    Sweep {
        /// Only print what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Leave objects younger than this alone (work in flight writes before it records).
        #[arg(long, default_value_t = 3600)]
        older_than_secs: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Check every ledger invariant over the whole database.
    Verify,
}

/// Runs an operator command and reports in words; the exit code says whether it worked.
pub async fn run(command: Command, config: Config) -> ExitCode {
    match run_inner(command, config).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_inner(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    let db = Db::connect_with(config.db_settings()).await?;
    db.migrate().await?;
    let result = match command {
        Command::Serve => anyhow::bail!("serve is run by the fitroom binary"),
        Command::Migrate => {
            println!("migrations applied to {}", redact(&config.database_url));
            Ok(ExitCode::SUCCESS)
        }
        Command::Credits(CreditsCommand::Grant { email, amount, expires_in_days, name }) => {
            grant(&db, &email, amount, expires_in_days, name).await
        }
        Command::Admin(command) => {
            let (email, admin) = match &command {
                AdminCommand::Add { email } => (email, true),
                AdminCommand::Remove { email } => (email, false),
            };
            match admin::set_admin(&db, email, admin, SystemClock.now()).await? {
                Some(user) => {
                    let verb = if admin { "is now an admin" } else { "is no longer an admin" };
                    println!("{} ({user}) {verb}", email.trim());
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("error: no account with the email {:?}", email.trim());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Storage(StorageCommand::Sweep { dry_run, older_than_secs }) => {
            let storage = crate::storage::from_config(&config).await?;
            let grace_ms = i64::from(older_than_secs) * 1000;
            let swept = crate::storage::sweep::sweep_older_than(
                &db,
                storage.as_ref(),
                SystemClock.now(),
                grace_ms,
                dry_run,
            )
            .await?;
            let verb = if dry_run { "would delete" } else { "deleted" };
            for key in &swept.unreferenced {
                println!("{verb} {key}");
            }
            println!(
                "{} objects examined; {verb} {} that nothing references",
                swept.examined,
                swept.unreferenced.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Providers { json } => {
            let names: Vec<&str> = config.providers.iter().map(String::as_str).collect();
            let window_ms =
                i64::try_from(config.routing_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
            let rows = crate::spend::figures::rows(
                &db,
                &config.spend,
                &names,
                window_ms,
                SystemClock.now(),
            )
            .await?;
            if json {
                println!("{}", serde_json::json!({ "providers": rows }));
            } else {
                print!("{}", providers_table(&rows));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ledger(LedgerCommand::Verify) => {
            let check = crate::console::verification::run(&db, "cli", SystemClock.now()).await?;
            if check.is_clean() {
                println!("{}", check.summary);
                Ok(ExitCode::SUCCESS)
            } else {
                for violation in &check.violations {
                    println!("violation: {violation}");
                }
                println!("{}", check.summary);
                Ok(ExitCode::FAILURE)
            }
        }
    };
    db.close().await;
    result
}

/// The providers as a table for a terminal.
fn providers_table(rows: &[fitroom_types::admin::ProviderRow]) -> String {
    let mut out = format!(
        "{:<12} {:<12} {:>10} {:>12} {:>16} {:>6} {:>8} {:>9} {:>9}\n",
        "provider", "state", "price", "spend", "budget", "jobs", "success", "p50", "p95"
    );
    let ms = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |ms| format!("{ms} ms"));
    for r in rows {
        let budget = match (r.budget, &r.period) {
            (Some(b), Some(p)) => format!("${b}/{p}"),
            _ => "-".to_owned(),
        };
        let success =
            r.success_rate.map_or_else(|| "-".to_owned(), |s| format!("{:.0}%", s * 100.0));
        out.push_str(&format!(
            "{:<12} {:<12} {:>10} {:>12} {:>16} {:>6} {:>8} {:>9} {:>9}\n",
            r.name,
            r.state,
            format!("${}", r.price),
            format!("${:.4}", r.spend),
            budget,
            r.jobs,
            success,
            ms(r.p50_ms),
            ms(r.p95_ms)
        ));
    }
    out
}

async fn grant(
    db: &Db,
    email: &str,
    amount: i64,
    days: Option<i64>,
    name: String,
) -> anyhow::Result<ExitCode> {
    if amount <= 0 {
        eprintln!("error: --amount must be a positive whole number of credits (got {amount})");
        return Ok(ExitCode::FAILURE);
    }
    if let Some(d) = days.filter(|d| *d <= 0) {
        eprintln!("error: --expires-in-days must be positive (got {d})");
        return Ok(ExitCode::FAILURE);
    }
    let Ok(email) = Email::parse(email) else {
        eprintln!("error: {email:?} is not an email address");
        return Ok(ExitCode::FAILURE);
    };
    let user: Option<(String,)> =
        sqlx::query_as("SELECT id FROM users WHERE lower(email) = lower($1)")
            .bind(email.as_str())
            .fetch_optional(db.pool())
            .await?;
    let Some((user,)) = user else {
        eprintln!("error: no account with the email {:?}", email.as_str());
        return Ok(ExitCode::FAILURE);
    };
    let clock = Arc::new(SystemClock);
    let now = clock.now();
    let ledger = Ledger::new(db.clone(), clock);
    let package = ledger
        .grant(&Grant {
            user: UserId::from_string(user),
            credits: Credits::new(amount)?,
            name,
            expires_at: days.map(|d| now.plus_days(d)),
            source: None,
        })
        .await?;
    println!("{package}");
    Ok(ExitCode::SUCCESS)
}

/// Database URLs carry passwords: never print them.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…{}", &url[..scheme], &url[at..]),
        _ => url.to_owned(),
    }
}
