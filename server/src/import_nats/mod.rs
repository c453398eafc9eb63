//! `nile import-nats <nats store dir> [-sd <nile store dir>] [--account <name>]...`:
//! an offline copy of a nats-server (2.10+, file storage, unencrypted)
//! JetStream store into a Nile store, with the same sequences,
//! timestamps, subjects, headers, payloads, stream configs and durable
//! consumer positions.
//!
//! Everything is read and checked first (every record checksum, every
//! config through Nile's own rules); then each stream is written with the
//! server's own store, config and consumer code, fsynced, config last. A
//! stream that already exists in the Nile store is refused, never merged.
//!
//! - [`blocks`]: message block records and checksums.
//! - [`s2`]: the S2 stream format of compressed blocks.
//! - [`index_db`]: the stream state snapshot's totals.
//! - [`consumer_state`]: the consumer state file, `o.dat`.
//! - [`source`]: one stream directory read and checked.
//! - [`writer`]: one stream written into Nile.

mod blocks;
mod consumer_state;
mod index_db;
mod s2;
mod source;
mod varint;
mod writer;

use std::path::{Path, PathBuf};

use source::SourceStream;

/// Why an import stops. Nothing is written unless every stream reads clean.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: encrypted store (meta.key): decrypt it with nats-server first (it cannot be imported)")]
    Encrypted(PathBuf),
    #[error("{path}: corrupt record at byte {offset}: {reason} (nothing imported)")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{0}: bad config: {1}")]
    Meta(PathBuf, String),
    #[error("{0} already exists in the Nile store: not overwritten (nothing imported)")]
    Exists(PathBuf),
    #[error(
        "{0}: no nats-server JetStream store here (expected <dir>/jetstream/<account>/streams)"
    )]
    NoStore(PathBuf),
    #[error("{0}: {1}")]
    Store(PathBuf, String),
    #[error("{0}")]
    Usage(String),
}

impl ImportError {
    fn io(path: &Path, e: std::io::Error) -> Self {
        ImportError::Io(path.to_path_buf(), e)
    }

    fn meta(path: &Path, why: String) -> Self {
        ImportError::Meta(path.to_path_buf(), why)
    }
}

/// The command line of `import-nats`.
#[derive(Debug)]
pub struct Args {
    pub source: PathBuf,
    pub store_dir: PathBuf,
    /// Only these accounts (all when empty).
    pub accounts: Vec<String>,
}

pub const USAGE: &str =
    "usage: nile import-nats <nats-server store dir> [-sd <nile store dir>] [--account <name>]...";

impl Args {
    pub fn parse(args: &[String]) -> Result<Args, ImportError> {
        let mut source = None;
        let mut store_dir = PathBuf::from(crate::options::STORE_DIR_DEFAULT);
        let mut accounts = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |flag: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| ImportError::Usage(format!("{flag} needs a value\n{USAGE}")))
            };
            match a.as_str() {
                "-sd" | "--sd" | "--store_dir" | "-store_dir" => {
                    store_dir = PathBuf::from(value(a)?)
                }
                "--account" | "-account" => accounts.push(value(a)?),
                "-h" | "--help" => return Err(ImportError::Usage(USAGE.into())),
                s if s.starts_with('-') => {
                    return Err(ImportError::Usage(format!("unknown flag {s}\n{USAGE}")))
                }
                s if source.is_none() => source = Some(PathBuf::from(s)),
                s => return Err(ImportError::Usage(format!("unexpected {s}\n{USAGE}"))),
            }
        }
        let source = source.ok_or_else(|| ImportError::Usage(USAGE.into()))?;
        Ok(Args {
            source,
            store_dir,
            accounts,
        })
    }
}

/// `nile import-nats ...`: the process exit code.
pub fn main(args: &[String]) -> i32 {
    let args = match Args::parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("nile import-nats: {e}");
            return 2;
        }
    };
    match import(&args) {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            0
        }
        Err(e) => {
            eprintln!("nile import-nats: {e}");
            1
        }
    }
}

/// Read every stream, then write them; the report, one line per stream and note.
pub fn import(args: &Args) -> Result<Vec<String>, ImportError> {
    let streams = read_all(args)?;
    for s in &streams {
        let dir = writer::target_dir(&args.store_dir, s);
        if dir.exists() {
            return Err(ImportError::Exists(dir));
        }
    }
    let mut report = Vec::new();
    for s in &streams {
        let st = writer::write(&args.store_dir, s)?;
        report.push(format!(
            "imported stream {:?} (account {}): {} messages, {} bytes, first {} last {}, {} deleted, {} consumers",
            s.config.name,
            s.account,
            st.msgs,
            st.bytes,
            st.first_seq,
            st.last_seq,
            st.num_deleted,
            s.consumers.len()
        ));
        if !s.dropped.is_empty() {
            report.push(format!("  config not kept: {}", s.dropped.join(", ")));
        }
        for c in s.consumers.iter().filter(|c| !c.dropped.is_empty()) {
            report.push(format!(
                "  consumer {:?} config not kept: {}",
                c.name,
                c.dropped.join(", ")
            ));
        }
        report.extend(s.notes.iter().map(|n| format!("  {n}")));
        if let Some(ix) = s.scan.index {
            let same = (ix.msgs, ix.bytes) == (st.msgs, st.bytes);
            if !same && ix.last_seq == st.last_seq {
                report.push(format!(
                    "  note: nats-server's index.db counted {} messages, {} bytes",
                    ix.msgs, ix.bytes
                ));
            }
        }
    }
    if streams.is_empty() {
        report.push("no streams found".into());
    }
    Ok(report)
}

/// `<src>/jetstream` (or `<src>` itself when it is that directory).
fn jetstream_dir(src: &Path) -> Result<PathBuf, ImportError> {
    let nested = src.join("jetstream");
    if nested.is_dir() {
        return Ok(nested);
    }
    let has_accounts = std::fs::read_dir(src)
        .map_err(|e| ImportError::io(src, e))?
        .flatten()
        .any(|e| e.path().join("streams").is_dir());
    if has_accounts {
        Ok(src.to_path_buf())
    } else {
        Err(ImportError::NoStore(src.to_path_buf()))
    }
}

fn read_all(args: &Args) -> Result<Vec<SourceStream>, ImportError> {
    let js = jetstream_dir(&args.source)?;
    let mut out = Vec::new();
    for account in sorted_dirs(&js)? {
        let name = dir_name(&account);
        if !args.accounts.is_empty() && !args.accounts.contains(&name) {
            continue;
        }
        let streams = account.join("streams");
        if !streams.is_dir() {
            continue;
        }
        for dir in sorted_dirs(&streams)? {
            out.push(SourceStream::read(&name, &dir)?);
        }
    }
    Ok(out)
}

fn sorted_dirs(dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ImportError::io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    Ok(v)
}

fn dir_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
