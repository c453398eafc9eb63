//! `kv-put`: P clients put values into a fresh bucket, each awaiting the
//! ack of every put. Keys cycle over `--keys` (default: one per message),
//! so a small `--keys` measures overwrites, a large one index growth.

use std::time::Instant;

use crate::cli::BenchArgs;
use crate::conn::connect_many;
use crate::error::{BenchError, Result};
use crate::payload;
use crate::progress::Progress;
use crate::scenarios::kv_get::{key, keys, prepare_bucket};
use crate::scenarios::{join_all, share, share_start};
use crate::stats::{aggregate, ClientStats, Row};

pub async fn run(a: &BenchArgs, progress: &Progress) -> Result<Vec<Row>> {
    let clients = connect_many(&a.conn, "pub", a.pubs).await?;
    prepare_bucket(&clients[0], a).await?;
    let body = payload::fixed(a.size);
    let nkeys = keys(a);
    let _ticker = progress.start("kv-put", a.msgs);
    let mut tasks = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        let kv = crate::scenarios::js_setup::context(client, a)
            .get_key_value(&a.bucket)
            .await
            .map_err(|e| BenchError::from_js(&format!("bucket {}", a.bucket), e))?;
        let (first, n) = (share_start(a.msgs, a.pubs, i), share(a.msgs, a.pubs, i));
        let (body, progress) = (body.clone(), progress.clone());
        tasks.push(tokio::spawn(async move {
            let mut st = ClientStats::start();
            for i in first..first + n {
                let t0 = Instant::now();
                kv.put(key(i % nkeys), body.clone())
                    .await
                    .map_err(|e| BenchError::from_js("kv put", e))?;
                st.latency(t0.elapsed());
                st.count(body.len());
                progress.inc(1);
            }
            Ok(st.finish())
        }));
    }
    Ok(vec![aggregate("pub", join_all(tasks).await?)])
}
