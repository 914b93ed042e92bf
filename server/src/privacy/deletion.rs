//! Deleting an account, with its password: unfinished generations are canceled (their credits
//! released), every stored image of the account is deleted, sessions end, and the account keeps
//! only its id, which the ledger's rows still name, so `fitroom ledger verify` still balances.
//! The address may register again.

use super::PrivacyError;
use crate::AppState;
use crate::ids::UserId;

pub async fn delete_account(
    state: &AppState,
    user: &UserId,
    password: &str,
) -> Result<(), PrivacyError> {
    state.accounts.confirm_password(user, password).await?;
    let objects = state.jobs.erase_all(user).await?;
    let photos = crate::photos::erase_all(&state.db, state.storage.as_ref(), user).await?;
    let garments = crate::garments::erase_all(state, user).await?;
    state.accounts.anonymize(user).await?;
    tracing::info!(user = %user, objects, photos, garments, "account deleted at its owner's request");
    Ok(())
}
