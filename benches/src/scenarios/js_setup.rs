//! JetStream plumbing shared by the js-* and kv-* scenarios: the context,
//! a fresh stream, and prefilling it for the consume scenarios.

use std::time::Duration;

use async_nats::jetstream::{self, stream, Context};
use async_nats::{Client, Subject};

use crate::cli::{BenchArgs, Storage};
use crate::conn::connect;
use crate::error::{BenchError, Result};
use crate::progress::Progress;
use crate::scenarios::{idle, js_pub_async::publish_windowed};

/// A JetStream context whose acks and API calls give up after the run's
/// no-progress timeout, and which never throttles below our own window.
pub fn context(client: Client, a: &BenchArgs) -> Context {
    jetstream::context::ContextBuilder::new()
        .timeout(idle(a))
        .max_ack_inflight(a.window.max(5_000))
        .build(client)
}

pub fn storage(a: &BenchArgs) -> stream::StorageType {
    match a.storage {
        Storage::File => stream::StorageType::File,
        Storage::Memory => stream::StorageType::Memory,
    }
}

/// Subjects to publish to, cycled through by message index.
pub fn subjects(a: &BenchArgs) -> Vec<Subject> {
    if a.subjects <= 1 {
        return vec![Subject::from(a.subject.as_str())];
    }
    (0..a.subjects)
        .map(|i| Subject::from(format!("{}.{i}", a.subject)))
        .collect()
}

/// Makes the run's stream exist: with `--existing` it must already be there;
/// otherwise any old one is deleted and a fresh, empty one created, so every
/// run starts from the same state.
pub async fn prepare_stream(js: &Context, a: &BenchArgs) -> Result<()> {
    if a.existing {
        js.get_stream(&a.stream)
            .await
            .map_err(|e| BenchError::from_js(&format!("stream {}", a.stream), e))?;
        return Ok(());
    }
    delete_if_present(js, &a.stream).await?;
    js.create_stream(stream::Config {
        name: a.stream.clone(),
        subjects: vec![a.subject.clone(), format!("{}.>", a.subject)],
        storage: storage(a),
        ..Default::default()
    })
    .await
    .map_err(|e| BenchError::from_js(&format!("create stream {}", a.stream), e))?;
    Ok(())
}

pub async fn delete_if_present(js: &Context, name: &str) -> Result<()> {
    match js.delete_stream(name).await {
        Ok(_) => Ok(()),
        Err(e) => match BenchError::from_js(&format!("delete stream {name}"), e) {
            BenchError::Missing(_) => Ok(()),
            other => Err(other),
        },
    }
}

/// Creates the stream and fills it with `--msgs` messages, untimed, for the
/// consume scenarios. With `--existing` the stream is used as it is.
pub async fn prepare_filled_stream(a: &BenchArgs, progress: &Progress) -> Result<Context> {
    let js = context(connect(&a.conn, "setup").await?, a);
    prepare_stream(&js, a).await?;
    if !a.existing {
        let _ticker = progress.start("prefill", a.msgs);
        publish_windowed(&js, &subjects(a), 0, a.msgs, a.size, a.window, progress).await?;
    }
    Ok(js)
}

/// Messages in the stream, the count an `--existing` consume run expects.
pub async fn stream_len(js: &Context, a: &BenchArgs) -> Result<u64> {
    let mut s = js
        .get_stream(&a.stream)
        .await
        .map_err(|e| BenchError::from_js(&format!("stream {}", a.stream), e))?;
    let info = s
        .info()
        .await
        .map_err(|e| BenchError::from_js(&format!("stream {} info", a.stream), e))?;
    Ok(info.state.messages)
}

/// How many messages a consume run reads: all of `--msgs`, or what an
/// existing stream holds if that is less.
pub async fn consume_target(js: &Context, a: &BenchArgs) -> Result<u64> {
    if !a.existing {
        return Ok(a.msgs);
    }
    let n = stream_len(js, a).await?.min(a.msgs);
    if n == 0 {
        return Err(BenchError::Other(format!("stream {} is empty", a.stream)));
    }
    Ok(n)
}

/// Pause between empty polls, so an idle consumer does not spin.
pub const EMPTY_POLL_PAUSE: Duration = Duration::from_millis(1);
