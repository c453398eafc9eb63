//! `js-ordered`: one ordered consumer replays the prefilled stream, no acks.
//! This is the replay path (`nats bench js ordered`, KV watchers, mirrors).

use async_nats::jetstream::consumer::pull;
use futures::StreamExt;

use crate::cli::BenchArgs;
use crate::error::{BenchError, Result};
use crate::progress::Progress;
use crate::scenarios::idle;
use crate::scenarios::js_setup::{consume_target, prepare_filled_stream};
use crate::stats::{aggregate, ClientStats, Row};

pub async fn run(a: &BenchArgs, progress: &Progress) -> Result<Vec<Row>> {
    let js = prepare_filled_stream(a, progress).await?;
    let target = consume_target(&js, a).await?;
    let stream = js
        .get_stream(&a.stream)
        .await
        .map_err(|e| BenchError::from_js(&format!("stream {}", a.stream), e))?;
    let _ticker = progress.start("js-ordered", target);
    let mut msgs = stream
        .create_consumer(pull::OrderedConfig::default())
        .await
        .map_err(|e| BenchError::from_js("create ordered consumer", e))?
        .messages()
        .await
        .map_err(|e| BenchError::from_js("ordered consume", e))?;
    let mut st = ClientStats::start();
    while st.msgs < target {
        let m = match tokio::time::timeout(idle(a), msgs.next()).await {
            Ok(Some(m)) => m.map_err(|e| BenchError::from_js("ordered consume", e))?,
            Ok(None) => return Err(BenchError::Other("ordered consumer ended".into())),
            Err(_) => {
                return Err(BenchError::Timeout(format!(
                    "ordered consumer delivered {} of {target} messages",
                    st.msgs
                )))
            }
        };
        st.count(m.payload.len());
        progress.inc(1);
    }
    Ok(vec![aggregate("sub", vec![st.finish()])])
}
