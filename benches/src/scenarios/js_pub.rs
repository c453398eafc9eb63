//! `js-pub`: JetStream publish awaiting each ack before the next message.
//! Measures the durable write path's round trip: with fsync before ack, one
//! fsync per message per publisher.

use std::time::Instant;

use crate::cli::BenchArgs;
use crate::conn::connect_many;
use crate::error::{BenchError, Result};
use crate::payload;
use crate::progress::Progress;
use crate::scenarios::js_setup::{context, prepare_stream, subjects};
use crate::scenarios::{join_all, share, share_start};
use crate::stats::{aggregate, ClientStats, Row};

pub async fn run(a: &BenchArgs, progress: &Progress) -> Result<Vec<Row>> {
    let clients = connect_many(&a.conn, "pub", a.pubs).await?;
    prepare_stream(&context(clients[0].clone(), a), a).await?;
    let subjects = subjects(a);
    let body = payload::fixed(a.size);
    let _ticker = progress.start("js-pub", a.msgs);
    let mut tasks = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        let js = context(client, a);
        let (first, n) = (share_start(a.msgs, a.pubs, i), share(a.msgs, a.pubs, i));
        let (subjects, body) = (subjects.clone(), body.clone());
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let mut st = ClientStats::start();
            for i in first..first + n {
                let subject = subjects[(i % subjects.len() as u64) as usize].clone();
                let t0 = Instant::now();
                js.publish(subject, body.clone())
                    .await
                    .map_err(|e| BenchError::from_js("publish", e))?
                    .await
                    .map_err(|e| BenchError::from_js("publish ack", e))?;
                st.latency(t0.elapsed());
                st.count(body.len());
                progress.inc(1);
            }
            Ok(st.finish())
        }));
    }
    Ok(vec![aggregate("pub", join_all(tasks).await?)])
}
