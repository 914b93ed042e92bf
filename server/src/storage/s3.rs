mod upload;

pub use upload::PART_SIZE;

use std::time::Duration;

use async_trait::async_trait;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use futures_util::StreamExt;

use super::{
    BodyError, ByteRange, ByteStream, ObjectBody, Read, Span, Storage, StorageError, validate_key,
};
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

/// `bytes 10-19/100` → the span served and the object's whole length.
fn parse_content_range(value: &str) -> Option<(Span, u64)> {
    let (range, len) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let span = Span { start: first.parse().ok()?, end: last.parse::<u64>().ok()?.checked_add(1)? };
    Some((span, len.parse().ok()?))
}

/// The SDK's body as our stream of chunks.
fn body_stream(body: aws_sdk_s3::primitives::ByteStream) -> ByteStream {
    futures_util::stream::unfold(body, |mut body| async move {
        let chunk = body.next().await?;
        Some((chunk.map_err(|e| -> BodyError { Box::new(e) }), body))
    })
    .boxed()
}

impl S3Storage {
    pub async fn new(config: &S3Config) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(Region::new(config.region.clone()));
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            loader =
                loader.credentials_provider(Credentials::new(id, secret, None, None, "fitroom"));
        }
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        // A store that stops answering must not hold a mirror, a request or the reconciler
        // forever: every call ends, and a failure is retried by whoever made it.
        let limit = Duration::from_secs(config.timeout_secs.max(1));
        loader = loader.timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5).min(limit))
                .read_timeout(Duration::from_secs(30).min(limit))
                .operation_attempt_timeout(limit)
                .build(),
        );
        let shared = loader.load().await;
        let mut builder =
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(config.endpoint.is_some());
        if config.checksums_when_required {
            builder = builder
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        S3Storage {
            client: aws_sdk_s3::Client::from_conf(builder.build()),
            bucket: config.bucket.clone(),
        }
    }

    /// The length of an object, for the answer to a range that missed it.
    async fn len(&self, key: &str) -> Result<Option<u64>, StorageError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(head) => {
                Ok(Some(head.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0)))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(remote(e)),
        }
    }
}

#[async_trait]
impl Storage for S3Storage {
    fn kind(&self) -> &'static str {
        "s3"
    }

    async fn put_stream(
        &self,
        key: &str,
        body: ByteStream,
        content_type: &str,
    ) -> Result<u64, StorageError> {
        validate_key(key)?;
        upload::Upload { client: &self.client, bucket: &self.bucket, key, content_type }
            .run(body)
            .await
    }

    async fn put_stream_of_len(
        &self,
        key: &str,
        body: ByteStream,
        len: u64,
        content_type: &str,
    ) -> Result<u64, StorageError> {
        validate_key(key)?;
        let body = super::exactly(body, len);
        upload::Upload { client: &self.client, bucket: &self.bucket, key, content_type }
            .run_of_len(body, len)
            .await
    }

    /// The range goes to S3 with the request: one round trip (two for a suffix), and only the
    /// asked-for bytes leave the bucket.
    async fn read(&self, key: &str, range: Option<ByteRange>) -> Result<Read, StorageError> {
        validate_key(key)?;
        let range = match range {
            // s3s-fs 0.14 seeks before clamping a suffix longer than the object and answers 500;
            // suffixes are rare (browsers resume with `a-`), so they are resolved here, after a HEAD.
            Some(suffix @ ByteRange::Last { .. }) => match self.len(key).await? {
                None => return Ok(Read::Missing),
                Some(len) => match suffix.resolve(len) {
                    None => return Ok(Read::Unsatisfiable { len }),
                    Some(span) => Some(ByteRange::FromTo { first: span.start, last: span.end - 1 }),
                },
            },
            other => other,
        };
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range.map(ByteRange::header_value));
        let out = match request.send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Ok(Read::Missing);
            }
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
                return Ok(match self.len(key).await? {
                    Some(len) => Read::Unsatisfiable { len },
                    None => Read::Missing,
                });
            }
            Err(e) => return Err(remote(e)),
        };
        let content_type = out.content_type().unwrap_or("application/octet-stream").to_owned();
        let sent = out.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        let (span, len) = match out.content_range().and_then(parse_content_range) {
            Some(partial) => partial,
            None => (Span::whole(sent), sent),
        };
        Ok(Read::Found(ObjectBody { content_type, len, span, body: body_stream(out.body) }))
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

    async fn list(&self, prefix: &str) -> Result<Vec<super::Listed>, StorageError> {
        let mut listed = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for object in page.map_err(remote)?.contents() {
                let (Some(key), Some(modified)) = (object.key(), object.last_modified()) else {
                    continue;
                };
                let millis = modified.to_millis().unwrap_or(0);
                listed.push(super::Listed {
                    key: key.to_owned(),
                    modified: crate::clock::Timestamp::from_millis(millis),
                });
            }
        }
        Ok(listed)
    }

    async fn presign_get(
        &self,
        key: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<String>, StorageError> {
        validate_key(key)?;
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl).map_err(remote)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(remote)?;
        Ok(Some(request.uri().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_name_the_span_and_the_whole_length() {
        assert_eq!(
            parse_content_range("bytes 10-19/100"),
            Some((Span { start: 10, end: 20 }, 100))
        );
        assert_eq!(parse_content_range("bytes */100"), None);
        assert_eq!(parse_content_range("bytes 1-x/100"), None);
    }
}
