//! What `compare` runs: each scenario with fixed flags, in each durability
//! mode that matters to it.

use clap::Parser;

use crate::cli::BenchArgs;
use crate::scenarios::Scenario;

/// Durability settings both servers run with for one case.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Core NATS: no store involved, one run covers it.
    Core,
    /// Each server's default: nats-server fsyncs every 2 min, Nile before each ack.
    Default,
    /// Both fsync before ack: nats-server `sync_interval: always`, Nile's default.
    Always,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Core => "core",
            Mode::Default => "default",
            Mode::Always => "always",
        }
    }
}

/// One line of the comparison: a scenario, its flags, a durability mode.
#[derive(Clone, Debug)]
pub struct Case {
    pub label: String,
    pub scenario: Scenario,
    pub mode: Mode,
    /// Flags without `--url`, which `compare` adds per server.
    pub flags: Vec<String>,
    /// Also ratio the p50 latency (the target of request/reply).
    pub latency_metric: bool,
    /// Ratio the resident memory after the run (the store-size target).
    pub rss_metric: bool,
}

impl Case {
    /// The scenario's flags pointed at `url`.
    pub fn args(&self, url: &str) -> BenchArgs {
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            a: BenchArgs,
        }
        let mut argv = vec!["nile-bench".to_string(), "--url".into(), url.into()];
        argv.extend(self.flags.iter().cloned());
        argv.push("--no-progress".into());
        Wrap::try_parse_from(argv).expect("plan flags parse").a
    }

    /// The command line that reproduces one run by hand.
    pub fn command(&self, url: &str) -> String {
        format!(
            "nile-bench {} --url {url} {}",
            self.scenario.name(),
            self.flags.join(" ")
        )
    }
}

/// Nominal message counts, scaled by `--scale`. Chosen so that scale 1 runs
/// each case for seconds, not minutes, on a small machine. With fsync before
/// every ack nats-server manages a few hundred messages a second on a slow
/// disk, so the `always` publish cases send fewer.
fn cases_of(s: Scenario, mode: Mode, scale: f64) -> Vec<(String, Vec<String>, bool, bool)> {
    let n = |x: f64| ((x * scale).round() as u64).max(100).to_string();
    let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let one = |flags: Vec<String>| vec![(s.name().to_string(), flags, false, false)];
    let always = mode == Mode::Always;
    match s {
        Scenario::Pub => one(f(&["--size", "128", "--msgs", &n(500_000.0)])),
        Scenario::Pubsub => one(f(&[
            "--size",
            "128",
            "--msgs",
            &n(200_000.0),
            "--pubs",
            "1",
            "--subs",
            "2",
        ])),
        Scenario::Req => vec![(
            "req".into(),
            f(&["--size", "128", "--msgs", &n(20_000.0)]),
            true,
            false,
        )],
        Scenario::JsPub => one(f(&[
            "--size",
            "128",
            "--msgs",
            &n(if always { 2_000.0 } else { 10_000.0 }),
        ])),
        Scenario::JsPubAsync => {
            let mut v = vec![(
                "js-pub-async".into(),
                f(&[
                    "--size",
                    "128",
                    "--msgs",
                    &n(if always { 5_000.0 } else { 100_000.0 }),
                    "--window",
                    "256",
                ]),
                false,
                false,
            )];
            if !always {
                // The memory target: 1 M messages over 100k subjects.
                v.push((
                    "js-store-100k-subjects".into(),
                    f(&[
                        "--size",
                        "128",
                        "--msgs",
                        &n(1_000_000.0),
                        "--window",
                        "256",
                        "--subjects",
                        "100000",
                    ]),
                    false,
                    true,
                ));
            }
            v
        }
        Scenario::JsPull => one(f(&[
            "--size",
            "128",
            "--msgs",
            &n(100_000.0),
            "--batch",
            "100",
        ])),
        Scenario::JsPush => one(f(&["--size", "128", "--msgs", &n(100_000.0)])),
        Scenario::JsOrdered => one(f(&["--size", "128", "--msgs", &n(100_000.0)])),
        Scenario::KvPut => one(f(&[
            "--size",
            "128",
            "--msgs",
            &n(if always { 2_000.0 } else { 10_000.0 }),
        ])),
        Scenario::KvGet => one(f(&[
            "--size",
            "128",
            "--msgs",
            &n(20_000.0),
            "--keys",
            &n(10_000.0),
        ])),
    }
}

/// Durability modes a scenario runs in. Consume and get cases read a stream
/// prefilled before the clock starts, so fsync policy only slows their
/// setup: they run once, with each server's default.
fn modes_of(s: Scenario) -> &'static [Mode] {
    match s {
        _ if s.is_core() => &[Mode::Core],
        Scenario::JsPub | Scenario::JsPubAsync | Scenario::KvPut => &[Mode::Default, Mode::Always],
        _ => &[Mode::Default],
    }
}

/// The cases for the chosen scenarios, in the order given.
pub fn cases(scenarios: &[Scenario], scale: f64) -> Vec<Case> {
    let mut out = Vec::new();
    for &s in scenarios {
        for &mode in modes_of(s) {
            for (label, flags, latency_metric, rss_metric) in cases_of(s, mode, scale) {
                out.push(Case {
                    label,
                    scenario: s,
                    mode,
                    flags,
                    latency_metric,
                    rss_metric,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_case_parses() {
        for c in cases(Scenario::value_variants(), 0.01) {
            let a = c.args("nats://127.0.0.1:1");
            assert!(a.msgs >= 100, "{}", c.label);
        }
    }
}
