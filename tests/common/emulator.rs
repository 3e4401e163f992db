//! `maskflow emulate` as a child process, for end-to-end tests of the photoshop engine.

use std::io::BufRead;
use std::process::{Child, Stdio};

use serde_json::Value;

pub struct Emulator {
    child: Child,
    pub base_url: String,
    pub client_id: String,
    pub client_secret: String,
}

impl Emulator {
    /// Starts the emulator on a free port with `args` and waits until it listens.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    /// With environment variables, e.g. `SSL_CERT_FILE` to fetch from https stand-ins.
    pub fn start_with_env(args: &[&str], env: &[(&str, &std::path::Path)]) -> Self {
        let mut child = super::Test::anywhere()
            .args(["emulate", "--format", "json", "--port", "0"])
            .args(args)
            .envs(env.iter().copied())
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines
            .next()
            .expect("the emulator prints where it listens")
            .unwrap();
        let ready: Value = serde_json::from_str(&first).unwrap();
        assert_eq!(ready["event"], "emulator_listening", "{first}");
        // Keep draining so that the emulator never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let text = |k: &str| ready[k].as_str().unwrap().to_owned();
        Self {
            base_url: text("base_url"),
            client_id: text("client_id"),
            client_secret: text("client_secret"),
            child,
        }
    }

    /// The emulator's counters (`/_emulator/stats`).
    pub fn stats(&self) -> Value {
        let url = format!("{}/_emulator/stats", self.base_url);
        let client = maskflow::http::Client::new(std::time::Duration::from_secs(30));
        let body = client
            .send(maskflow::http::Request::get(&url))
            .unwrap()
            .bytes(1 << 20)
            .unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    /// The environment the photoshop engine reads its credentials from.
    pub fn credentials(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PHOTOSHOP_CLIENT_ID", self.client_id.clone()),
            ("PHOTOSHOP_CLIENT_SECRET", self.client_secret.clone()),
        ]
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
