use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::http::ApiError;

/// `Json<T>` whose rejections speak the API's error envelope (400 `invalid_request`).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => {
                    ApiError::invalid("Send the body as JSON with Content-Type: application/json.")
                }
                JsonRejection::BytesRejection(_) => ApiError::new(
                    crate::http::ErrorCode::PayloadTooLarge,
                    "The request body is too large.",
                ),
                other => {
                    ApiError::invalid(format!("The JSON body is not valid: {}", other.body_text()))
                }
            }),
        }
    }
}
