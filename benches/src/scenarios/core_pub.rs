//! `pub`: core publish throughput. Publishers fire and forget, then flush;
//! the time includes the flush, so every message has reached the server's
//! socket. No latency: nothing comes back per message.

use crate::cli::BenchArgs;
use crate::conn::connect_many;
use crate::error::{BenchError, Result};
use crate::payload;
use crate::progress::Progress;
use crate::scenarios::{join_all, share};
use crate::stats::{aggregate, ClientStats, Row};

pub async fn run(a: &BenchArgs, progress: &Progress) -> Result<Vec<Row>> {
    let clients = connect_many(&a.conn, "pub", a.pubs).await?;
    let body = payload::fixed(a.size);
    let _ticker = progress.start("pub", a.msgs);
    let mut tasks = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        let n = share(a.msgs, a.pubs, i);
        let subject = a.subject.clone();
        let body = body.clone();
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let mut st = ClientStats::start();
            for _ in 0..n {
                client
                    .publish(subject.clone(), body.clone())
                    .await
                    .map_err(|e| BenchError::from_core("publish", e))?;
                st.count(body.len());
                progress.inc(1);
            }
            client
                .flush()
                .await
                .map_err(|e| BenchError::from_core("flush", e))?;
            Ok(st.finish())
        }));
    }
    Ok(vec![aggregate("pub", join_all(tasks).await?)])
}
