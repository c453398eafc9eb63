//! `/subsz` (also `/subscriptionsz`): sublist counters, and with `subs=1` or
//! `test=<subject>` the subscriptions themselves.

use std::time::SystemTime;

use serde::Serialize;

use super::connz::SubDetail;
use super::query::{self, BadParam, Query};
use crate::logging::rfc3339;
use crate::server::Server;
use crate::subject;

#[derive(Serialize)]
pub struct Subsz {
    server_id: String,
    now: String,
    num_subscriptions: usize,
    /// Route results are cached per connection, not in the sublist: none here.
    num_cache: u64,
    num_inserts: u64,
    num_removes: u64,
    num_matches: u64,
    cache_hit_rate: f64,
    max_fanout: u64,
    avg_fanout: f64,
    total: usize,
    offset: usize,
    limit: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<SubDetail>>,
}

pub fn subsz(server: &Server, q: &Query) -> Result<Subsz, BadParam> {
    let subs = q.bool("subs")?;
    let (offset, limit) = query::paging(q)?;
    let test = q.get("test");
    if !test.is_empty() && !subject::is_valid_literal(test.as_bytes()) {
        return Err(BadParam(format!(
            "invalid test subject, must be valid publish subject: {test}"
        )));
    }
    let acc = q.get("acc");
    let (inserts, removes, matches) = server.accounts.subs_stats();
    // Unlike nats-server, `test` alone lists the matches: asking which
    // subscriptions a subject reaches is what it is for.
    let list = (subs || !test.is_empty()).then(|| {
        let mut list = Vec::new();
        for account in server.accounts.all() {
            if !acc.is_empty() && acc != account.name {
                continue;
            }
            account.sublist.for_each(|s| {
                let tested = test.is_empty() || subject::matches(&s.subject, test.as_bytes());
                if s.is_spent() || !tested {
                    return;
                }
                let mut d = SubDetail::of(s);
                d.account_tag = Some(account.name.clone());
                d.account = Some(account.name.clone());
                list.push(d);
            });
        }
        list.sort_by(|a, b| (a.cid, &a.subject).cmp(&(b.cid, &b.subject)));
        list
    });
    let total = list.as_ref().map_or(0, Vec::len);
    Ok(Subsz {
        server_id: server.server_id.clone(),
        now: rfc3339(SystemTime::now()),
        num_subscriptions: server.accounts.subs_count(),
        num_cache: 0,
        num_inserts: inserts,
        num_removes: removes,
        num_matches: matches,
        cache_hit_rate: 0.0,
        max_fanout: 0,
        avg_fanout: 0.0,
        total,
        offset,
        limit,
        subscriptions_list: list.map(|l| query::page(l, offset, limit)),
    })
}
