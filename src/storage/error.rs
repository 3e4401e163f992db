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
    /// The server's TLS certificate did not verify (a private CA not trusted, say).
    Untrusted,
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
    #[error("{object}: {source}")]
    Credentials {
        object: String,
        source: CredentialError,
    },
    /// `SSL_CERT_FILE` is set but unusable, so no https answer could be verified.
    #[error("{object}: {source}")]
    CaFile {
        object: String,
        source: crate::http::CaFileError,
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
        let reason = describe(error);
        let refusal = match error {
            object_store::Error::NotFound { .. } => Refusal::NotFound,
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => Refusal::Denied,
            // rustls's words, deep in a `Generic` error's chain whose types we cannot name
            // (a store's request, or its credential source's token request).
            _ if reason.contains("invalid peer certificate") => Refusal::Untrusted,
            _ => Refusal::Other,
        };
        StorageError::Request {
            operation,
            object: object.to_string(),
            reason,
            refusal,
        }
    }

    pub(crate) fn setup(object: &impl std::fmt::Display, error: &object_store::Error) -> Self {
        let reason = describe(error);
        // The platform verifier's words when the system has no CA certificates at all.
        let hint = if reason.contains("No CA certificates were loaded") {
            "install the system's CA certificates (the ca-certificates package) or point SSL_CERT_FILE at a PEM bundle"
        } else {
            "check `storage:` in the manifest and the cloud's credentials (README, Cloud storage)"
        };
        StorageError::Setup {
            object: object.to_string(),
            reason,
            hint: Some(hint.to_owned()),
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
            StorageError::CaFile { source, .. } => Some(source.hint().to_owned()),
            StorageError::Request { refusal, .. } => Some(
                match refusal {
                    Refusal::NotFound => "check the URL: nothing is there",
                    Refusal::Denied => {
                        "the store refused the credentials: check which ones were found (README, Cloud storage, lists the order), their rights on the bucket, the region and the clock"
                    }
                    Refusal::Untrusted => {
                        "the server's certificate is not trusted: if a private CA issued it, add the CA to the system's store or point SSL_CERT_FILE at a PEM bundle that holds it (README, Cloud storage)"
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
