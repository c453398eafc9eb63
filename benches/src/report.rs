//! The result of one run and its three renderings: table, JSON, CSV.

use serde::Serialize;

use crate::cli::BenchArgs;
use crate::stats::Row;

#[derive(Serialize, Debug, Clone)]
pub struct Report {
    pub scenario: String,
    pub url: String,
    pub size: usize,
    pub msgs: u64,
    pub pubs: usize,
    pub subs: usize,
    pub window: usize,
    pub batch: usize,
    pub storage: String,
    pub rows: Vec<Row>,
}

impl Report {
    pub fn new(scenario: &str, a: &BenchArgs, rows: Vec<Row>) -> Report {
        Report {
            scenario: scenario.to_string(),
            url: a.conn.url.clone(),
            size: a.size,
            msgs: a.msgs,
            pubs: a.pubs,
            subs: a.subs,
            window: a.window,
            batch: a.batch,
            storage: format!("{:?}", a.storage).to_lowercase(),
            rows,
        }
    }

    /// The row the headline number comes from (`compare` ratios it).
    pub fn row(&self, role: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.role == role)
    }

    pub fn table(&self) -> String {
        let mut out = format!(
            "{} on {}: {} msgs of {} B, pubs {}, subs {}, window {}, batch {}, storage {}\n",
            self.scenario,
            self.url,
            self.msgs,
            self.size,
            self.pubs,
            self.subs,
            self.window,
            self.batch,
            self.storage
        );
        out += &format!(
            "{:<8} {:>7} {:>10} {:>8} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "role",
            "clients",
            "msgs",
            "secs",
            "msgs/s",
            "MB/s",
            "p50 us",
            "p90 us",
            "p99 us",
            "p99.9 us"
        );
        for r in &self.rows {
            let lat = |f: fn(&crate::stats::Latency) -> f64| {
                r.latency
                    .as_ref()
                    .map(|l| format!("{:.1}", f(l)))
                    .unwrap_or_else(|| "-".into())
            };
            out += &format!(
                "{:<8} {:>7} {:>10} {:>8.3} {:>12.0} {:>9.2} {:>9} {:>9} {:>9} {:>9}\n",
                r.role,
                r.clients,
                r.msgs,
                r.secs,
                r.msgs_per_sec,
                r.mb_per_sec,
                lat(|l| l.p50_us),
                lat(|l| l.p90_us),
                lat(|l| l.p99_us),
                lat(|l| l.p999_us),
            );
        }
        out
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plain data serializes")
    }

    /// One line per row, run parameters repeated so files can be concatenated.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "scenario,url,size,pubs,subs,window,batch,storage,role,clients,msgs,bytes,secs,\
             msgs_per_sec,mb_per_sec,p50_us,p90_us,p99_us,p999_us,max_us\n",
        );
        for r in &self.rows {
            let l = r.latency.as_ref();
            let f = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_default();
            out += &format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{:.6},{:.1},{:.3},{},{},{},{},{}\n",
                self.scenario,
                self.url,
                self.size,
                self.pubs,
                self.subs,
                self.window,
                self.batch,
                self.storage,
                r.role,
                r.clients,
                r.msgs,
                r.bytes,
                r.secs,
                r.msgs_per_sec,
                r.mb_per_sec,
                f(l.map(|l| l.p50_us)),
                f(l.map(|l| l.p90_us)),
                f(l.map(|l| l.p99_us)),
                f(l.map(|l| l.p999_us)),
                f(l.map(|l| l.max_us)),
            );
        }
        out
    }
}
