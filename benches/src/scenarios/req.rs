//! `req`: request/reply round-trip latency. S responders in a queue group
//! echo the payload; P requesters each keep one request outstanding.

use futures::StreamExt;

use crate::cli::BenchArgs;
use crate::conn::{connect_many, round_trip};
use crate::error::{BenchError, Result};
use crate::payload;
use crate::progress::Progress;
use crate::scenarios::{join_all, share};
use crate::stats::{aggregate, ClientStats, Row};

pub async fn run(a: &BenchArgs, progress: &Progress) -> Result<Vec<Row>> {
    let responders = connect_many(&a.conn, "responder", a.subs).await?;
    let requesters = connect_many(&a.conn, "req", a.pubs).await?;
    let mut responder_tasks = Vec::new();
    for client in responders {
        let mut sub = client
            .queue_subscribe(a.subject.clone(), "nile-bench".into())
            .await
            .map_err(|e| BenchError::from_core("subscribe", e))?;
        round_trip(&client).await?;
        responder_tasks.push(tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                if let Some(reply) = msg.reply {
                    // A failed reply shows up as a requester timeout.
                    let _ = client.publish(reply, msg.payload).await;
                }
            }
        }));
    }

    let _ticker = progress.start("req", a.msgs);
    let mut tasks = Vec::new();
    for (i, client) in requesters.into_iter().enumerate() {
        let n = share(a.msgs, a.pubs, i);
        let subject = a.subject.clone();
        let body = payload::fixed(a.size);
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let mut st = ClientStats::start();
            for _ in 0..n {
                let t0 = std::time::Instant::now();
                client
                    .request(subject.clone(), body.clone())
                    .await
                    .map_err(|e| BenchError::from_core("request", e))?;
                st.latency(t0.elapsed());
                st.count(body.len());
                progress.inc(1);
            }
            Ok(st.finish())
        }));
    }
    let result = join_all(tasks).await;
    for t in responder_tasks {
        t.abort();
    }
    Ok(vec![aggregate("req", result?)])
}
