//! The Lambda runtimes weir runs deployment packages for, and how each one starts.
//!
//! weir has no runtime of its own: a package runs under the official runtime interface client of
//! its language, started in the unpacked package directory, which then speaks the Runtime API
//! exactly as it does on Lambda. So every runtime here is only a command line, and a missing
//! client is the operator's to install — CreateFunction says how, and a sandbox that cannot
//! start answers its invocation with the same advice.

use crate::sandbox::Launch;
use crate::service::FunctionsConfig;
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A runtime family whose deployment packages weir runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PackageRuntime {
    /// `python3.*`: `<python> -m awslambdaric <Handler>`.
    Python,
    /// `nodejs*`: `<node runtime client> <Handler>` (npm's `aws-lambda-ric`).
    Node,
    /// `provided*`: the package's own `bootstrap`.
    Provided,
}

impl PackageRuntime {
    /// The family of a `Runtime` value; None for the runtimes weir cannot run.
    pub fn of(runtime: &str) -> Option<Self> {
        if runtime.starts_with("python3") {
            Some(Self::Python)
        } else if runtime.starts_with("nodejs") {
            Some(Self::Node)
        } else if runtime.starts_with("provided") {
            Some(Self::Provided)
        } else {
            None
        }
    }

    /// The process that runs a package unpacked in `dir`.
    pub fn launch(
        self,
        dir: &Path,
        handler: &str,
        settings: &FunctionsConfig,
    ) -> Result<Launch, String> {
        let (program, args) = match self {
            Self::Python => (
                settings.python.clone(),
                vec!["-m".into(), "awslambdaric".into(), handler.to_string()],
            ),
            Self::Node => {
                // Spawning a missing program only says "No such file or directory"; say what
                // to install instead.
                if find_program(&settings.node_ric).is_none() {
                    return Err(node_ric_missing(&settings.node_ric));
                }
                (settings.node_ric.clone(), vec![handler.to_string()])
            }
            Self::Provided => (dir.join("bootstrap").to_string_lossy().into_owned(), vec![]),
        };
        Ok(Launch {
            program,
            args,
            working_dir: Some(dir.to_path_buf()),
        })
    }

    /// Fails with a clear message when the runtime's client is not installed.
    pub async fn check_client(self, settings: &FunctionsConfig) -> Result<()> {
        match self {
            Self::Python => check_python(&settings.python).await,
            Self::Node => match find_program(&settings.node_ric) {
                Some(_) => Ok(()),
                None => Err(Error::Invalid(node_ric_missing(&settings.node_ric))),
            },
            Self::Provided => Ok(()),
        }
    }
}

fn node_ric_missing(ric: &str) -> String {
    format!(
        "nodejs* functions run under the AWS Lambda runtime interface client for Node.js, but weir cannot find {ric}: install it with `npm install -g aws-lambda-ric@3` (it builds native code: it needs cmake, autoconf, automake, libtool, make and g++; version 3 supports Node.js 16 to 20, version 4 needs Node.js 22) or point weir at it with --node-ric"
    )
}

async fn check_python(python: &str) -> Result<()> {
    let probe = tokio::process::Command::new(python)
        .args(["-c", "import awslambdaric"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match tokio::time::timeout(Duration::from_secs(20), probe).await {
        Ok(Ok(s)) if s.success() => Ok(()),
        Ok(Ok(_)) => Err(Error::Invalid(format!(
            "python3.* functions run under the AWS Lambda runtime interface client, which {python} cannot import: install it with `{python} -m pip install awslambdaric` (or point weir at another interpreter with --python)"
        ))),
        Ok(Err(e)) => Err(Error::Invalid(format!(
            "python3.* functions need a Python interpreter, but {python} cannot be started: {e}"
        ))),
        Err(_) => Err(Error::Internal(format!("{python} did not answer within 20 s"))),
    }
}

/// Where `program` is: itself when it names a path, otherwise the first executable of that name
/// on PATH — the file `Command::spawn` would run.
fn find_program(program: &str) -> Option<PathBuf> {
    let is_executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let path = PathBuf::from(program);
        return is_executable(&path).then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_are_told_apart_by_their_family() {
        assert_eq!(
            PackageRuntime::of("python3.12"),
            Some(PackageRuntime::Python)
        );
        assert_eq!(PackageRuntime::of("nodejs20.x"), Some(PackageRuntime::Node));
        assert_eq!(PackageRuntime::of("nodejs24.x"), Some(PackageRuntime::Node));
        assert_eq!(
            PackageRuntime::of("provided.al2023"),
            Some(PackageRuntime::Provided)
        );
        assert_eq!(PackageRuntime::of("java21"), None);
        assert_eq!(PackageRuntime::of("python2.7"), None);
        assert_eq!(PackageRuntime::of("go1.x"), None);
    }

    fn settings(node_ric: &str) -> FunctionsConfig {
        FunctionsConfig {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            code_dir: PathBuf::from("/nonexistent"),
            python: "python3".into(),
            node_ric: node_ric.into(),
            endpoint: None,
        }
    }

    #[test]
    fn a_node_package_starts_the_runtime_client_with_its_handler() {
        let dir = Path::new("/srv/functions/f/abc");
        let launch = PackageRuntime::Node
            .launch(dir, "index.handler", &settings("/bin/sh"))
            .unwrap();
        assert_eq!(launch.program, "/bin/sh");
        assert_eq!(launch.args, ["index.handler"]);
        assert_eq!(launch.working_dir.as_deref(), Some(dir));
    }

    #[test]
    fn a_sandbox_without_the_node_client_says_how_to_install_it() {
        let err = PackageRuntime::Node
            .launch(
                Path::new("/srv"),
                "index.handler",
                &settings("weir-no-such-ric"),
            )
            .unwrap_err();
        assert!(err.contains("cannot find weir-no-such-ric"), "{err}");
        assert!(err.contains("npm install -g aws-lambda-ric@3"), "{err}");
    }

    #[test]
    fn programs_are_found_by_path_or_on_path() {
        assert!(find_program("sh").is_some());
        assert!(find_program("/bin/sh").is_some());
        assert!(find_program("weir-no-such-program").is_none());
        assert!(find_program("/nonexistent/aws-lambda-ric").is_none());
        // A directory is not a program.
        assert!(find_program("/tmp").is_none());
    }
}
