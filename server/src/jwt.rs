//! NATS decentralised auth: nkey signatures and the operator → account → user
//! chain of JWTs (operator mode with a `MEMORY` resolver).
//!
//! A NATS JWT is `base64url(header).base64url(claims).base64url(signature)`,
//! signed with the ed25519 nkey named by `iss`. The operator JWT is trusted
//! from the config; an account JWT must be issued by the operator (or one of
//! its signing keys); a user JWT by its account (or one of the account's
//! signing keys, then naming the account in `issuer_account`). Unless the user
//! JWT is a bearer token, the client also signs the server's INFO nonce with
//! the user's key.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use crate::options::{
    AccountJsLimits, Permissions, ResponsePermission, SubjectPermission, TrustOptions,
};

/// Why a JWT or a signature was refused. Every variant is an
/// `Authorization Violation` to the client; the text goes to the debug log.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("malformed JWT")]
    Malformed,
    #[error("unsupported JWT algorithm {0:?}")]
    Algorithm(String),
    #[error("bad signature")]
    Signature,
    #[error("JWT of type {found:?} where {wanted} was expected")]
    Type { found: String, wanted: &'static str },
    #[error("JWT expired")]
    Expired,
    #[error("JWT not yet valid")]
    NotYetValid,
    #[error("issuer {0} is not trusted")]
    Untrusted(String),
    #[error("account {0} is not known to the resolver")]
    UnknownAccount(String),
    #[error("nonce signature missing")]
    NoSignature,
    #[error("source address {0} not allowed")]
    Source(IpAddr),
    #[error("outside the user's connect times")]
    OutsideTimes,
}

const DAY_S: i64 = 24 * 60 * 60;

/// A user's `times` windows (`{"start": "HH:MM:SS", "end": ...}`, daily;
/// one ending before it starts runs past midnight), read in UTC: nats-server
/// reads them in `times_location`, else in its own zone. Inside one: the Unix
/// second it ends (the latest, if several hold), when the connection is
/// closed; no windows: `None`.
fn connect_window_end(nats: &Value, now_s: i64) -> Result<Option<i64>, AuthError> {
    let Some(windows) = nats.get("times").and_then(Value::as_array) else {
        return Ok(None);
    };
    if windows.is_empty() {
        return Ok(None);
    }
    let zone = nats
        .get("times_location")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !matches!(zone, "" | "UTC" | "Etc/UTC" | "Local") {
        tracing::warn!("user JWT times_location {zone:?}: only UTC is supported, login refused");
        return Err(AuthError::OutsideTimes);
    }
    let midnight = now_s - now_s.rem_euclid(DAY_S);
    let mut latest = None;
    for w in windows {
        let at = |key: &str| w.get(key).and_then(Value::as_str).and_then(second_of_day);
        let (Some(start), Some(end)) = (at("start"), at("end")) else {
            return Err(AuthError::OutsideTimes);
        };
        if let Some(end) = window_end(midnight + start, midnight + end, now_s) {
            latest = latest.max(Some(end));
        }
    }
    latest.map(Some).ok_or(AuthError::OutsideTimes)
}

/// Where today's window `start..end` ends, if `now` is strictly inside it.
fn window_end(start: i64, end: i64, now: i64) -> Option<i64> {
    if start < now && now < end {
        return Some(end);
    }
    if start > end {
        if now < end {
            return Some(end);
        }
        if start < now && now < end + DAY_S {
            return Some(end + DAY_S);
        }
    }
    None
}

/// `"HH:MM:SS"` as seconds since midnight.
fn second_of_day(text: &str) -> Option<i64> {
    let mut parts = text.split(':');
    let (Some(h), Some(m), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let field = |f: &str, max: i64| {
        let v: i64 = f.parse().ok()?;
        (!f.is_empty() && f.len() <= 2 && (0..max).contains(&v)).then_some(v)
    };
    Some(field(h, 24)? * 3600 + field(m, 60)? * 60 + field(s, 60)?)
}

/// Limits from the user and account JWTs; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientLimits {
    pub subs_max: Option<usize>,
    pub payload_bytes_max: Option<usize>,
    /// Connections the account may have at once, this one included.
    pub account_conns_max: Option<usize>,
}

/// A `subs`/`payload`/`conn` limit: -1 unlimited; absent 0 in a v2 JWT (as
/// nats-server reads them) but unlimited in a v1 JWT, which predates the
/// limits (nats-server's migration of v1 claims fills in "no limit").
/// Clamped to nats-server's 32-bit range.
fn limit(claims: Option<&Value>, key: &str, v1: bool) -> Option<usize> {
    let absent = if v1 { -1 } else { 0 };
    let v = claims
        .and_then(|c| c.get(key))
        .and_then(Value::as_i64)
        .unwrap_or(absent);
    match v {
        -1 => None,
        v => Some(v.clamp(0, i32::MAX as i64) as usize),
    }
}

/// The tighter of two limits.
fn tighter(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Is `ip` inside one of the user's `src` CIDRs? No list: anywhere. A list
/// (or, from older tools, a comma-separated string) with an entry that does
/// not parse refuses, as nats-server does.
fn source_allowed(nats: &Value, ip: Option<IpAddr>) -> bool {
    let cidrs: Vec<&str> = match nats.get("src") {
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect(),
        _ => Vec::new(),
    };
    if cidrs.is_empty() {
        return true;
    }
    let Some(ip) = ip.map(|ip| ip.to_canonical()) else {
        return false;
    };
    cidrs.iter().any(|c| cidr_contains(c, ip))
}

fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    let (net, ip, width) = match (net.to_canonical(), ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => (u32::from(n) as u128, u32::from(i) as u128, 32),
        (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
        _ => return false,
    };
    if bits > width {
        return false;
    }
    let shift = width - bits;
    shift == width || (net >> shift) == (ip >> shift)
}

/// The claims Nile reads; everything else in a JWT is ignored.
#[derive(Debug, Default, Deserialize)]
pub struct Claims {
    #[serde(default)]
    pub iss: String,
    #[serde(default)]
    pub sub: String,
    #[serde(default)]
    pub name: String,
    /// Unix seconds; 0 or absent: never.
    #[serde(default)]
    pub exp: i64,
    #[serde(default)]
    pub nbf: i64,
    /// v1 JWTs carry the type here, v2 ones in `nats.type`.
    #[serde(default, rename = "type")]
    pub kind_v1: Option<String>,
    #[serde(default)]
    pub nats: Value,
}

impl Claims {
    /// A v1 JWT: its type is at the top level, not in `nats`.
    fn is_v1(&self) -> bool {
        self.kind_v1.is_some()
    }

    fn kind(&self) -> &str {
        self.nats
            .get("type")
            .and_then(Value::as_str)
            .or(self.kind_v1.as_deref())
            .unwrap_or("")
    }

    fn nats_str(&self, key: &str) -> Option<&str> {
        self.nats
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    fn expect_kind(&self, wanted: &'static str) -> Result<(), AuthError> {
        if self.kind() == wanted {
            return Ok(());
        }
        Err(AuthError::Type {
            found: self.kind().to_string(),
            wanted,
        })
    }

    fn check_times(&self, now: i64) -> Result<(), AuthError> {
        if self.exp > 0 && now >= self.exp {
            return Err(AuthError::Expired);
        }
        if self.nbf > 0 && now < self.nbf {
            return Err(AuthError::NotYetValid);
        }
        Ok(())
    }
}

/// Decode a JWT and check its signature against its own `iss`.
pub fn decode(token: &str) -> Result<Claims, AuthError> {
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    let header: Value = serde_json::from_slice(&b64(h)?).map_err(|_| AuthError::Malformed)?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if !alg.eq_ignore_ascii_case("ed25519") && !alg.eq_ignore_ascii_case("ed25519-nkey") {
        return Err(AuthError::Algorithm(alg.to_string()));
    }
    let claims: Claims = serde_json::from_slice(&b64(c)?).map_err(|_| AuthError::Malformed)?;
    // v2 (`ed25519-nkey`) signs "header.claims"; v1 (`ed25519`) the claims part alone.
    let signed = if alg.eq_ignore_ascii_case("ed25519") {
        c
    } else {
        &token[..h.len() + 1 + c.len()]
    };
    verify(&claims.iss, signed.as_bytes(), &b64(s)?)?;
    Ok(claims)
}

/// Verify `sig` over `data` with the nkey public key `key`.
pub fn verify(key: &str, data: &[u8], sig: &[u8]) -> Result<(), AuthError> {
    let kp = nkeys::KeyPair::from_public_key(key).map_err(|_| AuthError::Signature)?;
    kp.verify(data, sig).map_err(|_| AuthError::Signature)
}

/// A CONNECT `sig`: clients send base64url, some with padding, some standard base64.
pub fn verify_nonce(key: &str, nonce: &str, sig: &str) -> Result<(), AuthError> {
    verify(key, nonce.as_bytes(), &b64(sig)?)
}

fn b64(text: &str) -> Result<Vec<u8>, AuthError> {
    let text = text.trim().trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .map_err(|_| AuthError::Malformed)
}

/// An account the operator vouched for.
#[derive(Debug)]
struct Account {
    /// The account's own key and its signing keys; a scoped signing key carries
    /// the permissions its users get (the user JWT's own are then ignored).
    signers: HashMap<String, Option<Scope>>,
    exp: i64,
    /// `limits.subs` / `limits.payload` / `limits.conn`.
    limits: ClientLimits,
    /// JetStream limits; `None`: not enabled for the account.
    jetstream: Option<AccountJsLimits>,
}

/// What a scoped signing key imposes on the users it signs.
#[derive(Debug, Clone)]
struct Scope {
    perms: Permissions,
    template: Value,
}

/// The trusted operators and the accounts they issued.
#[derive(Debug, Default)]
pub struct Trust {
    operator_keys: Vec<String>,
    accounts: HashMap<String, Account>,
}

/// A user who proved itself with a JWT.
#[derive(Debug)]
pub struct UserLogin {
    pub user: String,
    pub name: String,
    pub account: String,
    pub perms: Option<Permissions>,
    /// Unix seconds after which the connection must be closed.
    pub expires_unix_s: Option<i64>,
    /// That end is the account JWT's, not the user's.
    pub account_expires: bool,
    pub limits: ClientLimits,
}

impl Trust {
    /// Load the operators and the preloaded accounts. A bad operator JWT is an
    /// error; a bad account JWT is skipped with a warning (users of it cannot
    /// log in), as a resolver would refuse to serve it.
    pub fn new(opts: &TrustOptions) -> Result<(Trust, Vec<String>), AuthError> {
        let mut trust = Trust::default();
        for jwt in &opts.operators {
            let op = decode(jwt)?;
            op.expect_kind("operator")?;
            trust.operator_keys.push(op.sub.clone());
            trust
                .operator_keys
                .extend(signing_keys(&op.nats).into_keys());
        }
        let mut warnings = Vec::new();
        for (key, jwt) in &opts.accounts {
            match trust.account(key, jwt) {
                Ok(acc) => {
                    trust.accounts.insert(key.clone(), acc);
                }
                Err(e) => warnings.push(format!("resolver_preload {key}: {e}")),
            }
        }
        Ok((trust, warnings))
    }

    fn account(&self, key: &str, jwt: &str) -> Result<Account, AuthError> {
        let acc = decode(jwt)?;
        acc.expect_kind("account")?;
        if acc.sub != key {
            return Err(AuthError::Malformed);
        }
        if !self.operator_keys.contains(&acc.iss) {
            return Err(AuthError::Untrusted(acc.iss));
        }
        let mut signers = signing_keys(&acc.nats);
        signers.insert(acc.sub.clone(), None);
        let limits = acc.nats.get("limits");
        Ok(Account {
            signers,
            exp: acc.exp,
            limits: ClientLimits {
                subs_max: limit(limits, "subs", acc.is_v1()),
                payload_bytes_max: limit(limits, "payload", acc.is_v1()),
                account_conns_max: limit(limits, "conn", acc.is_v1()),
            },
            jetstream: limits.and_then(jetstream_limits),
        })
    }

    /// The JetStream limits of a trusted account (`None`: not enabled).
    pub fn jetstream_limits(&self, key: &str) -> Option<AccountJsLimits> {
        self.accounts.get(key)?.jetstream
    }

    /// Check a user JWT (and, unless it is a bearer token, the nonce
    /// signature) for a client connecting from `ip`.
    pub fn login(
        &self,
        jwt: &str,
        nonce: &str,
        sig: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Result<UserLogin, AuthError> {
        let claims = decode(jwt)?;
        claims.expect_kind("user")?;
        let now = unix_now_s();
        claims.check_times(now)?;
        let account_key = claims.nats_str("issuer_account").unwrap_or(&claims.iss);
        let account = self
            .accounts
            .get(account_key)
            .ok_or_else(|| AuthError::UnknownAccount(account_key.to_string()))?;
        if account.exp > 0 && now >= account.exp {
            return Err(AuthError::Expired);
        }
        let scope = account
            .signers
            .get(&claims.iss)
            .ok_or_else(|| AuthError::Untrusted(claims.iss.clone()))?;
        let bearer = claims.nats.get("bearer_token").and_then(Value::as_bool) == Some(true);
        if !bearer {
            let sig = sig
                .filter(|s| !s.is_empty())
                .ok_or(AuthError::NoSignature)?;
            verify_nonce(&claims.sub, nonce, sig)?;
        }
        if !source_allowed(&claims.nats, ip) {
            return Err(AuthError::Source(ip.unwrap_or(IpAddr::from([0, 0, 0, 0]))));
        }
        let window_end = connect_window_end(&claims.nats, now)?;
        // A scoped key's template replaces the user's own permissions and limits.
        let (perms, own_limits) = match scope {
            Some(s) => (Some(s.perms.clone()), &s.template),
            None => (permissions(&claims.nats), &claims.nats),
        };
        let limits = ClientLimits {
            subs_max: tighter(
                limit(Some(own_limits), "subs", claims.is_v1()),
                account.limits.subs_max,
            ),
            payload_bytes_max: tighter(
                limit(Some(own_limits), "payload", claims.is_v1()),
                account.limits.payload_bytes_max,
            ),
            account_conns_max: account.limits.account_conns_max,
        };
        let expires = [claims.exp, account.exp, window_end.unwrap_or(0)]
            .into_iter()
            .filter(|e| *e > 0)
            .min();
        let account_expires =
            account.exp > 0 && Some(account.exp) == expires && account.exp != claims.exp;
        Ok(UserLogin {
            account_expires,
            user: claims.sub.clone(),
            name: claims.name.clone(),
            account: account_key.to_string(),
            perms,
            expires_unix_s: expires,
            limits,
        })
    }
}

/// An account JWT enables JetStream with storage limits (`mem_storage`,
/// `disk_storage`, non-zero) at the top of `limits` or in a tier
/// (`tiered_limits.R1`: Nile runs one replica).
fn jetstream_limits(limits: &Value) -> Option<AccountJsLimits> {
    let r1 = limits.get("tiered_limits").and_then(|t| t.get("R1"));
    let tier = r1.unwrap_or(limits);
    let num = |k: &str| tier.get(k).and_then(Value::as_i64).unwrap_or(0);
    if num("mem_storage") == 0 && num("disk_storage") == 0 {
        return None;
    }
    // In a JWT 0 is "none allowed" for storage, -1 "no limit"; for counts
    // nats-server reads 0 as unlimited too.
    let count = |k: &str| match num(k) {
        0 => -1,
        n => n,
    };
    Some(AccountJsLimits {
        max_memory: num("mem_storage"),
        max_storage: num("disk_storage"),
        max_streams: count("streams"),
        max_consumers: count("consumer"),
        max_ack_pending: count("max_ack_pending"),
        memory_max_stream_bytes: count("mem_max_stream_bytes"),
        storage_max_stream_bytes: count("disk_max_stream_bytes"),
        max_bytes_required: tier.get("max_bytes_required").and_then(Value::as_bool) == Some(true),
        tiered: r1.is_some(),
    })
}

/// `signing_keys`: plain keys, or scoped ones `{kind: "user_scope", key, template}`.
fn signing_keys(nats: &Value) -> HashMap<String, Option<Scope>> {
    let Some(list) = nats.get("signing_keys").and_then(Value::as_array) else {
        return HashMap::new();
    };
    list.iter()
        .filter_map(|k| match k {
            Value::String(s) => Some((s.clone(), None)),
            Value::Object(o) => {
                let key = o.get("key")?.as_str()?.to_string();
                let scope = o.get("template").map(|t| Scope {
                    perms: permissions(t).unwrap_or_default(),
                    template: t.clone(),
                });
                Some((key, scope))
            }
            _ => None,
        })
        .collect()
}

/// A user's `pub`, `sub` and `resp` claims as Nile permissions; `None` when
/// they restrict nothing.
fn permissions(nats: &Value) -> Option<Permissions> {
    let list = |v: &Value, key: &str| -> Option<Vec<String>> {
        let items = v.get(key)?.as_array()?;
        let out: Vec<String> = items
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect();
        (!out.is_empty()).then_some(out)
    };
    let rules = |key: &str| -> Option<SubjectPermission> {
        let v = nats.get(key)?;
        let p = SubjectPermission {
            allow: list(v, "allow"),
            deny: list(v, "deny").unwrap_or_default(),
        };
        (p.allow.is_some() || !p.deny.is_empty()).then_some(p)
    };
    let responses = nats.get("resp").filter(|r| r.is_object()).map(|r| {
        let max = r.get("max").and_then(Value::as_i64).unwrap_or(0);
        let ttl_ns = r.get("ttl").and_then(Value::as_i64).unwrap_or(0);
        ResponsePermission {
            max_msgs: if max <= 0 { 1 } else { max as u64 },
            expires: std::time::Duration::from_nanos(ttl_ns.max(0) as u64),
        }
    });
    let p = Permissions {
        publish: rules("pub"),
        subscribe: rules("sub"),
        allow_responses: responses,
    };
    (p != Permissions::default()).then_some(p)
}

pub fn unix_now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nkeys::KeyPair;

    fn encode(signer: &KeyPair, claims: Value) -> String {
        let h = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
        let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        let sig = signer.sign(format!("{h}.{c}").as_bytes()).unwrap();
        format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    struct Chain {
        op: KeyPair,
        acc: KeyPair,
        trust: Trust,
    }

    fn chain(account_nats: Value) -> Chain {
        let op = KeyPair::new_operator();
        let acc = KeyPair::new_account();
        let op_jwt = encode(
            &op,
            serde_json::json!({"iss": op.public_key(), "sub": op.public_key(), "nats": {"type": "operator"}}),
        );
        let mut nats = account_nats;
        nats["type"] = "account".into();
        let acc_jwt = encode(
            &op,
            serde_json::json!({"iss": op.public_key(), "sub": acc.public_key(), "nats": nats}),
        );
        let opts = TrustOptions {
            operators: vec![op_jwt],
            accounts: vec![(acc.public_key(), acc_jwt)],
        };
        let (trust, warnings) = Trust::new(&opts).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        Chain { op, acc, trust }
    }

    #[test]
    fn user_signed_by_account_logs_in_with_nonce_signature() {
        let c = chain(serde_json::json!({}));
        let user = KeyPair::new_user();
        let jwt = encode(
            &c.acc,
            serde_json::json!({"iss": c.acc.public_key(), "sub": user.public_key(), "name": "u", "nats": {"type": "user", "pub": {"allow": ["a.>"]}, "sub": {}}}),
        );
        let sig = URL_SAFE_NO_PAD.encode(user.sign(b"nonce123").unwrap());
        let login = c.trust.login(&jwt, "nonce123", Some(&sig), None).unwrap();
        assert_eq!(login.account, c.acc.public_key());
        let perms = login.perms.unwrap();
        assert_eq!(perms.publish.unwrap().allow, Some(vec!["a.>".to_string()]));
        assert!(perms.subscribe.is_none());
        assert_eq!(
            c.trust.login(&jwt, "other", Some(&sig), None).unwrap_err(),
            AuthError::Signature
        );
        assert_eq!(
            c.trust.login(&jwt, "nonce123", None, None).unwrap_err(),
            AuthError::NoSignature
        );
    }

    #[test]
    fn bearer_expired_and_foreign_users() {
        let c = chain(serde_json::json!({}));
        let user = KeyPair::new_user();
        let bearer = |exp: i64| {
            encode(
                &c.acc,
                serde_json::json!({"iss": c.acc.public_key(), "sub": user.public_key(), "exp": exp, "nats": {"type": "user", "bearer_token": true}}),
            )
        };
        let later = unix_now_s() + 60;
        assert_eq!(
            c.trust
                .login(&bearer(later), "n", None, None)
                .unwrap()
                .expires_unix_s,
            Some(later)
        );
        assert_eq!(
            c.trust
                .login(&bearer(unix_now_s() - 1), "n", None, None)
                .unwrap_err(),
            AuthError::Expired
        );
        // Issued by a key the account does not list.
        let stranger = KeyPair::new_account();
        let jwt = encode(
            &stranger,
            serde_json::json!({"iss": stranger.public_key(), "sub": user.public_key(), "nats": {"type": "user", "bearer_token": true}}),
        );
        assert!(matches!(
            c.trust.login(&jwt, "n", None, None),
            Err(AuthError::UnknownAccount(_))
        ));
        // A signature that does not match the claims.
        let mut forged = bearer(later);
        forged.insert(forged.len() - 3, 'A');
        assert!(c.trust.login(&forged, "n", None, None).is_err());
        // An operator JWT is not a user JWT.
        let op_jwt = encode(
            &c.op,
            serde_json::json!({"iss": c.op.public_key(), "sub": c.op.public_key(), "nats": {"type": "operator"}}),
        );
        assert!(matches!(
            c.trust.login(&op_jwt, "n", None, None),
            Err(AuthError::Type { .. })
        ));
    }

    #[test]
    fn scoped_signing_key_imposes_its_template() {
        let signer = KeyPair::new_account();
        let c = chain(
            serde_json::json!({"signing_keys": [{"kind": "user_scope", "key": signer.public_key(), "template": {"sub": {"deny": [">"]}}}]}),
        );
        let user = KeyPair::new_user();
        let jwt = encode(
            &signer,
            serde_json::json!({"iss": signer.public_key(), "sub": user.public_key(), "nats": {"type": "user", "issuer_account": c.acc.public_key(), "bearer_token": true, "sub": {"allow": ["x"]}}}),
        );
        let login = c.trust.login(&jwt, "n", None, None).unwrap();
        let sub = login.perms.unwrap().subscribe.unwrap();
        assert_eq!((sub.allow, sub.deny), (None, vec![">".to_string()]));
    }

    #[test]
    fn limits_take_the_tighter_of_user_and_account() {
        let c = chain(serde_json::json!({"limits": {"subs": 3, "payload": -1, "conn": 0}}));
        let user = KeyPair::new_user();
        let jwt = |nats: Value| {
            let mut nats = nats;
            nats["type"] = "user".into();
            nats["bearer_token"] = true.into();
            encode(
                &c.acc,
                serde_json::json!({"iss": c.acc.public_key(), "sub": user.public_key(), "nats": nats}),
            )
        };
        let login = c
            .trust
            .login(
                &jwt(serde_json::json!({"subs": 10, "payload": 64})),
                "n",
                None,
                None,
            )
            .unwrap();
        let want = ClientLimits {
            subs_max: Some(3),
            payload_bytes_max: Some(64),
            account_conns_max: Some(0),
        };
        assert_eq!(login.limits, want);
        // Absent user limits are 0, as nats-server reads them.
        let login = c
            .trust
            .login(&jwt(serde_json::json!({})), "n", None, None)
            .unwrap();
        assert_eq!(login.limits.subs_max, Some(0));
        assert_eq!(login.limits.payload_bytes_max, Some(0));
    }

    #[test]
    fn src_cidrs() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let src = |v: Value| serde_json::json!({ "src": v });
        assert!(source_allowed(&serde_json::json!({}), None));
        assert!(source_allowed(
            &src(serde_json::json!(["127.0.0.0/8"])),
            ip("127.1.2.3")
        ));
        assert!(source_allowed(
            &src(serde_json::json!(["127.0.0.1/32"])),
            ip("::ffff:127.0.0.1")
        ));
        assert!(!source_allowed(
            &src(serde_json::json!(["10.0.0.0/8"])),
            ip("127.0.0.1")
        ));
        assert!(source_allowed(
            &src(serde_json::json!("10.0.0.0/8, 0.0.0.0/0")),
            ip("1.2.3.4")
        ));
        assert!(source_allowed(
            &src(serde_json::json!(["fe80::/10"])),
            ip("fe80::1")
        ));
        assert!(!source_allowed(
            &src(serde_json::json!(["127.0.0.1"])),
            ip("127.0.0.1")
        ));
        assert!(!source_allowed(
            &src(serde_json::json!(["::/0"])),
            ip("127.0.0.1")
        ));
        assert!(!source_allowed(
            &src(serde_json::json!(["0.0.0.0/0"])),
            None
        ));
    }

    #[test]
    fn connect_times() {
        let at = |h: i64, m: i64| 20_000 * DAY_S + h * 3600 + m * 60;
        let times = |w: Value| serde_json::json!({ "times": w });
        let office = times(serde_json::json!([{"start": "09:00:00", "end": "17:00:00"}]));
        assert_eq!(connect_window_end(&office, at(12, 0)), Ok(Some(at(17, 0))));
        assert_eq!(
            connect_window_end(&office, at(8, 59)),
            Err(AuthError::OutsideTimes)
        );
        assert_eq!(
            connect_window_end(&office, at(17, 0)),
            Err(AuthError::OutsideTimes)
        );
        let night = times(serde_json::json!([{"start": "22:00:00", "end": "06:00:00"}]));
        assert_eq!(connect_window_end(&night, at(23, 30)), Ok(Some(at(30, 0))));
        assert_eq!(connect_window_end(&night, at(5, 0)), Ok(Some(at(6, 0))));
        assert_eq!(
            connect_window_end(&night, at(12, 0)),
            Err(AuthError::OutsideTimes)
        );
        let both = times(serde_json::json!([
            {"start": "09:00:00", "end": "17:00:00"},
            {"start": "10:00:00", "end": "18:30:00"}
        ]));
        assert_eq!(connect_window_end(&both, at(12, 0)), Ok(Some(at(18, 30))));
        assert_eq!(connect_window_end(&serde_json::json!({}), 0), Ok(None));
        let bad = times(serde_json::json!([{"start": "9am", "end": "17:00:00"}]));
        assert_eq!(
            connect_window_end(&bad, at(12, 0)),
            Err(AuthError::OutsideTimes)
        );
        let mut zoned = office.clone();
        zoned["times_location"] = "America/New_York".into();
        assert_eq!(
            connect_window_end(&zoned, at(12, 0)),
            Err(AuthError::OutsideTimes)
        );
    }

    #[test]
    fn v1_jwts_sign_the_claims_part_only() {
        let op = KeyPair::new_operator();
        let h = URL_SAFE_NO_PAD.encode(br#"{"typ":"jwt","alg":"ed25519"}"#);
        let claims =
            serde_json::json!({"iss": op.public_key(), "sub": op.public_key(), "type": "operator"});
        let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        let sig = URL_SAFE_NO_PAD.encode(op.sign(c.as_bytes()).unwrap());
        let decoded = decode(&format!("{h}.{c}.{sig}")).unwrap();
        assert_eq!(decoded.kind(), "operator");
        let wrong = URL_SAFE_NO_PAD.encode(op.sign(format!("{h}.{c}").as_bytes()).unwrap());
        assert_eq!(
            decode(&format!("{h}.{c}.{wrong}")).unwrap_err(),
            AuthError::Signature
        );
    }

    #[test]
    fn account_not_signed_by_the_operator_is_skipped() {
        let op = KeyPair::new_operator();
        let other = KeyPair::new_operator();
        let acc = KeyPair::new_account();
        let op_jwt = encode(
            &op,
            serde_json::json!({"iss": op.public_key(), "sub": op.public_key(), "nats": {"type": "operator"}}),
        );
        let acc_jwt = encode(
            &other,
            serde_json::json!({"iss": other.public_key(), "sub": acc.public_key(), "nats": {"type": "account"}}),
        );
        let (trust, warnings) = Trust::new(&TrustOptions {
            operators: vec![op_jwt],
            accounts: vec![(acc.public_key(), acc_jwt)],
        })
        .unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(trust.accounts.is_empty());
    }
}
