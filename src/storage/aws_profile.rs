//! Named profiles of `~/.aws/credentials` and `~/.aws/config`, which `object_store`'s
//! credential chain does not read. A profile gives static keys, a `credential_process`, or a
//! `role_arn` with a `web_identity_token_file` (exchanged with STS by `web_identity`). SSO
//! and role chaining (`source_profile`, `credential_source`) are refused with a hint rather
//! than silently skipped.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use object_store::aws::AwsCredential;

use super::CredentialError;
use super::refresh::{Fetch, Fetched};
use crate::redact::register_secret;

/// What the selected profile says to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Profile {
    Keys {
        key_id: String,
        secret_key: String,
        token: Option<String>,
    },
    Process {
        profile: String,
        command: String,
    },
    WebIdentity {
        role_arn: String,
        token_file: String,
        session_name: Option<String>,
    },
}

/// The profile `AWS_PROFILE` names (else `default`), if the files define it. `Ok(None)`: no
/// `default` profile, so the rest of the chain is tried.
pub fn resolve() -> Result<Option<Profile>, CredentialError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let explicit = var("AWS_PROFILE");
    let name = explicit.clone().unwrap_or_else(|| "default".to_owned());
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let file = |variable: &str, default: &str| {
        var(variable)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(default)))
            .and_then(|path| std::fs::read_to_string(path).ok())
            .unwrap_or_default()
    };
    let credentials = file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    let config = file("AWS_CONFIG_FILE", ".aws/config");
    let config_section = if name == "default" {
        "default".to_owned()
    } else {
        format!("profile {name}")
    };
    // The credentials file wins over the config file, key by key, as in the AWS CLI.
    let mut pairs = ini_section(&credentials, &name);
    let from_config = ini_section(&config, &config_section);
    let found = pairs.is_some() || from_config.is_some();
    for (key, value) in from_config.unwrap_or_default() {
        if !pairs.iter().flatten().any(|(k, _)| *k == key) {
            pairs.get_or_insert_with(Vec::new).push((key, value));
        }
    }
    let pairs = pairs.unwrap_or_default();
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    if let (Some(key_id), Some(secret_key)) =
        (get("aws_access_key_id"), get("aws_secret_access_key"))
    {
        register_secret(&secret_key);
        let token = get("aws_session_token");
        if let Some(token) = &token {
            register_secret(token);
        }
        return Ok(Some(Profile::Keys {
            key_id,
            secret_key,
            token,
        }));
    }
    if let Some(command) = get("credential_process") {
        return Ok(Some(Profile::Process {
            profile: name,
            command,
        }));
    }
    if let (Some(role_arn), Some(token_file)) = (get("role_arn"), get("web_identity_token_file")) {
        return Ok(Some(Profile::WebIdentity {
            role_arn,
            token_file,
            session_name: get("role_session_name"),
        }));
    }
    let unsupported = [
        "sso_session",
        "sso_start_url",
        "source_profile",
        "credential_source",
    ]
    .into_iter()
    .find(|key| get(key).is_some());
    if let Some(key) = unsupported {
        return Err(CredentialError::UnsupportedProfile {
            profile: name,
            setting: key.to_owned(),
        });
    }
    match (found, explicit) {
        (_, Some(profile)) => Err(CredentialError::ProfileWithoutCredentials { profile }),
        _ => Ok(None),
    }
}

/// The `key = value` pairs of `[name]` in an INI file, or `None` without such a section.
fn ini_section(text: &str, name: &str) -> Option<Vec<(String, String)>> {
    let mut inside = false;
    let mut out: Option<Vec<(String, String)>> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with(['#', ';']) {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            inside = line[1..line.len() - 1].trim() == name;
            if inside {
                out.get_or_insert_with(Vec::new);
            }
        } else if inside && let Some((k, v)) = line.split_once('=') {
            out.get_or_insert_with(Vec::new)
                .push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    out
}

/// Credentials printed by a profile's `credential_process` (the AWS CLI's JSON, version 1),
/// run again when they are about to expire (`refresh::Refreshing` keeps them).
#[derive(Debug)]
pub struct CredentialProcess {
    pub profile: String,
    pub command: String,
}

impl Fetch for CredentialProcess {
    fn fetch(&self) -> Result<Fetched, CredentialError> {
        let (credential, expires) = self.run()?;
        Ok(Fetched {
            credential,
            expires,
        })
    }
}

impl CredentialProcess {
    fn run(&self) -> Result<(AwsCredential, Option<SystemTime>), CredentialError> {
        let failed = |reason: String| CredentialError::Process {
            profile: self.profile.clone(),
            reason,
        };
        let output = shell(&self.command)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| failed(format!("cannot run it: {e}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let excerpt: String = stderr.trim().chars().take(200).collect();
            return Err(failed(format!(
                "it exited with {}: {excerpt}",
                output.status
            )));
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Printed {
            version: u32,
            access_key_id: String,
            secret_access_key: String,
            session_token: Option<String>,
            expiration: Option<String>,
        }
        let printed: Printed = serde_json::from_slice(&output.stdout)
            .map_err(|e| failed(format!("its output is not the credential JSON: {e}")))?;
        if printed.version != 1 {
            return Err(failed(format!(
                "it printed Version {}, and only 1 exists",
                printed.version
            )));
        }
        let expires = match printed.expiration {
            Some(text) => {
                let at = text
                    .parse::<jiff::Timestamp>()
                    .map_err(|e| failed(format!("its Expiration `{text}` is not a time: {e}")))?;
                Some(SystemTime::UNIX_EPOCH + Duration::from_secs(at.as_second().max(0) as u64))
            }
            None => None,
        };
        Ok((
            AwsCredential {
                key_id: printed.access_key_id,
                secret_key: printed.secret_access_key,
                token: printed.session_token,
            },
            expires,
        ))
    }
}

/// The command line as the AWS CLI runs it: through the shell.
fn shell(command: &str) -> std::process::Command {
    if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", command]);
        c
    } else {
        let mut c = std::process::Command::new("sh");
        c.args(["-c", command]);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections() {
        let text = "# comment\n[default]\naws_access_key_id = A\n[profile work]\nAWS_ACCESS_KEY_ID=B\naws_secret_access_key = S\n[empty]\n";
        assert_eq!(
            ini_section(text, "default"),
            Some(vec![("aws_access_key_id".into(), "A".into())])
        );
        assert_eq!(ini_section(text, "profile work").map(|s| s.len()), Some(2));
        assert_eq!(ini_section(text, "empty"), Some(vec![]));
        assert_eq!(ini_section(text, "none"), None);
    }
}
