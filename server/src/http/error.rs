//! The API's error envelope, and the one place where failures become HTTP statuses and codes.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fitroom_types::upload::UploadError;
use fitroom_types::{ErrorBody, ErrorDetail};

use crate::accounts::AccountsError;
use crate::billing::{FulfilmentError, StripeError};
use crate::console::ConsoleError;
use crate::garments::GarmentError;
use crate::jobs::JobError;
use crate::ledger::LedgerError;
use crate::photos::PhotoError;
use crate::privacy::PrivacyError;

/// The `code` strings of docs/api.md (Error codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    NotFound,
    InvalidRequest,
    InvalidEmail,
    WeakPassword,
    EmailTaken,
    InvalidCredentials,
    InsufficientCredits,
    TooManyJobs,
    RateLimited,
    PayloadTooLarge,
    UnsupportedMediaType,
    UnknownProvider,
    NoProviderAvailable,
    StillRunning,
    AlreadyFinished,
    InvalidSignature,
    PaymentsDisabled,
    CrossOrigin,
    IdempotencyKeyReused,
    AccountSuspended,
    InvalidToken,
    EmailUnverified,
    InvalidUrl,
    NoGarmentFound,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::NotFound => "not_found",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::AccountSuspended => "account_suspended",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InvalidUrl => "invalid_url",
            ErrorCode::NoGarmentFound => "no_garment_found",
            ErrorCode::EmailUnverified => "email_unverified",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidEmail => "invalid_email",
            ErrorCode::WeakPassword => "weak_password",
            ErrorCode::EmailTaken => "email_taken",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::InsufficientCredits => "insufficient_credits",
            ErrorCode::TooManyJobs => "too_many_jobs",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::UnknownProvider => "unknown_provider",
            ErrorCode::NoProviderAvailable => "no_provider_available",
            ErrorCode::StillRunning => "still_running",
            ErrorCode::AlreadyFinished => "already_finished",
            ErrorCode::InvalidSignature => "invalid_signature",
            ErrorCode::PaymentsDisabled => "payments_disabled",
            ErrorCode::CrossOrigin => "cross_origin_request",
            ErrorCode::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthenticated
            | ErrorCode::InvalidCredentials
            | ErrorCode::InvalidSignature => StatusCode::UNAUTHORIZED,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::InvalidRequest
            | ErrorCode::InvalidEmail
            | ErrorCode::WeakPassword
            | ErrorCode::InvalidToken
            | ErrorCode::InvalidUrl => StatusCode::BAD_REQUEST,
            ErrorCode::EmailTaken | ErrorCode::StillRunning | ErrorCode::AlreadyFinished => {
                StatusCode::CONFLICT
            }
            ErrorCode::InsufficientCredits => StatusCode::PAYMENT_REQUIRED,
            ErrorCode::TooManyJobs | ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnknownProvider
            | ErrorCode::IdempotencyKeyReused
            | ErrorCode::NoGarmentFound => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::NoProviderAvailable | ErrorCode::PaymentsDisabled => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorCode::CrossOrigin | ErrorCode::AccountSuspended | ErrorCode::EmailUnverified => {
                StatusCode::FORBIDDEN
            }
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into() }
    }

    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "Sign in to continue.")
    }

    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "Not found.")
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// Logs the cause with the request's span and tells the client only that it failed.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(ErrorCode::Internal, "Something went wrong on our side. Please try again.")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail { code: self.code.as_str().to_owned(), message: self.message },
        };
        (self.code.status(), Json(body)).into_response()
    }
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        let code = match e {
            UploadError::AspectRatio | UploadError::PromptTooLong => ErrorCode::InvalidRequest,
            UploadError::ImageType => ErrorCode::UnsupportedMediaType,
            UploadError::ImageTooLarge => ErrorCode::PayloadTooLarge,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::InsufficientCredits { requested, available } => ApiError::new(
                ErrorCode::InsufficientCredits,
                format!("This needs {requested} credits and you have {available}."),
            ),
            LedgerError::UnknownUser | LedgerError::UnknownHold | LedgerError::UnknownPackage => {
                ApiError::not_found()
            }
            LedgerError::IdempotencyMismatch => {
                ApiError::invalid("This Idempotency-Key was already used for a different request.")
            }
            LedgerError::NonPositiveGrant
            | LedgerError::NonPositiveHold
            | LedgerError::ExpiresInThePast
            | LedgerError::InvalidText
            | LedgerError::InvalidRefundShare => ApiError::invalid(e.to_string()),
            other => ApiError::internal(other),
        }
    }
}

impl From<AccountsError> for ApiError {
    fn from(e: AccountsError) -> Self {
        match e {
            AccountsError::InvalidEmail(e) => {
                ApiError::new(ErrorCode::InvalidEmail, format!("{e}."))
            }
            AccountsError::WeakPassword(e) => {
                ApiError::new(ErrorCode::WeakPassword, format!("Choose a stronger password: {e}."))
            }
            AccountsError::EmailTaken => ApiError::new(
                ErrorCode::EmailTaken,
                "An account with this email already exists. Sign in instead.",
            ),
            AccountsError::InvalidCredentials => {
                ApiError::new(ErrorCode::InvalidCredentials, "Wrong email or password.")
            }
            AccountsError::TooManySignIns => ApiError::new(
                ErrorCode::RateLimited,
                "Too many sign-in attempts. Wait a minute and try again.",
            ),
            AccountsError::Suspended => ApiError::new(
                ErrorCode::AccountSuspended,
                "This account is suspended. Write to support to find out why.",
            ),
            AccountsError::InvalidToken => ApiError::new(
                ErrorCode::InvalidToken,
                "This link is unknown, was already used, or has expired. Ask for a new one.",
            ),
            AccountsError::NotFound => ApiError::not_found(),
            AccountsError::TooManySignUps => ApiError::new(
                ErrorCode::RateLimited,
                "Too many new accounts from your network. Try again later.",
            ),
            AccountsError::Ledger(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::UnknownProvider(p) => ApiError::new(
                ErrorCode::UnknownProvider,
                format!("There is no provider called {p:?} here."),
            ),
            JobError::TooManyJobs(n) => ApiError::new(
                ErrorCode::TooManyJobs,
                format!("You already have {n} generations running. Wait for one to finish."),
            ),
            JobError::NotFound => ApiError::not_found(),
            JobError::AccountClosed => ApiError::unauthenticated(),
            JobError::NoProviderAvailable => ApiError::new(
                ErrorCode::NoProviderAvailable,
                "No provider can take a try-on right now. Please try again in a minute.",
            ),
            JobError::IdempotencyKeyReused => ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                "This Idempotency-Key was already used for a different request.",
            ),
            JobError::StillRunning => ApiError::new(
                ErrorCode::StillRunning,
                "This generation is still running; cancel it or wait for it to finish.",
            ),
            JobError::AlreadyFinished => {
                ApiError::new(ErrorCode::AlreadyFinished, "This generation has already finished.")
            }
            JobError::InvalidWebhookToken => {
                ApiError::new(ErrorCode::InvalidSignature, "The webhook token is not valid.")
            }
            JobError::Ledger(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

impl From<ConsoleError> for ApiError {
    fn from(e: ConsoleError) -> Self {
        match e {
            ConsoleError::NotFound => ApiError::not_found(),
            ConsoleError::Invalid(message) => ApiError::invalid(message),
            ConsoleError::Jobs(e) => e.into(),
            ConsoleError::Ledger(e) => e.into(),
            ConsoleError::Accounts(e) => e.into(),
            ConsoleError::Database(e) => ApiError::internal(e),
        }
    }
}

impl From<GarmentError> for ApiError {
    fn from(e: GarmentError) -> Self {
        match e {
            GarmentError::InvalidUrl(why) => {
                ApiError::new(ErrorCode::InvalidUrl, format!("That link cannot be used: {why}."))
            }
            GarmentError::NoGarmentFound => ApiError::new(
                ErrorCode::NoGarmentFound,
                "No garment picture was found on that page. Try the product's own page, or upload a photo.",
            ),
            GarmentError::NotFound => ApiError::not_found(),
            other => ApiError::internal(other),
        }
    }
}

impl From<PhotoError> for ApiError {
    fn from(e: PhotoError) -> Self {
        match e {
            PhotoError::NotFound => ApiError::not_found(),
            other => ApiError::internal(other),
        }
    }
}

impl From<PrivacyError> for ApiError {
    fn from(e: PrivacyError) -> Self {
        match e {
            PrivacyError::Accounts(e) => e.into(),
            PrivacyError::Jobs(e) => e.into(),
            PrivacyError::Ledger(e) => e.into(),
            PrivacyError::ExportsBusy => ApiError::new(
                ErrorCode::RateLimited,
                "Too many exports are being written right now. Try again in a minute.",
            ),
            other => ApiError::internal(other),
        }
    }
}

impl From<FulfilmentError> for ApiError {
    fn from(e: FulfilmentError) -> Self {
        match e {
            FulfilmentError::Malformed(e) => ApiError::invalid(e.to_string()),
            FulfilmentError::Ledger(e) => e.into(),
        }
    }
}

impl From<StripeError> for ApiError {
    fn from(e: StripeError) -> Self {
        match e {
            StripeError::Disabled => ApiError::new(
                ErrorCode::PaymentsDisabled,
                "Buying credits is not set up on this Fitroom.",
            ),
            other => ApiError::internal(other),
        }
    }
}
