//! `kv-get`: P clients read keys of a prefilled bucket, one get at a time.
//! Latency is one get's round trip (a direct get where the server offers it).

use std::time::Instant;

use async_nats::jetstream::kv;
use async_nats::{Client, Subject};

use crate::cli::BenchArgs;
use crate::conn::connect_many;
use crate::error::{BenchError, Result};
use crate::progress::Progress;
use crate::scenarios::js_pub_async::publish_windowed;
use crate::scenarios::js_setup::{context, delete_if_present, storage};
use crate::scenarios::{join_all, share, share_start};
use crate::stats::{aggregate, ClientStats, Row};

/// Distinct keys of the run.
pub fn keys(a: &BenchArgs) -> u64 {
    if a.keys == 0 {
        a.msgs
    } else {
        a.keys
    }
}

pub fn key(i: u64) -> String {
    format!("k{i}")
}

/// A fresh bucket (history 1), or with `--existing` the one that is there.
pub async fn prepare_bucket(client: &Client, a: &BenchArgs) -> Result<()> {
    let js = context(client.clone(), a);
    if a.existing {
        js.get_key_value(&a.bucket)
            .await
            .map_err(|e| BenchError::from_js(&format!("bucket {}", a.bucket), e))?;
        return Ok(());
    }
    delete_if_present(&js, &format!("KV_{}", a.bucket)).await?;
    js.create_key_value(kv::Config {
        bucket: a.bucket.clone(),
        history: 1,
        storage: storage(a),
        ..Default::default()
    })
    .await
    .map_err(|e| BenchError::from_js(&format!("create bucket {}", a.bucket), e))?;
    Ok(())
}

pub async fn run(a: &BenchArgs, progress: &Progress) -> Result<Vec<Row>> {
    let clients = connect_many(&a.conn, "get", a.pubs).await?;
    prepare_bucket(&clients[0], a).await?;
    let nkeys = keys(a);
    if !a.existing {
        // Untimed: write every key once through the bucket's subjects.
        let subjects: Vec<Subject> = (0..nkeys)
            .map(|i| Subject::from(format!("$KV.{}.{}", a.bucket, key(i))))
            .collect();
        let js = context(clients[0].clone(), a);
        let _ticker = progress.start("prefill", nkeys);
        publish_windowed(&js, &subjects, 0, nkeys, a.size, a.window, progress).await?;
    }
    let _ticker = progress.start("kv-get", a.msgs);
    let mut tasks = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        let kv = context(client, a)
            .get_key_value(&a.bucket)
            .await
            .map_err(|e| BenchError::from_js(&format!("bucket {}", a.bucket), e))?;
        let (first, n) = (share_start(a.msgs, a.pubs, i), share(a.msgs, a.pubs, i));
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let mut st = ClientStats::start();
            for i in first..first + n {
                let k = key(i % nkeys);
                let t0 = Instant::now();
                let v = kv
                    .get(&k)
                    .await
                    .map_err(|e| BenchError::from_js("kv get", e))?
                    .ok_or_else(|| BenchError::Missing(format!("key {k}")))?;
                st.latency(t0.elapsed());
                st.count(v.len());
                progress.inc(1);
            }
            Ok(st.finish())
        }));
    }
    Ok(vec![aggregate("get", join_all(tasks).await?)])
}
