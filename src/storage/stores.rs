//! One `object_store` client per bucket (or Azure container), with its cloud's credential
//! chain. Building one reads the environment and credential files but sends nothing: the
//! chains' network sources (STS, instance metadata, Entra ID) are asked on the first request.
//!
//! Order tried, first match wins (the README's "Credentials" lists the same):
//! - S3: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY`; the `AWS_PROFILE` (or `default`)
//!   profile of `~/.aws/credentials` / `~/.aws/config` (keys, `credential_process`, or
//!   `role_arn` + `web_identity_token_file`; ours, `aws_profile`); `AWS_ROLE_ARN` +
//!   `AWS_WEB_IDENTITY_TOKEN_FILE` (ours, `web_identity`: STS at `AWS_ENDPOINT_URL_STS`, else
//!   `AWS_ENDPOINT_URL`, else the region's); ECS `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`
//!   (object_store's); `AWS_CONTAINER_CREDENTIALS_FULL_URI` with its optional token (ours,
//!   `container`); EC2 instance metadata (IMDSv2, object_store's).
//! - Azure: `AZURE_STORAGE_TOKEN`; the account key (`AZURE_STORAGE_ACCOUNT_KEY`,
//!   `AZURE_STORAGE_KEY`, a connection string); workload identity (`AZURE_CLIENT_ID` +
//!   `AZURE_TENANT_ID` + `AZURE_FEDERATED_TOKEN_FILE`); a client secret (`AZURE_CLIENT_ID` +
//!   `AZURE_TENANT_ID` + `AZURE_CLIENT_SECRET`); a SAS token; the Azure CLI
//!   (`AZURE_USE_AZURE_CLI=true`); managed identity. Entra ID tokens come from
//!   `AZURE_AUTHORITY_HOST` (default `https://login.microsoftonline.com`). With a token, URLs
//!   are signed with a user-delegation SAS (Get User Delegation Key).
//! - GCS: `GOOGLE_SERVICE_ACCOUNT`/`GOOGLE_SERVICE_ACCOUNT_KEY`; application default
//!   credentials (`GOOGLE_APPLICATION_CREDENTIALS`, else gcloud's file): a service-account
//!   key, an authorized user, or an `external_account` (workload identity federation; ours,
//!   `gcp_external`); the metadata server.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::{ObjectStore, RetryConfig};

use super::aws_profile::{self, CredentialProcess, Profile};
use super::container::Container;
use super::gcp_external;
use super::refresh::Refreshing;
use super::web_identity::WebIdentity;
use super::{ObjectUrl, StorageError, StorageSettings};
use crate::redact::register_secret;

/// A bucket's client and how its URLs are signed.
pub struct Bucket {
    pub store: Arc<dyn ObjectStore>,
    pub signer: Signing,
}

pub enum Signing {
    /// The store signs (SigV4, a service or user-delegation SAS, GCS V4).
    Store(Arc<dyn object_store::signer::Signer>),
    /// Azure with a SAS token the user gave: the token is appended to the blob's URL (it can
    /// only be used, not narrowed). `fallback` still signs when the chain has a key.
    UserSas {
        sas: String,
        base: String,
        fallback: Arc<dyn object_store::signer::Signer>,
    },
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Fewer retries than `object_store`'s default (10 over 3 minutes): a missing credential
/// (no metadata server off the cloud) must fail in seconds, not minutes.
fn retry() -> RetryConfig {
    RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(30),
        ..RetryConfig::default()
    }
}

pub fn build(settings: &StorageSettings, object: &ObjectUrl) -> Result<Bucket, StorageError> {
    // object_store's client would fail to build with only "no CA certificates were loaded".
    crate::http::ca_file().map_err(|source| StorageError::CaFile {
        object: object.to_string(),
        source,
    })?;
    match object {
        ObjectUrl::S3 { bucket, .. } => s3(settings, object, bucket),
        ObjectUrl::Azure {
            account, container, ..
        } => azure(settings, object, account, container),
        ObjectUrl::Gcs { bucket, .. } => gcs(settings, object, bucket),
    }
}

fn s3(
    settings: &StorageSettings,
    object: &ObjectUrl,
    bucket: &str,
) -> Result<Bucket, StorageError> {
    let region = settings
        .s3
        .region
        .clone()
        .or_else(|| var("AWS_REGION"))
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".to_owned());
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_region(&region)
        .with_retry(retry());
    let endpoint = settings
        .s3
        .endpoint
        .clone()
        .or_else(|| var("AWS_ENDPOINT_URL_S3"))
        .or_else(|| var("AWS_ENDPOINT_URL"));
    builder = match &endpoint {
        Some(endpoint) => builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(!settings.s3.path_style.unwrap_or(true)),
        None => builder.with_virtual_hosted_style_request(settings.s3.path_style != Some(true)),
    };
    // The AWS SDKs' name for the metadata endpoint; object_store reads AWS_METADATA_ENDPOINT.
    if var("AWS_METADATA_ENDPOINT").is_none()
        && let Some(endpoint) = var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
    {
        builder = builder.with_metadata_endpoint(endpoint.trim_end_matches('/'));
    }
    let env_keys = var("AWS_ACCESS_KEY_ID").is_some() || var("AWS_SECRET_ACCESS_KEY").is_some();
    if let Some(secret) = var("AWS_SECRET_ACCESS_KEY") {
        register_secret(&secret);
    }
    if let Some(token) = var("AWS_SESSION_TOKEN") {
        register_secret(&token);
    }
    if !env_keys {
        let profile = aws_profile::resolve().map_err(|source| StorageError::Credentials {
            object: object.to_string(),
            source: Box::new(source),
        })?;
        builder = match profile {
            Some(Profile::Keys {
                key_id,
                secret_key,
                token,
            }) => {
                let builder = builder
                    .with_access_key_id(key_id)
                    .with_secret_access_key(secret_key);
                match token {
                    Some(token) => builder.with_token(token),
                    None => builder,
                }
            }
            Some(Profile::Process { profile, command }) => {
                builder.with_credentials(Arc::new(Refreshing::new(CredentialProcess {
                    profile,
                    command,
                })))
            }
            Some(Profile::WebIdentity {
                role_arn,
                token_file,
                session_name,
            }) => builder.with_credentials(Arc::new(Refreshing::new(WebIdentity::new(
                role_arn,
                token_file,
                session_name,
                &region,
            )))),
            // Ours, not object_store's (which would also read these variables): see
            // `web_identity` and `container` for why. The ECS task role's relative URI
            // comes first, as in the SDKs, and is object_store's.
            None => {
                if let Some(web_identity) = WebIdentity::from_env(&region) {
                    builder.with_credentials(Arc::new(Refreshing::new(web_identity)))
                } else if var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_none()
                    && let Some(container) = Container::from_env()
                {
                    builder.with_credentials(Arc::new(Refreshing::new(container)))
                } else {
                    builder
                }
            }
        };
    }
    let store = Arc::new(
        builder
            .build()
            .map_err(|e| StorageError::setup(object, &e))?,
    );
    Ok(Bucket {
        store: store.clone(),
        signer: Signing::Store(store),
    })
}

/// The fields of an Azure connection string (`AccountName=...;AccountKey=...;...`).
fn connection_field(connection: &str, name: &str) -> Option<String> {
    connection.split(';').find_map(|part| {
        let (k, v) = part.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().to_owned())
    })
}

fn azure(
    settings: &StorageSettings,
    object: &ObjectUrl,
    account: &str,
    container: &str,
) -> Result<Bucket, StorageError> {
    let mut builder = MicrosoftAzureBuilder::from_env()
        .with_account(account)
        .with_container_name(container)
        .with_retry(retry());
    let mut endpoint = settings.azure.endpoint.clone();
    let mut sas = var("AZURE_STORAGE_SAS_TOKEN").or_else(|| var("AZURE_STORAGE_SAS_KEY"));
    // The Azure CLI's names: AZURE_STORAGE_KEY, and a connection string for this account.
    let mut key = var("AZURE_STORAGE_ACCOUNT_KEY").or_else(|| var("AZURE_STORAGE_KEY"));
    if let Some(connection) = var("AZURE_STORAGE_CONNECTION_STRING")
        && connection_field(&connection, "AccountName").as_deref() == Some(account)
    {
        key = key.or_else(|| connection_field(&connection, "AccountKey"));
        sas = sas.or_else(|| connection_field(&connection, "SharedAccessSignature"));
        endpoint = endpoint.or_else(|| connection_field(&connection, "BlobEndpoint"));
    }
    if let Some(key) = &key {
        register_secret(key);
        builder = builder.with_access_key(key);
    }
    if let Some(sas) = &sas {
        register_secret(sas);
        builder = builder.with_config(AzureConfigKey::SasKey, sas);
    }
    for key in [AzureConfigKey::ClientSecret, AzureConfigKey::Token] {
        if let Some(secret) = builder.get_config_value(&key) {
            register_secret(&secret);
        }
    }
    // Azure's SDKs and AKS's workload identity webhook write AZURE_AUTHORITY_HOST with a
    // trailing slash; object_store appends `/TENANT/oauth2/v2.0/token` to it as it is.
    if let Some(host) = builder.get_config_value(&AzureConfigKey::AuthorityHost) {
        builder = builder.with_authority_host(host.trim_end_matches('/'));
    }
    let oauth_first = entra_before_sas(&builder);
    let base = match &endpoint {
        Some(endpoint) => {
            builder = builder
                .with_endpoint(endpoint.clone())
                .with_allow_http(endpoint.starts_with("http://"));
            endpoint.trim_end_matches('/').to_owned()
        }
        None => format!("https://{account}.blob.core.windows.net"),
    };
    let store = Arc::new(
        builder
            .build()
            .map_err(|e| StorageError::setup(object, &e))?,
    );
    let signer = match sas {
        Some(sas) if key.is_none() && !oauth_first => Signing::UserSas {
            sas: sas.trim_start_matches('?').to_owned(),
            base: format!("{base}/{container}"),
            fallback: store.clone(),
        },
        _ => Signing::Store(store.clone()),
    };
    Ok(Bucket { store, signer })
}

/// Whether object_store's chain (its `resolve_credential_auto`) picks an Entra ID source (a
/// token, workload identity, a client secret) before a SAS: a SAS the user gave is appended
/// to URLs only when the chain uses it for requests too.
fn entra_before_sas(builder: &MicrosoftAzureBuilder) -> bool {
    let has = |key: AzureConfigKey| builder.get_config_value(&key).is_some();
    has(AzureConfigKey::Token)
        || (has(AzureConfigKey::ClientId)
            && has(AzureConfigKey::AuthorityId)
            && (has(AzureConfigKey::FederatedTokenFile) || has(AzureConfigKey::ClientSecret)))
}

fn gcs(
    settings: &StorageSettings,
    object: &ObjectUrl,
    bucket: &str,
) -> Result<Bucket, StorageError> {
    // object_store reads service_account and authorized_user files only; the
    // `external_account` file of workload identity federation is ours (`gcp_external`).
    let external = match adc_file() {
        Some(path)
            if var("GOOGLE_SERVICE_ACCOUNT").is_none()
                && var("GOOGLE_SERVICE_ACCOUNT_PATH").is_none()
                && var("GOOGLE_SERVICE_ACCOUNT_KEY").is_none() =>
        {
            gcp_external::read(&path).map_err(|source| StorageError::Credentials {
                object: object.to_string(),
                source: Box::new(source),
            })?
        }
        _ => None,
    };
    let mut builder = GoogleCloudStorageBuilder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry());
    if let Some(endpoint) = &settings.gcs.endpoint {
        builder = builder.with_config(GoogleConfigKey::BaseUrl, endpoint.trim_end_matches('/'));
        if endpoint.starts_with("http://") {
            builder = builder
                .with_client_options(object_store::ClientOptions::new().with_allow_http(true));
        }
    }
    if let Some(account) = external {
        let provider = Arc::new(gcp_external::ExternalAccountProvider::new(account));
        builder = builder
            .with_credentials(provider.clone())
            .with_signing_credentials(Arc::new(gcp_external::SigningProvider(provider)));
    }
    let store = Arc::new(
        builder
            .build()
            .map_err(|e| StorageError::setup(object, &e))?,
    );
    Ok(Bucket {
        store: store.clone(),
        signer: Signing::Store(store),
    })
}

/// The application default credentials file: `GOOGLE_APPLICATION_CREDENTIALS`, else
/// gcloud's, if there is one (the same two `object_store` reads).
fn adc_file() -> Option<String> {
    if let Some(path) = var("GOOGLE_APPLICATION_CREDENTIALS") {
        return Some(path);
    }
    let home = std::env::var_os("HOME")?;
    let path =
        std::path::Path::new(&home).join(".config/gcloud/application_default_credentials.json");
    path.is_file().then(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings() {
        let c = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net";
        assert_eq!(connection_field(c, "AccountName").as_deref(), Some("acct"));
        assert_eq!(connection_field(c, "accountkey").as_deref(), Some("a2V5"));
        assert_eq!(connection_field(c, "SharedAccessSignature"), None);
    }

    #[test]
    fn entra_sources_come_before_a_sas() {
        let sas = || MicrosoftAzureBuilder::new().with_config(AzureConfigKey::SasKey, "sv=x");
        assert!(!entra_before_sas(&sas()));
        let secret = sas()
            .with_config(AzureConfigKey::ClientId, "id")
            .with_config(AzureConfigKey::AuthorityId, "tenant")
            .with_config(AzureConfigKey::ClientSecret, "s");
        assert!(entra_before_sas(&secret));
        // Without a tenant, object_store skips the client secret and takes the SAS.
        let no_tenant = sas()
            .with_config(AzureConfigKey::ClientId, "id")
            .with_config(AzureConfigKey::ClientSecret, "s");
        assert!(!entra_before_sas(&no_tenant));
        let federated = sas()
            .with_config(AzureConfigKey::ClientId, "id")
            .with_config(AzureConfigKey::AuthorityId, "tenant")
            .with_config(AzureConfigKey::FederatedTokenFile, "/token");
        assert!(entra_before_sas(&federated));
        assert!(entra_before_sas(
            &sas().with_config(AzureConfigKey::Token, "t")
        ));
    }
}
