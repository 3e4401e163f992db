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
    /// A GCS credential file that cannot be read or is not a valid `external_account`.
    #[error("the GCS credential file {path} cannot be used: {reason}")]
    GcsFile { path: String, reason: String },
    #[error(
        "the GCS credential file {path} takes its subject token from `{kind}`, which maskflow does not support"
    )]
    GcsUnsupportedSource { path: String, kind: String },
    /// A step of workload identity federation failed (the reason never holds a token).
    #[error("workload identity federation ({path}) failed at {step}: {reason}")]
    GcsExchange {
        path: String,
        step: GcsStep,
        reason: String,
    },
    #[error(
        "cannot sign GCS URLs: {path} names no service account to sign as (no `service_account_impersonation_url`)"
    )]
    GcsNoServiceAccount { path: String },
}

/// The steps of workload identity federation, each with its own way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcsStep {
    /// Reading the identity provider's token (a file, or a URL such as GitHub's).
    SubjectToken,
    /// STS's token exchange.
    Exchange,
    /// IAM Credentials `generateAccessToken` for the service account.
    Impersonation,
    /// IAM Credentials `signBlob`, for a signed URL.
    SignBlob,
}

impl std::fmt::Display for GcsStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GcsStep::SubjectToken => "reading the subject token",
            GcsStep::Exchange => "the STS token exchange",
            GcsStep::Impersonation => "impersonating the service account",
            GcsStep::SignBlob => "signBlob",
        })
    }
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
            CredentialError::GcsFile { .. } => {
                "write it again with google-github-actions/auth or `gcloud iam workload-identity-pools create-cred-config`, or point GOOGLE_APPLICATION_CREDENTIALS at another file".to_owned()
            }
            CredentialError::GcsUnsupportedSource { .. } => {
                "use a credential file whose `credential_source` is a `file` or a `url` (google-github-actions/auth writes one), or a service-account key".to_owned()
            }
            CredentialError::GcsExchange { step, .. } => match step {
                GcsStep::SubjectToken => {
                    "on GitHub Actions the job needs `permissions: id-token: write`; elsewhere check the file's `credential_source`".to_owned()
                }
                GcsStep::Exchange => {
                    "check the workload identity pool provider: the file's `audience`, the provider's issuer and attribute condition".to_owned()
                }
                GcsStep::Impersonation => {
                    "grant the federated identity roles/iam.workloadIdentityUser on the service account".to_owned()
                }
                GcsStep::SignBlob => {
                    "grant the service account roles/iam.serviceAccountTokenCreator on itself (iam.serviceAccounts.signBlob), so it can sign URLs".to_owned()
                }
            },
            CredentialError::GcsNoServiceAccount { .. } => {
                "give google-github-actions/auth a `service_account` (it must hold roles/iam.serviceAccountTokenCreator on itself), or use a service-account key".to_owned()
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
    /// Boxed: the credential errors carry several names, and every error that can hold a
    /// `StorageError` (staging's, the engines') stays small.
    #[error("{object}: {source}")]
    Credentials {
        object: String,
        source: Box<CredentialError>,
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
        // A credential provider of ours failed inside object_store: keep its type and hint.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(e) = cause {
            if let Some(source) = e.downcast_ref::<CredentialError>() {
                return StorageError::Credentials {
                    object: object.to_string(),
                    source: Box::new(source.clone()),
                };
            }
            cause = e.source();
        }
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
