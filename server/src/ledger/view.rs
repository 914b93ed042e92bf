//! Packages and ledger lines as the API shows them (`fitroom_types`): one shape for the shopper's
//! endpoints, the operator console and the pages.

use crate::clock::Timestamp;
use crate::ledger::{Entry, Package};

impl Package {
    pub fn view(&self, now: Timestamp) -> fitroom_types::Package {
        fitroom_types::Package {
            id: self.id.to_string(),
            name: self.name.clone(),
            granted: self.granted.get(),
            remaining: self.remaining().get(),
            held: self.held.get(),
            granted_at: self.granted_at.to_rfc3339(),
            expires_at: self.expires_at.map(Timestamp::to_rfc3339),
            status: self.status_at(now).as_str().to_owned(),
        }
    }
}

impl Entry {
    pub fn view(&self) -> fitroom_types::LedgerEntry {
        fitroom_types::LedgerEntry {
            id: self.id.to_string(),
            at: self.at.to_rfc3339(),
            kind: self.kind.as_str().to_owned(),
            amount: self.amount.get(),
            package_id: self.package.as_ref().map(ToString::to_string),
            hold_id: self.hold.as_ref().map(ToString::to_string),
            job_id: self.job.as_ref().map(ToString::to_string),
        }
    }
}
