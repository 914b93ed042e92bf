//! Why a job ended without a result: a code that the API and the operator can rely on, and the
//! plain sentence the shopper reads. What a provider or a store said in detail goes to the log and
//! to the job's timeline, never to the shopper.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCode {
    /// The provider reported that the task failed.
    ProviderFailed,
    /// The provider reported success but named no picture.
    NoOutput,
    /// The provider's picture could not be accepted (not an image, too big, forbidden address).
    OutputRefused,
    /// No enabled provider took the task.
    NoProviderAvailable,
    /// The job's provider is no longer enabled, so nobody can finish its task.
    ProviderDisabled,
    /// The shopper's photos never reached our storage.
    InputsMissing,
    /// The job ran past `FITROOM_JOB_TIMEOUT_SECS`.
    TimedOut,
    /// Its credit hold passed its deadline (a backstop behind the timeout).
    HoldOverdue,
    /// The shopper, or an operator, canceled it.
    Canceled,
}

impl FailureCode {
    pub const ALL: [FailureCode; 9] = [
        FailureCode::ProviderFailed,
        FailureCode::NoOutput,
        FailureCode::OutputRefused,
        FailureCode::NoProviderAvailable,
        FailureCode::ProviderDisabled,
        FailureCode::InputsMissing,
        FailureCode::TimedOut,
        FailureCode::HoldOverdue,
        FailureCode::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureCode::ProviderFailed => "provider_failed",
            FailureCode::NoOutput => "no_output",
            FailureCode::OutputRefused => "output_refused",
            FailureCode::NoProviderAvailable => "no_provider_available",
            FailureCode::ProviderDisabled => "provider_disabled",
            FailureCode::InputsMissing => "inputs_missing",
            FailureCode::TimedOut => "timed_out",
            FailureCode::HoldOverdue => "hold_overdue",
            FailureCode::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        FailureCode::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// What the shopper reads. Every failure is free, and says so.
    pub fn message(self) -> &'static str {
        match self {
            FailureCode::ProviderFailed => {
                "The provider could not make this picture. You were not charged."
            }
            FailureCode::NoOutput => "The provider returned no picture. You were not charged.",
            FailureCode::OutputRefused => {
                "The provider's picture could not be accepted. You were not charged."
            }
            FailureCode::NoProviderAvailable => {
                "No provider could take this generation right now. You were not charged."
            }
            FailureCode::ProviderDisabled => {
                "The provider of this generation is no longer available. You were not charged."
            }
            FailureCode::InputsMissing => "Your photos could not be stored. You were not charged.",
            FailureCode::TimedOut | FailureCode::HoldOverdue => {
                "The provider took too long. You were not charged."
            }
            FailureCode::Canceled => "Canceled. You were not charged.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_tells_the_shopper_they_were_not_charged() {
        for code in FailureCode::ALL {
            assert_eq!(FailureCode::parse(code.as_str()), Some(code));
            assert!(code.message().contains("not charged"), "{code:?}");
        }
    }
}
