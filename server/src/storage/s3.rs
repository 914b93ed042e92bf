use async_trait::async_trait;
use aws_sdk_s3::config::{Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::{Object, Storage, StorageError, validate_key};
use crate::config::S3Config;

/// S3, Cloudflare R2 or any S3-compatible server, through `aws-sdk-s3`.
pub struct S3Storage {
    client: aws_sdk_s3::Client,
    bucket: String,
}

fn remote(e: impl std::error::Error) -> StorageError {
    // The SDK's Display is terse ("service error"); the Debug chain names the cause.
    StorageError::Remote(format!("{e:?}"))
}

impl S3Storage {
    pub async fn new(config: &S3Config) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(Region::new(config.region.clone()));
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            loader = loader.credentials_provider(Credentials::new(id, secret, None, None, "fitroom"));
        }
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared).force_path_style(config.endpoint.is_some());
        if config.checksums_when_required {
            builder = builder
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        S3Storage { client: aws_sdk_s3::Client::from_conf(builder.build()), bucket: config.bucket.clone() }
    }
}

#[async_trait]
impl Storage for S3Storage {
    fn kind(&self) -> &'static str {
        "s3"
    }

    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(remote)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Object>, StorageError> {
        validate_key(key)?;
        let out = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(remote(e)),
        };
        let content_type = out.content_type().unwrap_or("application/octet-stream").to_owned();
        let bytes = out.body.collect().await.map_err(remote)?.into_bytes();
        Ok(Some(Object { bytes, content_type }))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        self.client.delete_object().bucket(&self.bucket).key(key).send().await.map_err(remote)?;
        Ok(())
    }

    async fn health(&self) -> Result<(), StorageError> {
        self.client.head_bucket().bucket(&self.bucket).send().await.map_err(remote)?;
        Ok(())
    }

    async fn presign_get(&self, key: &str, ttl: std::time::Duration) -> Result<Option<String>, StorageError> {
        validate_key(key)?;
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl).map_err(remote)?;
        let request = self.client.get_object().bucket(&self.bucket).key(key).presigned(config).await.map_err(remote)?;
        Ok(Some(request.uri().to_string()))
    }
}
