//! Deleting an account, with its password: in one transaction the address is freed, the account
//! keeps only its id (which the ledger's rows still name, so `fitroom ledger verify` still
//! balances) and every session ends; then unfinished generations are canceled (their credits
//! released) and every stored image of the account is deleted (`erasure`). The address may
//! register again.

use super::PrivacyError;
use super::erasure;
use crate::AppState;
use crate::ids::UserId;

pub async fn delete_account(
    state: &AppState,
    user: &UserId,
    password: &str,
) -> Result<(), PrivacyError> {
    state.accounts.confirm_password(user, password).await?;
    erasure::mark(state, user).await?;
    state.jobs.faults.check(erasure::AFTER_MARK)?;
    // Its own task: a client that hangs up does not cut the erasure off halfway. Whatever stops
    // it (a crash, a failing store) leaves the account to the housekeeping's pass, so the
    // answer is the same.
    let erasing = {
        let (state, user) = (state.clone(), user.clone());
        tokio::spawn(async move { erasure::run(&state, &user).await })
    };
    match erasing.await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(user = %user, error = %e, "erasing a deleted account failed; the housekeeping pass will finish it")
        }
        Err(e) => {
            tracing::error!(user = %user, error = %e, "the erasure of a deleted account stopped; the housekeeping pass will finish it")
        }
    }
    tracing::info!(user = %user, "account deleted at its owner's request");
    Ok(())
}
