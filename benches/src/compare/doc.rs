//! Writing docs/benchmarks.md, the ratio chart and the raw samples.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use super::plan::Mode;
use super::server::{command_line, Kind};
use super::summary::{num, range, ratio, short, CaseResult, Row};
use super::CompareArgs;

pub struct Context {
    pub nats_bin: PathBuf,
    pub nats_version: String,
    pub nile_bin: Option<PathBuf>,
    /// One-minute load average when the run started: others' work on the machine.
    pub load_before: String,
    pub args: CompareArgs,
}

pub fn write_all(ctx: &Context, results: &[CaseResult], rows: &[Row]) -> std::io::Result<()> {
    if let Some(dir) = ctx.args.svg.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(&ctx.args.svg, super::doc_svg::chart(rows))?;
    if let Some(dir) = ctx.args.raw.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(&ctx.args.raw, raw_json(results, rows))?;
    if ctx.args.doc != "-" {
        fs::write(&ctx.args.doc, markdown(ctx, results, rows))?;
        eprintln!("wrote {}", ctx.args.doc);
    }
    Ok(())
}

fn raw_json(results: &[CaseResult], rows: &[Row]) -> String {
    let cases: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let side = |s: &super::summary::Side| {
                serde_json::json!({
                    "samples": s.samples,
                    "peak_rss_kib": s.samples.iter().map(|x| x.mem.peak_kib).collect::<Vec<_>>(),
                    "rss_after_kib": s.samples.iter().map(|x| x.mem.now_kib).collect::<Vec<_>>(),
                    "skipped": s.skipped,
                })
            };
            serde_json::json!({
                "case": r.case.label,
                "mode": r.case.mode.name(),
                "command": r.case.command("URL"),
                "nile": side(&r.nile),
                "nats": side(&r.nats),
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "rows": rows, "cases": cases }))
        .expect("plain data serializes")
}

fn sh(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// How idle CPUs wait: a halted virtual CPU takes a hypervisor exit to wake,
/// which can dominate request/reply latency on both servers alike.
fn idle_policy() -> String {
    let driver = fs::read_to_string("/sys/devices/system/cpu/cpuidle/current_driver")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    if std::env::var_os("NILE_BENCH_IDLE_POLL").is_some() {
        format!("driver {driver}; idle CPUs poll (`IDLE_POLL=1`: the runner held /dev/cpu_dma_latency at 0)")
    } else {
        format!("driver {driver}; idle CPUs halt (the machine's default; `IDLE_POLL=1` makes them poll)")
    }
}

fn machine() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim)
        .unwrap_or("unknown");
    let mem_gib = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map(|kib| format!("{:.0} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    format!(
        "- CPUs (nproc): {}\n- CPU model: {model}\n- Memory: {mem_gib}\n- Kernel: {}\n- CPU idle: {}\n- Load average when the run ended: {}\n",
        sh("nproc", &[]),
        sh("uname", &["-sr"]),
        idle_policy(),
        fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn markdown(ctx: &Context, results: &[CaseResult], rows: &[Row]) -> String {
    let a = &ctx.args;
    let mut md = String::new();
    md += "# Benchmarks\n\n";
    md += "Nile measured against nats-server with `nile-bench` (crate `benches/`), a load \
           generator in the spirit of `nats bench` that drives any NATS server through \
           async-nats. This file is written by `benches/compare.sh`; rerun it rather than \
           editing the numbers by hand.\n\n";
    md += include_str!("usage.md");
    md += "\n## Latest comparison\n\n";
    let _ = writeln!(
        md,
        "Written {} by `{}`.\n",
        sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        a.invoked_as
            .clone()
            .unwrap_or_else(|| "nile-bench compare".into())
    );
    md += &machine();
    let _ = writeln!(
        md,
        "- nats-server: {} (`{}`)\n- Nile: {}\n- Pairs per case: {}, scale {} of the nominal message counts\n",
        ctx.nats_version,
        ctx.nats_bin.display(),
        match &ctx.nile_bin {
            Some(p) => format!("`{}`, built from commit {}{}", p.display(),
                sh("git", &["rev-parse", "--short", "HEAD"]),
                // Others work in the same tree: say when the build had more than the commit.
                if sh("git", &["status", "--porcelain", "--", "engine", "server"]).is_empty() {
                    ""
                } else {
                    " plus uncommitted changes in engine/ or server/"
                }),
            None => "not built (all Nile cases skipped)".into(),
        },
        a.pairs,
        a.scale
    );
    let _ = write!(
        md,
        "**Read with care:** client and server share the machine's cores (load average \
         at the start of the run: {}), so absolute numbers move with whatever else \
         runs. The runs alternate Nile and nats-server (A B A B) so that load drift hits \
         both; the min–max column shows how much the ratio moved between pairs.\n\n",
        ctx.load_before
    );
    md += "Ratio = Nile / nats-server, median over pairs, min–max across pairs. For msgs/s \
           higher is better; for p50 latency and RSS lower is better. RSS columns are the peak \
           resident set (VmHWM) of each server over its run, max over runs.\n\n";
    md += "| case | durability | metric | Nile | nats-server | ratio | min–max | target | peak RSS Nile MiB | peak RSS nats MiB |\n";
    md += "|---|---|---|---:|---:|---:|---:|---|---:|---:|\n";
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.case,
            r.mode,
            r.metric,
            num(r.nile),
            num(r.nats),
            ratio(r.ratio_median),
            range(r),
            r.target.as_deref().unwrap_or(""),
            num(r.nile_peak_mib),
            num(r.nats_peak_mib),
        );
    }
    let chart = relative(Path::new(&a.doc), &a.svg);
    let _ = writeln!(md, "\n![Ratios Nile / nats-server]({chart})\n");
    md += "Why a ratio falls short, and what each data-path fix saved, in instructions \
           per message under callgrind (repeatable where these wall-clock numbers are \
           not): [profiles.md](profiles.md).\n\n";
    // Group by reason: before Nile serves anything, one reason covers all.
    let mut by_reason: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in rows.iter().filter(|r| !r.note.is_empty()) {
        let cases = by_reason.entry(short(&r.note)).or_default();
        let name = format!("{} ({})", r.case, r.mode);
        if !cases.contains(&name) {
            cases.push(name);
        }
    }
    if !by_reason.is_empty() {
        md += "### Skipped or failed\n\n";
        for (reason, cases) in by_reason {
            let _ = writeln!(md, "- {reason}: {}", cases.join(", "));
        }
        md += "\n";
    }
    md += "### Commands\n\nServers (a fresh store directory per run; `sync.conf` is \
           `jetstream { sync_interval: always }`):\n\n```sh\n";
    let dir = Path::new("DIR");
    for (mode, what) in [(Mode::Default, "default"), (Mode::Always, "always")] {
        let _ = writeln!(md, "# durability {what}");
        let _ = writeln!(
            md,
            "{}",
            command_line(Kind::Nats, &ctx.nats_bin, mode, 0, dir)
                .join(" ")
                .replace(" -p 0 ", " -p PORT ")
        );
        if let Some(nile) = &ctx.nile_bin {
            let _ = writeln!(
                md,
                "{}",
                command_line(Kind::Nile, nile, mode, 0, dir)
                    .join(" ")
                    .replace(" -p 0 ", " -p PORT ")
            );
        }
    }
    md += "```\n\nOne run of each case (add `--json` or `--csv` for machine-readable output):\n\n```sh\n";
    let mut seen = std::collections::BTreeSet::new();
    for r in results {
        if seen.insert(r.case.label.clone()) {
            let _ = writeln!(md, "{}", r.case.command("nats://127.0.0.1:PORT"));
        }
    }
    let _ = writeln!(md, "```\n\nRaw samples: `{}`.", a.raw.display());
    md
}

/// `svg` as a link relative to the directory of `doc`.
fn relative(doc: &Path, svg: &Path) -> String {
    if svg.is_absolute() || doc.is_absolute() {
        return svg.display().to_string();
    }
    let depth = doc.parent().map(|p| p.components().count()).unwrap_or(0);
    format!("{}{}", "../".repeat(depth), svg.display())
}

/// The one-minute load average, from `/proc/loadavg` ("unknown" elsewhere).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}
