//! `js-push`: a push consumer with explicit acks delivers the prefilled
//! stream to S subscribers (a deliver group when S > 1). Throughput only:
//! the messages were published before the clock started.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{push, AckPolicy};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::watch;

use crate::cli::BenchArgs;
use crate::conn::{connect_many, round_trip};
use crate::error::{BenchError, Result};
use crate::progress::Progress;
use crate::scenarios::js_setup::{consume_target, prepare_filled_stream};
use crate::scenarios::{idle, join_all};
use crate::stats::{aggregate, ClientStats, Row};

pub async fn run(a: &BenchArgs, progress: &Progress) -> Result<Vec<Row>> {
    let js = prepare_filled_stream(a, progress).await?;
    let target = consume_target(&js, a).await?;
    let stream = js
        .get_stream(&a.stream)
        .await
        .map_err(|e| BenchError::from_js(&format!("stream {}", a.stream), e))?;
    let clients = connect_many(&a.conn, "sub", a.subs).await?;
    let deliver = clients[0].new_inbox();
    let group = (a.subs > 1).then(|| "nile-bench".to_string());

    // Subscribe before the consumer exists so that no delivery can race
    // ahead of our interest (the library would subscribe after creating it).
    // Every worker stops once the group has the whole stream; the watch is
    // only signalled then, not per message, to keep the hot loop cheap.
    let delivered = Arc::new(AtomicU64::new(0));
    let (done_tx, done_rx) = watch::channel(false);
    let done_tx = Arc::new(done_tx);
    let mut tasks = Vec::new();
    for client in clients {
        let mut sub = match &group {
            Some(g) => client.queue_subscribe(deliver.clone(), g.clone()).await,
            None => client.subscribe(deliver.clone()).await,
        }
        .map_err(|e| BenchError::from_core("subscribe", e))?;
        round_trip(&client).await?;
        let (done_tx, mut done_rx) = (done_tx.clone(), done_rx.clone());
        let delivered = delivered.clone();
        let (progress, idle) = (progress.clone(), idle(a));
        tasks.push(tokio::spawn(async move {
            let mut st: Option<ClientStats> = None;
            loop {
                let msg = tokio::select! {
                    m = tokio::time::timeout(idle, sub.next()) => m,
                    _ = done_rx.wait_for(|done| *done) => break,
                };
                let msg = match msg {
                    Ok(Some(m)) => m,
                    Ok(None) => return Err(BenchError::Other("subscription closed".into())),
                    Err(_) => {
                        return Err(BenchError::Timeout(format!(
                            "push consumer delivered {} of {target} messages",
                            delivered.load(Ordering::Relaxed)
                        )))
                    }
                };
                let Some(reply) = msg.reply else {
                    continue; // heartbeat or flow control: none are asked for
                };
                client
                    .publish(reply, Bytes::from_static(b"+ACK"))
                    .await
                    .map_err(|e| BenchError::from_core("ack", e))?;
                st.get_or_insert_with(ClientStats::start)
                    .count(msg.payload.len());
                progress.inc(1);
                if delivered.fetch_add(1, Ordering::Relaxed) + 1 >= target {
                    done_tx.send_replace(true);
                }
            }
            client
                .flush()
                .await
                .map_err(|e| BenchError::from_core("flush", e))?;
            Ok(st.map(ClientStats::finish))
        }));
    }

    let _ticker = progress.start("js-push", target);
    let info = stream
        .create_consumer(push::Config {
            deliver_subject: deliver.to_string(),
            deliver_group: group,
            ack_policy: AckPolicy::Explicit,
            max_ack_pending: 10_000,
            inactive_threshold: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .map_err(|e| BenchError::from_js("create push consumer", e))?
        .cached_info()
        .clone();
    let stats = join_all(tasks).await;
    let _ = stream.delete_consumer(&info.name).await;
    // A deliver-group member that got nothing has no clock to report.
    let stats = stats?.into_iter().flatten().collect();
    Ok(vec![aggregate("sub", stats)])
}
