//! `Test`: one way to start the real binary, in the spirit of `just`'s test builder.
//!
//! The child's environment is CLEARED: nothing from the developer's shell or the CI runner
//! (`AWS_*`, `AZURE_*`, `GOOGLE_*`, `PHOTOSHOP_*`, `GITHUB_*`, `MASKFLOW_*`, `RUNNER_*`, a
//! proxy...) reaches it. Only `PATH` and the few variables a process needs to start and make
//! temporary files are kept, and `HOME` is an empty folder so that no `~/.aws/credentials`
//! is read. A test adds back exactly what it means to test with `env`, `envs` or
//! `github_actions`.
//!
//! ```ignore
//! Test::new()
//!     .photos(&["chelsea.png"])
//!     .manifest(EVERY_PNG)
//!     .args(["plan", "--detailed-exitcode"])
//!     .status(2)
//!     .stdout_contains("+ masks/chelsea.png")
//!     .run();
//! ```

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Variables kept from the parent: what a process needs to start (`PATH`, Windows'
/// `SYSTEMROOT`), where temporary files go, and what helps debug a failing test.
const KEPT: &[&str] = &[
    "PATH",
    "SYSTEMROOT",
    "TMPDIR",
    "TEMP",
    "TMP",
    "RUST_BACKTRACE",
    "LLVM_PROFILE_FILE",
];

/// An empty folder for `HOME` (and Windows' `USERPROFILE`), shared by every run.
fn empty_home() -> PathBuf {
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("maskflow-test-home");
    std::fs::create_dir_all(&home).expect("create the test HOME");
    home
}

/// Where a run happens: a scratch folder the builder owns, or a folder the test owns.
enum Folder {
    Scratch(tempfile::TempDir),
    Borrowed(PathBuf),
    /// No working folder of its own (the emulator): the parent's.
    None,
}

#[must_use]
pub struct Test {
    folder: Folder,
    args: Vec<OsString>,
    env: BTreeMap<OsString, OsString>,
    status: Option<i32>,
    stdout_contains: Vec<String>,
    stderr_contains: Vec<String>,
    stderr_lacks: Vec<String>,
}

/// A finished run: its output, and the scratch folder (kept alive for the test to inspect).
pub struct Ran {
    pub output: Output,
    pub scratch: Option<tempfile::TempDir>,
}

impl Ran {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The scratch folder the run happened in.
    pub fn root(&self) -> &Path {
        self.scratch.as_ref().expect("a scratch run").path()
    }
}

impl Test {
    /// A run in a fresh, empty scratch folder.
    pub fn new() -> Self {
        Self::with(Folder::Scratch(tempfile::tempdir().unwrap()))
    }

    /// A run in `dir`, which the test owns.
    pub fn in_dir(dir: &Path) -> Self {
        Self::with(Folder::Borrowed(dir.to_owned()))
    }

    /// A run with no folder of its own, for servers such as the emulator.
    pub fn anywhere() -> Self {
        Self::with(Folder::None)
    }

    fn with(folder: Folder) -> Self {
        Self {
            folder,
            args: Vec::new(),
            env: BTreeMap::new(),
            status: None,
            stdout_contains: Vec::new(),
            stderr_contains: Vec::new(),
            stderr_lacks: Vec::new(),
        }
    }

    fn dir(&self) -> Option<&Path> {
        match &self.folder {
            Folder::Scratch(dir) => Some(dir.path()),
            Folder::Borrowed(dir) => Some(dir),
            Folder::None => None,
        }
    }

    /// The folder the run happens in.
    pub fn root(&self) -> &Path {
        self.dir().expect("a run with a folder")
    }

    /// Copies the named example photographs into `photos/`.
    pub fn photos(self, names: &[&str]) -> Self {
        let photos = self.root().join("photos");
        std::fs::create_dir_all(&photos).unwrap();
        for name in names {
            std::fs::copy(
                super::repo().join("examples/photos").join(name),
                photos.join(name),
            )
            .unwrap();
        }
        self
    }

    /// Writes `maskflow.yaml`.
    pub fn manifest(self, text: &str) -> Self {
        self.file("maskflow.yaml", text)
    }

    /// Writes `path` (relative to the folder), creating its parent folders.
    pub fn file(self, path: &str, contents: impl AsRef<[u8]>) -> Self {
        let path = self.root().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, contents).unwrap();
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Adds one variable to the otherwise cleared environment.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .insert(key.as_ref().to_owned(), value.as_ref().to_owned());
        self
    }

    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (key, value) in vars {
            self = self.env(key, value);
        }
        self
    }

    /// Runs as a GitHub Actions step: `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` are the
    /// files `github-output` and `github-summary.md` in `files` (see `github_files`).
    pub fn github_actions(self, files: &Path) -> Self {
        self.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", files.join("github-output"))
            .env("GITHUB_STEP_SUMMARY", files.join("github-summary.md"))
    }

    /// The exit code the run must end with (0 unless told).
    pub fn status(mut self, code: i32) -> Self {
        self.status = Some(code);
        self
    }

    pub fn stdout_contains(mut self, text: impl Into<String>) -> Self {
        self.stdout_contains.push(text.into());
        self
    }

    pub fn stderr_contains(mut self, text: impl Into<String>) -> Self {
        self.stderr_contains.push(text.into());
        self
    }

    pub fn stderr_lacks(mut self, text: impl Into<String>) -> Self {
        self.stderr_lacks.push(text.into());
        self
    }

    /// The command, for a test that spawns it itself (to read events as they come).
    pub fn command(&self) -> Command {
        let mut command = Command::new(super::BIN);
        command.args(&self.args).env_clear();
        for key in KEPT {
            if let Some(value) = std::env::var_os(key) {
                command.env(key, value);
            }
        }
        let home = empty_home();
        command.env("HOME", &home).env("USERPROFILE", &home);
        command.envs(&self.env);
        if let Some(dir) = self.dir() {
            command.current_dir(dir);
        }
        command.stdin(Stdio::null());
        command
    }

    /// Runs to the end without checking anything.
    pub fn output(&self) -> Output {
        self.command().output().unwrap()
    }

    /// Runs to the end and checks the exit code and the expected text.
    #[track_caller]
    pub fn run(self) -> Ran {
        let output = self.output();
        let ran_stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let ran_stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let shown = || {
            format!(
                "args: {:?}\nstdout:\n{ran_stdout}\nstderr:\n{ran_stderr}",
                self.args
            )
        };
        let expected = self.status.unwrap_or(0);
        assert_eq!(
            output.status.code(),
            Some(expected),
            "exit code\n{}",
            shown()
        );
        for text in &self.stdout_contains {
            assert!(
                ran_stdout.contains(text),
                "stdout lacks {text:?}\n{}",
                shown()
            );
        }
        for text in &self.stderr_contains {
            assert!(
                ran_stderr.contains(text),
                "stderr lacks {text:?}\n{}",
                shown()
            );
        }
        for text in &self.stderr_lacks {
            assert!(
                !ran_stderr.contains(text),
                "stderr has {text:?}\n{}",
                shown()
            );
        }
        let scratch = match self.folder {
            Folder::Scratch(dir) => Some(dir),
            _ => None,
        };
        Ran { output, scratch }
    }
}

/// What a GitHub Actions run wrote to `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY` in `files`
/// (empty when it wrote nothing).
pub fn github_files(files: &Path) -> (String, String) {
    let read = |name: &str| std::fs::read_to_string(files.join(name)).unwrap_or_default();
    (read("github-output"), read("github-summary.md"))
}
