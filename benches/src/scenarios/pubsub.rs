//! `pubsub`: core fan-out. S subscribers each receive all messages from P
//! publishers. Latency is publish-to-delivery, from a stamp in the payload.

use futures::StreamExt;

use crate::cli::BenchArgs;
use crate::conn::{connect_many, round_trip};
use crate::error::{BenchError, Result};
use crate::payload;
use crate::progress::Progress;
use crate::scenarios::{idle, join_all, share};
use crate::stats::{aggregate, ClientStats, Row};

pub async fn run(a: &BenchArgs, progress: &Progress) -> Result<Vec<Row>> {
    let subs = connect_many(&a.conn, "sub", a.subs).await?;
    let pubs = connect_many(&a.conn, "pub", a.pubs).await?;
    let idle = idle(a);
    let mut sub_tasks = Vec::new();
    for client in subs {
        let mut sub = client
            .subscribe(a.subject.clone())
            .await
            .map_err(|e| BenchError::from_core("subscribe", e))?;
        // Publishing must not start before every subscription is in place.
        round_trip(&client).await?;
        let want = a.msgs;
        let progress = progress.clone();
        sub_tasks.push(tokio::spawn(async move {
            let _client = client; // keeps the connection open
            let mut st: Option<ClientStats> = None;
            while st.as_ref().map_or(0, |s| s.msgs) < want {
                let got = st.as_ref().map_or(0, |s| s.msgs);
                let msg = match tokio::time::timeout(idle, sub.next()).await {
                    Ok(Some(m)) => m,
                    Ok(None) => return Err(BenchError::Other("subscription closed".into())),
                    Err(_) => {
                        return Err(BenchError::Timeout(format!(
                            "a subscriber received {got} of {want} messages \
                             (slow consumer or lost messages)"
                        )))
                    }
                };
                // The clock starts at the first message so setup is not counted.
                let s = st.get_or_insert_with(ClientStats::start);
                s.count(msg.payload.len());
                if let Some(d) = payload::age(&msg.payload) {
                    s.latency(d);
                }
                progress.inc(1);
            }
            Ok(st.expect("at least one message").finish())
        }));
    }

    let _ticker = progress.start("pubsub (received)", a.msgs * a.subs as u64);
    // Publishers stay connected until every subscriber is done: a client that
    // closes with unread replies queued resets the connection, and the kernel
    // then discards whatever the server had not read yet (seen with a server
    // slowed by a profiler), which looks like lost messages.
    let _keep_pubs = pubs.clone();
    let mut pub_tasks = Vec::new();
    for (i, client) in pubs.into_iter().enumerate() {
        let n = share(a.msgs, a.pubs, i);
        let subject = a.subject.clone();
        let size = a.size;
        pub_tasks.push(tokio::spawn(async move {
            let mut st = ClientStats::start();
            for _ in 0..n {
                client
                    .publish(subject.clone(), payload::stamped(size))
                    .await
                    .map_err(|e| BenchError::from_core("publish", e))?;
                st.count(size);
            }
            client
                .flush()
                .await
                .map_err(|e| BenchError::from_core("flush", e))?;
            Ok(st.finish())
        }));
    }
    let pub_stats = join_all(pub_tasks).await?;
    let sub_stats = join_all(sub_tasks).await?;
    Ok(vec![
        aggregate("pub", pub_stats),
        aggregate("sub", sub_stats),
    ])
}
