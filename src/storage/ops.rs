//! What maskflow does with cloud objects, as blocking calls: sign, HEAD, list, stream a
//! download through the hash, upload, delete. Each bucket's client is built on first use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

use super::runtime::block_on;
use super::stores::{self, Bucket, Signing};
use super::{DEFAULT_EXPIRY, Method, ObjectUrl, StorageError, StorageSettings};
use crate::redact::{SecretUrl, register_secret};

/// What a store says about an object without sending its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    /// The ETag (quotes included, as the store sends it), or the generation/version.
    pub etag: Option<String>,
    /// RFC 3339, for stores whose listings carry no ETag.
    pub last_modified: Option<String>,
}

impl ObjectInfo {
    fn of(meta: &object_store::ObjectMeta) -> Self {
        Self {
            size: meta.size,
            etag: meta.e_tag.clone().or_else(|| meta.version.clone()),
            // Whole seconds: HTTP dates have no more, listings may have milliseconds.
            last_modified: jiff::Timestamp::from_second(meta.last_modified.timestamp())
                .ok()
                .map(|t| t.to_string()),
        }
    }

    /// Whether these are, by the store's word, the bytes `recorded` describes: same size and
    /// same ETag; or, when this answer has no ETag (a listing of some S3-compatible servers),
    /// the same modification time.
    pub fn unchanged_since(&self, recorded: &crate::lock::InputRecord) -> bool {
        if self.size != recorded.size {
            return false;
        }
        match (&self.etag, &recorded.etag) {
            (Some(now), Some(then)) => now == then,
            (Some(_), None) => false,
            (None, _) => {
                self.last_modified.is_some() && self.last_modified == recorded.last_modified
            }
        }
    }

    /// Whether this is, by its ETag and size, the mask `written` records: `None` when either
    /// side has no ETag (a store that sends none), and only its bytes can tell.
    pub fn same_etag_as(&self, written: &crate::lock::OutputRecord) -> Option<bool> {
        let (now, then) = (self.etag.as_ref()?, written.etag.as_ref()?);
        Some(now == then && self.size == written.size)
    }
}

/// The largest listing maskflow keeps in memory (objects under one glob's prefix).
pub const MAX_LISTED: usize = 1_000_000;
/// Uploads above this go in parts.
const MULTIPART_ABOVE: usize = 16 * 1024 * 1024;

/// The cloud objects of one run. Credentials are looked up when a bucket is first used.
pub struct Storage {
    settings: StorageSettings,
    buckets: Mutex<HashMap<String, Arc<Bucket>>>,
}

impl Storage {
    pub fn new(settings: &StorageSettings) -> Self {
        Self {
            settings: settings.clone(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn expiry(&self) -> Duration {
        self.settings
            .expires_seconds
            .map_or(DEFAULT_EXPIRY, Duration::from_secs)
    }

    fn bucket(&self, object: &ObjectUrl) -> Result<Arc<Bucket>, StorageError> {
        let name = object.bucket();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bucket) = buckets.get(&name) {
            return Ok(bucket.clone());
        }
        let bucket = Arc::new(stores::build(&self.settings, object)?);
        buckets.insert(name, bucket.clone());
        Ok(bucket)
    }

    /// A pre-signed HTTPS URL for `method` on `object`, valid for `expires` (default: the
    /// manifest's `storage.expires_seconds`).
    pub fn presign(
        &self,
        object: &ObjectUrl,
        method: Method,
        expires: Option<Duration>,
    ) -> Result<SecretUrl, StorageError> {
        let mut expires = expires
            .unwrap_or_else(|| self.expiry())
            .max(Duration::from_secs(1));
        if matches!(object, ObjectUrl::Gcs { .. }) {
            // GCS allows at most 7 days.
            expires = expires.min(Duration::from_secs(604_800));
        }
        let bucket = self.bucket(object)?;
        let path = Path::from(object.key());
        let http_method = match (method, object) {
            // A SAS grants permissions, not methods: reading covers HEAD.
            (Method::Head, ObjectUrl::Azure { .. }) | (Method::Get, _) => {
                object_store::signer::Method::GET
            }
            (Method::Head, _) => object_store::signer::Method::HEAD,
            (Method::Put, _) => object_store::signer::Method::PUT,
        };
        let signed = match &bucket.signer {
            Signing::Store(signer) => block_on(signer.signed_url(http_method, &path, expires))
                .map_err(|e| StorageError::request("sign", object, &e))?,
            Signing::UserSas {
                sas,
                base,
                fallback,
            } => match block_on(fallback.signed_url(http_method, &path, expires)) {
                Ok(url) => url,
                Err(_) => {
                    let mut url = url::Url::parse(base).map_err(|e| StorageError::Setup {
                        object: object.to_string(),
                        reason: format!("the Azure endpoint `{base}` is not a URL: {e}"),
                        hint: None,
                    })?;
                    url.path_segments_mut()
                        .map_err(|()| StorageError::Setup {
                            object: object.to_string(),
                            reason: format!("the Azure endpoint `{base}` cannot take a path"),
                            hint: None,
                        })?
                        .extend(path.parts().map(|p| p.as_ref().to_owned()));
                    url.set_query(Some(sas));
                    url
                }
            },
        };
        if let Some(query) = signed.query() {
            register_secret(query);
        }
        SecretUrl::parse(signed.as_str()).map_err(|e| StorageError::Setup {
            object: object.to_string(),
            reason: format!("the signed URL does not parse: {e}"),
            hint: None,
        })
    }

    /// Size and ETag of `object`; `None` when there is no such object.
    pub fn head(&self, object: &ObjectUrl) -> Result<Option<ObjectInfo>, StorageError> {
        let bucket = self.bucket(object)?;
        match block_on(bucket.store.head(&Path::from(object.key()))) {
            Ok(meta) => Ok(Some(ObjectInfo::of(&meta))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(StorageError::request("read", object, &e)),
        }
    }

    /// Every object whose key starts with `prefix` (a folder: whole path segments), with
    /// what the listing says of it, through the store's paginated list.
    pub fn list(&self, prefix: &ObjectUrl) -> Result<Vec<(ObjectUrl, ObjectInfo)>, StorageError> {
        let bucket = self.bucket(prefix)?;
        let folder = prefix.key().trim_matches('/');
        let path = (!folder.is_empty()).then(|| Path::from(folder));
        block_on(async {
            let mut stream = bucket.store.list(path.as_ref());
            let mut found = Vec::new();
            while let Some(meta) = stream.next().await {
                let meta = meta.map_err(|e| StorageError::request("list", prefix, &e))?;
                if found.len() == MAX_LISTED {
                    return Err(StorageError::Setup {
                        object: prefix.to_string(),
                        reason: format!("more than {MAX_LISTED} objects under this prefix"),
                        hint: Some("give the glob a longer literal prefix".to_owned()),
                    });
                }
                let key = meta.location.as_ref().to_owned();
                found.push((prefix.with_key(&key), ObjectInfo::of(&meta)));
            }
            Ok(found)
        })
    }

    /// Streams `object` into `sink` through BLAKE3, refusing more than `limit` bytes.
    /// Returns its size, digest and what the store said of it.
    pub fn download_into(
        &self,
        object: &ObjectUrl,
        limit: u64,
        sink: &mut dyn std::io::Write,
    ) -> Result<(u64, String, ObjectInfo), StorageError> {
        let bucket = self.bucket(object)?;
        let too_large = || StorageError::Request {
            operation: "read",
            object: object.to_string(),
            reason: format!("it is larger than {limit} bytes"),
            refusal: super::error::Refusal::Other,
        };
        block_on(async {
            let result = bucket
                .store
                .get(&Path::from(object.key()))
                .await
                .map_err(|e| StorageError::request("read", object, &e))?;
            if result.meta.size > limit {
                return Err(too_large());
            }
            let info = ObjectInfo::of(&result.meta);
            let mut hasher = blake3::Hasher::new();
            let mut size = 0u64;
            let mut stream = result.into_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| StorageError::request("read", object, &e))?;
                size += chunk.len() as u64;
                if size > limit {
                    return Err(too_large());
                }
                hasher.update(&chunk);
                sink.write_all(&chunk).map_err(|e| StorageError::Request {
                    operation: "keep",
                    object: object.to_string(),
                    reason: crate::fsutil::io_reason(&e),
                    refusal: super::error::Refusal::Other,
                })?;
            }
            Ok((size, format!("blake3:{}", hasher.finalize().to_hex()), info))
        })
    }

    /// Uploads `bytes` to `object` (in parts when large). Returns what the store says of it.
    pub fn put(&self, object: &ObjectUrl, bytes: Vec<u8>) -> Result<ObjectInfo, StorageError> {
        let bucket = self.bucket(object)?;
        let path = Path::from(object.key());
        let size = bytes.len() as u64;
        let result = block_on(async {
            if bytes.len() <= MULTIPART_ABOVE {
                bucket.store.put(&path, PutPayload::from(bytes)).await
            } else {
                let upload = bucket.store.put_multipart(&path).await?;
                let mut writer = object_store::WriteMultipart::new(upload);
                for part in bytes.chunks(MULTIPART_ABOVE / 2) {
                    writer.write(part);
                }
                writer.finish().await
            }
        })
        .map_err(|e| StorageError::request("write", object, &e))?;
        Ok(ObjectInfo {
            size,
            etag: result.e_tag.or(result.version),
            last_modified: None,
        })
    }

    pub fn delete(&self, object: &ObjectUrl) -> Result<(), StorageError> {
        let bucket = self.bucket(object)?;
        block_on(bucket.store.delete(&Path::from(object.key())))
            .map_err(|e| StorageError::request("delete", object, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(size: u64, etag: Option<&str>) -> ObjectInfo {
        ObjectInfo {
            size,
            etag: etag.map(str::to_owned),
            last_modified: None,
        }
    }

    fn written(size: u64, etag: Option<&str>) -> crate::lock::OutputRecord {
        crate::lock::OutputRecord {
            target: "s3://b/masks/a.png".into(),
            size,
            digest: "blake3:00".into(),
            width: 1,
            height: 1,
            etag: etag.map(str::to_owned),
        }
    }

    #[test]
    fn a_mask_is_known_by_its_etag_and_size_or_not_at_all() {
        let mask = written(10, Some("\"e1\""));
        assert_eq!(info(10, Some("\"e1\"")).same_etag_as(&mask), Some(true));
        assert_eq!(info(10, Some("\"e2\"")).same_etag_as(&mask), Some(false));
        assert_eq!(info(11, Some("\"e1\"")).same_etag_as(&mask), Some(false));
        assert_eq!(info(10, None).same_etag_as(&mask), None);
        assert_eq!(
            info(10, Some("\"e1\"")).same_etag_as(&written(10, None)),
            None
        );
    }
}
