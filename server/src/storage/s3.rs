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

/// Objects above this size go up in parts: a failed part is retried alone, and no single request
/// carries the whole object.
const MULTIPART_THRESHOLD: usize = 8 * 1024 * 1024;
const PART_SIZE: usize = 8 * 1024 * 1024;

impl S3Storage {
    async fn put_multipart(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), StorageError> {
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(remote)?;
        let upload_id = upload.upload_id().ok_or_else(|| StorageError::Remote("no upload id".into()))?.to_owned();
        let result = async {
            let mut parts = Vec::new();
            for (i, chunk) in bytes.chunks(PART_SIZE).enumerate() {
                let number = i as i32 + 1;
                let part = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(ByteStream::from(bytes.slice_ref(chunk)))
                    .send()
                    .await
                    .map_err(remote)?;
                parts.push(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(part.e_tag().map(str::to_owned))
                        .set_checksum_crc32(part.checksum_crc32().map(str::to_owned))
                        .build(),
                );
            }
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(aws_sdk_s3::types::CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                .send()
                .await
                .map_err(remote)?;
            Ok(())
        }
        .await;
        if result.is_err() {
            // Parts of an abandoned upload are billed until aborted.
            let _ = self.client.abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(&upload_id).send().await;
        }
        result
    }

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
        if bytes.len() > MULTIPART_THRESHOLD {
            return self.put_multipart(key, bytes, content_type).await;
        }
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
