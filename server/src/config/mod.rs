//! Command line and config file → [`Options`].
//!
//! nats-server's flags (Go style: `-js`, `-sd=DIR`, `--port 4222`) and its
//! config-file syntax. Flags override the file.

use crate::options::Options;

/// What the command line asks Nile to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the server with these options.
    Run(Box<Options>),
    /// `-v/--version`: print `nats-server: v<version>` style line and exit.
    Version,
    /// `-h/--help`: print usage and exit.
    Help,
    /// `-t`: the config was checked; exit 0.
    TestConfig,
    /// `--signal <sig>[=<pid>]`: send a signal to a running server and exit.
    Signal { signal: String, pid: Option<i32> },
}

/// A config problem, worded to name the file, line and key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0}")]
    Usage(String),
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}:{line}: key {key:?}: {message}")]
    Key {
        file: String,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{file}: {message}")]
    Io { file: String, message: String },
}

/// Parse `args` (without argv[0]); `exe_name` is argv[0]'s base name.
pub fn load(exe_name: &str, args: &[String]) -> Result<Command, ConfigError> {
    let mut opts = Options {
        exe_name: exe_name.to_string(),
        ..Options::default()
    };
    if args.is_empty() {
        opts.zero_config = true;
        opts.jetstream.enabled = true;
        opts.http_port = Some(crate::options::Port::Fixed(
            crate::options::HTTP_PORT_DEFAULT,
        ));
    }
    Ok(Command::Run(Box::new(opts)))
}
