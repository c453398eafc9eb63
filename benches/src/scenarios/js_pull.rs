//! `js-pull`: S clients share one durable pull consumer, fetching `--batch`
//! messages per request and acking each. The stream is prefilled (untimed).
//! Latency is one fetch: request sent to batch fully received.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_nats::jetstream::consumer::{pull, AckPolicy, PullConsumer};
use futures::StreamExt;

use crate::cli::BenchArgs;
use crate::conn::connect_many;
use crate::error::{BenchError, Result};
use crate::progress::Progress;
use crate::scenarios::js_setup::{
    consume_target, context, prepare_filled_stream, EMPTY_POLL_PAUSE,
};
use crate::scenarios::{idle, join_all};
use crate::stats::{aggregate, ClientStats, Row};

const CONSUMER: &str = "nile-bench-pull";

pub async fn run(a: &BenchArgs, progress: &Progress) -> Result<Vec<Row>> {
    let js = prepare_filled_stream(a, progress).await?;
    let target = consume_target(&js, a).await?;
    let stream = js
        .get_stream(&a.stream)
        .await
        .map_err(|e| BenchError::from_js(&format!("stream {}", a.stream), e))?;
    // A leftover durable from an earlier run would start mid-stream.
    let _ = stream.delete_consumer(CONSUMER).await;
    stream
        .create_consumer(pull::Config {
            durable_name: Some(CONSUMER.into()),
            ack_policy: AckPolicy::Explicit,
            // Enough that acks, not the pending limit, pace the consumer.
            max_ack_pending: (a.batch * a.subs * 4).max(10_000) as i64,
            ..Default::default()
        })
        .await
        .map_err(|e| BenchError::from_js("create pull consumer", e))?;

    let clients = connect_many(&a.conn, "sub", a.subs).await?;
    let received = Arc::new(AtomicU64::new(0));
    let _ticker = progress.start("js-pull", target);
    let mut tasks = Vec::new();
    for client in clients {
        let js = context(client.clone(), a);
        let consumer: PullConsumer = js
            .get_consumer_from_stream(CONSUMER, &a.stream)
            .await
            .map_err(|e| BenchError::from_js("get pull consumer", e))?;
        let (received, progress, batch, idle) =
            (received.clone(), progress.clone(), a.batch, idle(a));
        tasks.push(tokio::spawn(async move {
            let mut st = ClientStats::start();
            let mut last = Instant::now();
            while received.load(Ordering::Relaxed) < target {
                let t0 = Instant::now();
                // no_wait fetch: the stream is full, so a short batch means
                // the others hold the rest, not that more is coming.
                let mut msgs = consumer
                    .fetch()
                    .max_messages(batch)
                    .messages()
                    .await
                    .map_err(|e| BenchError::from_js("fetch", e))?;
                let mut got = 0;
                while let Some(m) = msgs.next().await {
                    let m = m.map_err(|e| BenchError::from_js("fetch", e))?;
                    m.ack().await.map_err(|e| BenchError::from_js("ack", e))?;
                    st.count(m.payload.len());
                    got += 1;
                }
                if got == 0 {
                    if last.elapsed() > idle {
                        return Err(BenchError::Timeout(format!(
                            "pull consumer got {} of {target} messages",
                            received.load(Ordering::Relaxed)
                        )));
                    }
                    tokio::time::sleep(EMPTY_POLL_PAUSE).await;
                    continue;
                }
                st.latency(t0.elapsed());
                received.fetch_add(got, Ordering::Relaxed);
                progress.inc(got);
                last = Instant::now();
            }
            // Acks are fire-and-forget; count the time to get them out.
            client
                .flush()
                .await
                .map_err(|e| BenchError::from_core("flush", e))?;
            Ok(st.finish())
        }));
    }
    let stats = join_all(tasks).await?;
    let _ = stream.delete_consumer(CONSUMER).await;
    Ok(vec![aggregate("sub", stats)])
}
