//! `js-pub-async`: JetStream publish keeping up to `--window` acks in flight
//! per publisher. Latency is publish-to-ack as the client observes it, which
//! under a full window is mostly queueing (window / throughput).

use std::time::Instant;

use async_nats::jetstream::Context;
use async_nats::Subject;
use futures::stream::FuturesUnordered;
use futures::StreamExt;

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
    let _ticker = progress.start("js-pub-async", a.msgs);
    let mut tasks = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        let js = context(client, a);
        let (first, n) = (share_start(a.msgs, a.pubs, i), share(a.msgs, a.pubs, i));
        let (subjects, size, window) = (subjects.clone(), a.size, a.window);
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            publish_windowed(&js, &subjects, first, n, size, window, &progress).await
        }));
    }
    Ok(vec![aggregate("pub", join_all(tasks).await?)])
}

/// Publishes messages `first..first+n` with at most `window` acks pending.
pub async fn publish_windowed(
    js: &Context,
    subjects: &[Subject],
    first: u64,
    n: u64,
    size: usize,
    window: usize,
    progress: &Progress,
) -> Result<ClientStats> {
    let body = payload::fixed(size);
    let mut st = ClientStats::start();
    let mut inflight = FuturesUnordered::new();
    for i in first..first + n {
        if inflight.len() >= window {
            let (t0, ack) = inflight.next().await.expect("window is not empty");
            settle(&mut st, t0, ack, size, progress)?;
        }
        let subject = subjects[(i % subjects.len() as u64) as usize].clone();
        let t0 = Instant::now();
        let ack = js
            .publish(subject, body.clone())
            .await
            .map_err(|e| BenchError::from_js("publish", e))?;
        inflight.push(async move { (t0, ack.await) });
    }
    while let Some((t0, ack)) = inflight.next().await {
        settle(&mut st, t0, ack, size, progress)?;
    }
    Ok(st.finish())
}

fn settle<A, E: std::fmt::Display>(
    st: &mut ClientStats,
    t0: Instant,
    ack: std::result::Result<A, E>,
    size: usize,
    progress: &Progress,
) -> Result<()> {
    ack.map_err(|e| BenchError::from_js("publish ack", e))?;
    st.latency(t0.elapsed());
    st.count(size);
    progress.inc(1);
    Ok(())
}
