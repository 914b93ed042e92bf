use serde::{Deserialize, Serialize};

/// One try-on as the API shows it (docs/api.md, `Generation`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    pub id: String,
    pub status: GenerationStatus,
    pub cost: i64,
    pub provider: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
    /// A Fitroom URL that only the owner's session can open; set once the result is stored.
    pub result_url: Option<String>,
    /// What a shopper reads when it failed or was canceled; never internal text.
    pub error: Option<String>,
}

impl Generation {
    /// `created_at` as a shopper reads it: `2026-12-04 18:50` (UTC).
    pub fn created_minute(&self) -> String {
        self.created_at.get(..16).unwrap_or(&self.created_at).replace('T', " ")
    }
}

/// The public status of a generation: the job's state machine seen from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GenerationStatus {
    Queued,
    Processing,
    Succeeded,
    Failed,
    Canceled,
}

impl GenerationStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            GenerationStatus::Queued => "queued",
            GenerationStatus::Processing => "processing",
            GenerationStatus::Succeeded => "succeeded",
            GenerationStatus::Failed => "failed",
            GenerationStatus::Canceled => "canceled",
        }
    }

    /// Succeeded, failed and canceled never change again.
    pub const fn is_finished(self) -> bool {
        matches!(
            self,
            GenerationStatus::Succeeded | GenerationStatus::Failed | GenerationStatus::Canceled
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generation_reads_back_what_the_server_wrote() {
        let text = r#"{"id":"job_1","status":"processing","cost":1,"provider":"local",
            "created_at":"2026-12-04T18:50:07Z","updated_at":"2026-12-04T18:50:09Z",
            "result_url":null,"error":null}"#;
        let g: Generation = serde_json::from_str(text).expect("the API's shape");
        assert_eq!(g.status, GenerationStatus::Processing);
        assert!(!g.status.is_finished());
        assert_eq!(g.created_minute(), "2026-12-04 18:50");
        let again: Generation =
            serde_json::from_str(&serde_json::to_string(&g).expect("serialises")).expect("parses");
        assert_eq!(again, g);
    }

    #[test]
    fn statuses_are_written_in_lower_case_and_unknown_ones_refused() {
        for status in [
            GenerationStatus::Queued,
            GenerationStatus::Processing,
            GenerationStatus::Succeeded,
            GenerationStatus::Failed,
            GenerationStatus::Canceled,
        ] {
            let text = serde_json::to_string(&status).expect("serialises");
            assert_eq!(text, format!("\"{}\"", status.as_str()));
        }
        assert!(serde_json::from_str::<GenerationStatus>("\"lost\"").is_err());
    }
}
