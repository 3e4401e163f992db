//! Why a cloud object could not be reached. Messages never hold a secret: the texts that
//! come from `object_store` are passed through `redact::scrub` (URL queries, bearer tokens,
//! registered keys).

use crate::redact::scrub;

/// A credential source that was found but cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("AWS profile [{profile}] uses `{setting}`, which maskflow does not support")]
    UnsupportedProfile { profile: String, setting: String },
    #[error(
        "AWS_PROFILE names [{profile}], and neither ~/.aws/credentials nor ~/.aws/config gives it credentials"
    )]
    ProfileWithoutCredentials { profile: String },
    #[error("the credential_process of AWS profile [{profile}] failed: {reason}")]
    Process { profile: String, reason: String },
    #[error("cannot read the web identity token file {path}: {reason}")]
    WebIdentityToken { path: String, reason: String },
    /// STS could not be reached, refused the token, or answered something else. `reason`
    /// never quotes the token.
    #[error(
        "cannot assume role {role_arn} with the web identity token in {token_file} (STS at {endpoint}): {reason}"
    )]
    Sts {
        role_arn: String,
        token_file: String,
        endpoint: String,
        reason: String,
    },
    #[error("cannot read the container authorization token file {path}: {reason}")]
    ContainerToken { path: String, reason: String },
    #[error("no credentials from the container endpoint {url}: {reason}")]
    Container { url: String, reason: String },
    #[error(
        "{path} is an `external_account` (workload identity federation) file, which maskflow cannot use yet"
    )]
    GcsExternalAccount { path: String },
}

impl CredentialError {
    pub fn hint(&self) -> String {
        match self {
            CredentialError::UnsupportedProfile { profile, .. } => format!(
                "export the profile's credentials first: eval \"$(aws configure export-credentials --profile {profile} --format env)\""
            ),
            CredentialError::ProfileWithoutCredentials { .. } => {
                "check AWS_PROFILE, or give the profile aws_access_key_id and aws_secret_access_key, or credential_process".to_owned()
            }
            CredentialError::Process { .. } => {
                "run the command yourself: it must print {\"Version\": 1, \"AccessKeyId\": ..., \"SecretAccessKey\": ...}".to_owned()
            }
            CredentialError::WebIdentityToken { .. } => {
                "check AWS_WEB_IDENTITY_TOKEN_FILE (or the profile's web_identity_token_file): on EKS the pod's service account needs the eks.amazonaws.com/role-arn annotation; on GitHub Actions the job needs `permissions: id-token: write` and a step that writes the token (aws-actions/configure-aws-credentials)".to_owned()
            }
            CredentialError::Sts { .. } => {
                "check the role's trust policy (the token's issuer, audience `sts.amazonaws.com` and subject), that the token has not expired, and the STS endpoint (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else the region's)".to_owned()
            }
            CredentialError::ContainerToken { .. } | CredentialError::Container { .. } => {
                "check AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (or AWS_CONTAINER_AUTHORIZATION_TOKEN): the ECS or EKS Pod Identity agent sets them, and on EKS the pod's service account needs a pod identity association".to_owned()
            }
            CredentialError::GcsExternalAccount { .. } => {
                "use a service-account key, or `gcloud auth application-default login`, or run where the metadata server answers".to_owned()
            }
        }
    }
}

/// What kind of refusal an object store answered with, for the hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    Denied,
    Other,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    /// The store could not be set up: a bad endpoint, unusable credentials.
    #[error("{object}: {reason}")]
    Setup {
        object: String,
        reason: String,
        hint: Option<String>,
    },
    /// Boxed: the credential errors carry several names, and every error that can hold a
    /// `StorageError` (staging's, the engines') stays small.
    #[error("{object}: {source}")]
    Credentials {
        object: String,
        source: Box<CredentialError>,
    },
    /// The store was asked and refused, or could not be reached.
    #[error("cannot {operation} {object}: {reason}")]
    Request {
        operation: &'static str,
        object: String,
        reason: String,
        refusal: Refusal,
    },
}

impl StorageError {
    pub(crate) fn request(
        operation: &'static str,
        object: &impl std::fmt::Display,
        error: &object_store::Error,
    ) -> Self {
        // A credential source of ours failed (`refresh::Refreshing` hands its error to
        // object_store as the source of a `Generic` one): told as such, with its hint.
        if let object_store::Error::Generic { source, .. } = error
            && let Some(source) = source.downcast_ref::<CredentialError>()
        {
            return StorageError::Credentials {
                object: object.to_string(),
                source: Box::new(source.clone()),
            };
        }
        let refusal = match error {
            object_store::Error::NotFound { .. } => Refusal::NotFound,
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => Refusal::Denied,
            _ => Refusal::Other,
        };
        StorageError::Request {
            operation,
            object: object.to_string(),
            reason: describe(error),
            refusal,
        }
    }

    pub(crate) fn setup(object: &impl std::fmt::Display, error: &object_store::Error) -> Self {
        StorageError::Setup {
            object: object.to_string(),
            reason: describe(error),
            hint: Some(
                "check `storage:` in the manifest and the cloud's credentials (README, Cloud storage)"
                    .to_owned(),
            ),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            StorageError::Request {
                refusal: Refusal::NotFound,
                ..
            }
        )
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            StorageError::Setup { hint, .. } => hint.clone(),
            StorageError::Credentials { source, .. } => Some(source.hint()),
            StorageError::Request { refusal, .. } => Some(
                match refusal {
                    Refusal::NotFound => "check the URL: nothing is there",
                    Refusal::Denied => {
                        "the store refused the credentials: check which ones were found (README, Cloud storage, lists the order), their rights on the bucket, the region and the clock"
                    }
                    Refusal::Other => {
                        "check the storage endpoint, the network and the credentials (README, Cloud storage)"
                    }
                }
                .to_owned(),
            ),
        }
    }

    /// The message with its hint, for a report line.
    pub fn described(&self) -> String {
        crate::with_hint(self, self.hint())
    }
}

/// An `object_store` error as one line, its causes included, secrets removed.
fn describe(error: &object_store::Error) -> String {
    let text = scrub(&crate::http::chain(error));
    if text.chars().count() > 600 {
        format!("{}…", text.chars().take(600).collect::<String>())
    } else {
        text
    }
}
