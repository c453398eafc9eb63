//! Who may connect, and what they may publish and subscribe to.
//!
//! nats-server's forms (token, user/password, users list with permissions,
//! `no_auth_user`) plus the two Memphis login forms layered on top:
//! `<user>::<token>` and `<user>$<account>`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

pub use crate::jwt::ClientLimits;
use crate::jwt::{AuthError, Trust};
use crate::options::{AuthOptions, Permissions, ResponsePermission, SubjectPermission, User};
use crate::subject;

/// The credentials a client offered in CONNECT.
#[derive(Debug, Default, Clone)]
pub struct Credentials<'a> {
    pub user: Option<&'a str>,
    pub pass: Option<&'a str>,
    pub token: Option<&'a str>,
    /// An nkey user's public key, or (with `jwt`) the JWT user's.
    pub nkey: Option<&'a str>,
    /// The client's signature of `nonce`.
    pub sig: Option<&'a str>,
    pub jwt: Option<&'a str>,
    /// The nonce this server sent in INFO.
    pub nonce: &'a str,
    /// Where the client connects from (a user JWT's `src` may restrict it).
    pub client_ip: Option<IpAddr>,
}

/// A successful login.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub user: Option<String>,
    /// The account whose subject space the client joins (`None`: `$G`).
    pub account: Option<String>,
    /// Memphis's `<user>$<account>`: a name shown for the connection only;
    /// the client stays in its user's account, where JetStream is.
    pub account_label: Option<String>,
    pub perms: Option<Arc<Perms>>,
    /// Unix seconds when a JWT login runs out; the connection is closed then.
    pub expires_unix_s: Option<i64>,
    /// The login runs out with its account JWT (nats-server says so in the `-ERR`).
    pub account_expires: bool,
    /// A JWT login's limits; unlimited otherwise.
    pub limits: ClientLimits,
}

/// One allow or deny entry: a subject pattern, and for subscribe entries an
/// optional queue group (`"foo.* workers"`, nats-server's queue permission form).
#[derive(Debug, Clone, Default)]
struct Entry {
    subject: Vec<u8>,
    queue: Option<Vec<u8>>,
}

impl Entry {
    fn parse(text: &str) -> Self {
        let mut parts = text.split_whitespace();
        let subject = parts.next().unwrap_or("").as_bytes().to_vec();
        let queue = parts.next().map(|q| q.as_bytes().to_vec());
        Entry { subject, queue }
    }

    /// Does this entry cover `subj` (a subset of its pattern) with `queue`?
    /// An entry without a queue covers every queue; one with a queue covers only
    /// subscriptions in a matching queue group.
    fn covers(&self, subj: &[u8], queue: Option<&[u8]>) -> bool {
        let queue_ok = match (&self.queue, queue) {
            (None, _) => true,
            (Some(p), Some(q)) => subject::matches(p, q),
            (Some(_), None) => false,
        };
        queue_ok && subject::is_subset(subj, &self.subject)
    }
}

/// Allow/deny lists ready for matching.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    allow: Option<Vec<Entry>>,
    deny: Vec<Entry>,
}

impl Rules {
    fn compile(p: &SubjectPermission) -> Self {
        let list = |v: &Vec<String>| v.iter().map(|s| Entry::parse(s)).collect();
        Rules {
            allow: p.allow.as_ref().map(list),
            deny: list(&p.deny),
        }
    }

    /// A literal subject (publish) or a pattern (subscribe) allowed?
    /// A pattern is allowed when it lies inside an allowed pattern and not
    /// wholly inside a denied one.
    pub fn allows(&self, subj: &[u8]) -> bool {
        self.allows_queue(subj, None)
    }

    /// As [`Rules::allows`], for a subscription in queue group `queue`.
    pub fn allows_queue(&self, subj: &[u8], queue: Option<&[u8]>) -> bool {
        let allowed = self
            .allow
            .as_ref()
            .is_none_or(|a| a.iter().any(|e| e.covers(subj, queue)));
        allowed && !self.deny.iter().any(|e| e.covers(subj, queue))
    }

    /// For delivery through a wildcard subscription: is this literal subject denied?
    pub fn denies_literal(&self, subj: &[u8]) -> bool {
        self.deny
            .iter()
            .any(|e| e.queue.is_none() && subject::matches(&e.subject, subj))
    }

    pub fn has_deny(&self) -> bool {
        !self.deny.is_empty()
    }

    /// `{"allow": [...], "deny": [...]}` as `$SYS.REQ.USER.INFO` shows it.
    pub fn to_json(&self) -> serde_json::Value {
        let text = |e: &Entry| {
            let mut s = String::from_utf8_lossy(&e.subject).into_owned();
            if let Some(q) = &e.queue {
                s.push(' ');
                s.push_str(&String::from_utf8_lossy(q));
            }
            serde_json::Value::String(s)
        };
        let mut v = serde_json::Map::new();
        if let Some(allow) = &self.allow {
            v.insert("allow".into(), allow.iter().map(text).collect());
        }
        if !self.deny.is_empty() {
            v.insert("deny".into(), self.deny.iter().map(text).collect());
        }
        serde_json::Value::Object(v)
    }
}

impl Perms {
    /// The `permissions` object of `$SYS.REQ.USER.INFO`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::Map::new();
        if let Some(p) = &self.publish {
            v.insert("publish".into(), p.to_json());
        }
        if let Some(s) = &self.subscribe {
            v.insert("subscribe".into(), s.to_json());
        }
        if let Some(r) = &self.responses {
            v.insert(
                "responses".into(),
                serde_json::json!({"max": r.max_msgs, "ttl": r.expires.as_nanos() as u64}),
            );
        }
        serde_json::Value::Object(v)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Perms {
    pub publish: Option<Rules>,
    pub subscribe: Option<Rules>,
    pub responses: Option<ResponsePermission>,
}

impl Perms {
    fn compile(p: &Permissions) -> Self {
        Perms {
            publish: p.publish.as_ref().map(Rules::compile),
            subscribe: p.subscribe.as_ref().map(Rules::compile),
            responses: p.allow_responses,
        }
    }

    pub fn can_publish(&self, subj: &[u8]) -> bool {
        self.publish.as_ref().is_none_or(|r| r.allows(subj))
    }

    pub fn can_subscribe(&self, subj: &[u8], queue: Option<&[u8]>) -> bool {
        self.subscribe
            .as_ref()
            .is_none_or(|r| r.allows_queue(subj, queue))
    }
}

struct CompiledUser {
    password: String,
    account: Option<String>,
    perms: Option<Arc<Perms>>,
}

/// The auth configuration, compiled once at start (and on reload).
pub struct Authenticator {
    token: Option<String>,
    users: HashMap<String, CompiledUser>,
    /// Users who log in by signing the nonce, keyed by public key.
    nkey_users: HashMap<String, CompiledUser>,
    /// Operator mode: only JWT users log in.
    trust: Option<Trust>,
    default_perms: Option<Arc<Perms>>,
    no_auth_user: Option<String>,
}

impl Authenticator {
    /// Compile the options; an operator JWT that does not verify is an error,
    /// an account JWT that does not is a warning (returned for the log).
    pub fn new(opts: &AuthOptions) -> Result<(Self, Vec<String>), AuthError> {
        let default_perms = opts
            .default_permissions
            .as_ref()
            .map(|p| Arc::new(Perms::compile(p)));
        let compile = |u: &User| {
            let perms = u
                .permissions
                .as_ref()
                .map(|p| Arc::new(Perms::compile(p)))
                .or_else(|| default_perms.clone());
            CompiledUser {
                password: u.password.clone(),
                account: u.account.clone(),
                perms,
            }
        };
        let (keyed, named): (Vec<&User>, Vec<&User>) =
            opts.users.iter().partition(|u| u.nkey.is_some());
        let nkey_users = keyed
            .into_iter()
            .filter_map(|u| Some((u.nkey.clone()?, compile(u))))
            .collect();
        let users = named
            .into_iter()
            .map(|u| (u.username.clone(), compile(u)))
            .collect();
        let (trust, warnings) = match &opts.trust {
            Some(t) => {
                let (trust, warnings) = Trust::new(t)?;
                (Some(trust), warnings)
            }
            None => (None, Vec::new()),
        };
        let auth = Authenticator {
            token: opts.token.clone(),
            users,
            nkey_users,
            trust,
            default_perms,
            no_auth_user: opts.no_auth_user.clone(),
        };
        Ok((auth, warnings))
    }

    /// Compile options that have already been checked (tests, reload after a
    /// successful load): a failing operator JWT leaves nobody able to log in.
    pub fn new_or_closed(opts: &AuthOptions) -> Self {
        match Self::new(opts) {
            Ok((auth, _)) => auth,
            Err(e) => {
                tracing::error!("operator JWT refused: {e}; no one can log in");
                let closed = AuthOptions {
                    trust: Some(Default::default()),
                    ..AuthOptions::default()
                };
                Self::new(&closed)
                    .map(|(a, _)| a)
                    .unwrap_or_else(|_| Self::open())
            }
        }
    }

    fn open() -> Self {
        Authenticator {
            token: None,
            users: HashMap::new(),
            nkey_users: HashMap::new(),
            trust: None,
            default_perms: None,
            no_auth_user: None,
        }
    }

    pub fn required(&self) -> bool {
        self.token.is_some()
            || !self.users.is_empty()
            || !self.nkey_users.is_empty()
            || self.trust.is_some()
    }

    /// Does INFO need a nonce for clients to sign?
    pub fn wants_nonce(&self) -> bool {
        !self.nkey_users.is_empty() || self.trust.is_some()
    }

    /// Check CONNECT's credentials. `None`: Authorization Violation.
    pub fn authenticate(&self, c: &Credentials<'_>) -> Option<Identity> {
        if !self.required() {
            return Some(Identity::default());
        }
        if let Some(trust) = &self.trust {
            return self.login_jwt(trust, c);
        }
        if let Some(key) = c.nkey.filter(|k| !k.is_empty()) {
            return self.login_nkey(key, c);
        }
        let user = c.user.filter(|u| !u.is_empty());
        let pass = c.pass.unwrap_or("");
        let token = c.token.filter(|t| !t.is_empty());
        if let Some(token) = token {
            // A token counts when one is configured; otherwise (users list only)
            // nats-server ignores it and checks the user and password.
            if let Some(id) = self.login_token(token) {
                return Some(id);
            }
            if user.is_none() || self.users.is_empty() {
                return None;
            }
        }
        if let Some(user) = user {
            if pass.is_empty() && user.contains("::") {
                return self.login_token(user);
            }
            return self.login_user(user, pass);
        }
        let name = self.no_auth_user.as_ref()?;
        self.identity_of(name)
    }

    fn login_jwt(&self, trust: &Trust, c: &Credentials<'_>) -> Option<Identity> {
        let jwt = c.jwt.filter(|j| !j.is_empty())?;
        match trust.login(jwt, c.nonce, c.sig, c.client_ip) {
            Ok(login) => Some(Identity {
                user: Some(login.user),
                account: Some(login.account),
                perms: login.perms.as_ref().map(|p| Arc::new(Perms::compile(p))),
                expires_unix_s: login.expires_unix_s,
                account_expires: login.account_expires,
                limits: login.limits,
                account_label: None,
            }),
            Err(e) => {
                tracing::debug!("JWT login refused: {e}");
                None
            }
        }
    }

    fn login_nkey(&self, key: &str, c: &Credentials<'_>) -> Option<Identity> {
        let u = self.nkey_users.get(key)?;
        let sig = c.sig.filter(|s| !s.is_empty())?;
        if let Err(e) = crate::jwt::verify_nonce(key, c.nonce, sig) {
            tracing::debug!("nkey login refused: {e}");
            return None;
        }
        Some(Identity {
            user: Some(key.to_string()),
            account: u.account.clone(),
            perms: u.perms.clone(),
            ..Identity::default()
        })
    }

    fn login_token(&self, offered: &str) -> Option<Identity> {
        let expected = self.token.as_ref()?;
        if password_ok(expected, offered) {
            return Some(Identity {
                perms: self.default_perms.clone(),
                ..Identity::default()
            });
        }
        // Memphis: `<user>::<token>`; the user must exist when a users list does.
        let (user, token) = offered.split_once("::")?;
        if !password_ok(expected, token) || user.is_empty() {
            return None;
        }
        if self.users.is_empty() {
            return Some(Identity {
                user: Some(user.to_string()),
                perms: self.default_perms.clone(),
                ..Identity::default()
            });
        }
        self.identity_of(user)
    }

    fn login_user(&self, user: &str, pass: &str) -> Option<Identity> {
        if let Some(u) = self.users.get(user) {
            return password_ok(&u.password, pass)
                .then(|| self.identity_of(user))
                .flatten();
        }
        // Memphis: `<user>$<account>` logs in as `<user>`, recording the account.
        let (base, account) = user.rsplit_once('$')?;
        let u = self.users.get(base)?;
        if !password_ok(&u.password, pass) {
            return None;
        }
        let mut id = self.identity_of(base)?;
        id.account_label = Some(account.to_string());
        Some(id)
    }

    /// A JWT account's JetStream limits (`None`: not enabled, or not a JWT account).
    pub fn jwt_jetstream_limits(&self, account: &str) -> Option<crate::options::AccountJsLimits> {
        self.trust.as_ref()?.jetstream_limits(account)
    }

    fn identity_of(&self, name: &str) -> Option<Identity> {
        let u = self.users.get(name)?;
        Some(Identity {
            user: Some(name.to_string()),
            account: u.account.clone(),
            perms: u.perms.clone(),
            ..Identity::default()
        })
    }
}

/// Would one more connection of `account` go past `conns_max`? Counts the
/// clients already logged in to it, from the server's registry.
pub fn account_conns_full<'a>(
    clients: impl Iterator<Item = &'a Arc<crate::client::ClientHandle>>,
    account: &str,
    conns_max: usize,
) -> bool {
    let logged_in = clients
        .filter(|c| c.meta.lock().account.as_deref() == Some(account))
        .take(conns_max)
        .count();
    logged_in >= conns_max
}

fn is_bcrypt(s: &str) -> bool {
    s.starts_with("$2a$") || s.starts_with("$2b$") || s.starts_with("$2y$")
}

/// Compare in constant time, or verify a bcrypt hash, as nats-server does.
fn password_ok(expected: &str, offered: &str) -> bool {
    if is_bcrypt(expected) {
        return bcrypt::verify(offered, expected).unwrap_or(false);
    }
    let (a, b) = (expected.as_bytes(), offered.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, pass: &str) -> User {
        User {
            username: name.into(),
            password: pass.into(),
            ..User::default()
        }
    }

    fn creds<'a>(
        user: Option<&'a str>,
        pass: Option<&'a str>,
        token: Option<&'a str>,
    ) -> Credentials<'a> {
        Credentials {
            user,
            pass,
            token,
            ..Credentials::default()
        }
    }

    #[test]
    fn none_configured_lets_anyone_in() {
        let a = Authenticator::new_or_closed(&AuthOptions::default());
        assert!(a.authenticate(&creds(None, None, None)).is_some());
    }

    #[test]
    fn token_and_memphis_token() {
        let opts = AuthOptions {
            token: Some("T".into()),
            users: vec![user("app", "pw")],
            ..AuthOptions::default()
        };
        let a = Authenticator::new_or_closed(&opts);
        assert!(a.authenticate(&creds(None, None, Some("T"))).is_some());
        assert!(a.authenticate(&creds(None, None, Some("X"))).is_none());
        let id = a.authenticate(&creds(None, None, Some("app::T"))).unwrap();
        assert_eq!(id.user.as_deref(), Some("app"));
        let id = a
            .authenticate(&creds(Some("app::T"), Some(""), None))
            .unwrap();
        assert_eq!(id.user.as_deref(), Some("app"));
        assert!(a
            .authenticate(&creds(None, None, Some("ghost::T")))
            .is_none());
        assert!(a.authenticate(&creds(None, None, Some("app::X"))).is_none());
        assert!(a
            .authenticate(&creds(Some("app"), Some("pw"), None))
            .is_some());
        assert!(a.authenticate(&creds(None, None, None)).is_none());
        // A wrong token beside a right user/password: the users list decides.
        assert!(a
            .authenticate(&creds(Some("app"), Some("pw"), Some("X")))
            .is_some());
        assert!(a
            .authenticate(&creds(Some("app"), Some("no"), Some("X")))
            .is_none());
    }

    #[test]
    fn user_dollar_account() {
        let opts = AuthOptions {
            users: vec![user("root", "pw"), user("x$1", "other")],
            ..AuthOptions::default()
        };
        let a = Authenticator::new_or_closed(&opts);
        let id = a
            .authenticate(&creds(Some("root$7"), Some("pw"), None))
            .unwrap();
        assert_eq!(
            (id.user.as_deref(), id.account_label.as_deref()),
            (Some("root"), Some("7"))
        );
        let id = a
            .authenticate(&creds(Some("x$1"), Some("other"), None))
            .unwrap();
        assert_eq!(id.user.as_deref(), Some("x$1"));
        assert!(a
            .authenticate(&creds(Some("root$7"), Some("bad"), None))
            .is_none());
    }

    #[test]
    fn bcrypt_password() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let a = Authenticator::new_or_closed(&AuthOptions {
            users: vec![user("u", &hash)],
            ..AuthOptions::default()
        });
        assert!(a
            .authenticate(&creds(Some("u"), Some("s3cret"), None))
            .is_some());
        assert!(a
            .authenticate(&creds(Some("u"), Some("nope"), None))
            .is_none());
    }

    #[test]
    fn no_auth_user_maps_anonymous() {
        let opts = AuthOptions {
            users: vec![user("guest", "pw")],
            no_auth_user: Some("guest".into()),
            ..AuthOptions::default()
        };
        let id = Authenticator::new_or_closed(&opts)
            .authenticate(&creds(None, None, None))
            .unwrap();
        assert_eq!(id.user.as_deref(), Some("guest"));
    }

    #[test]
    fn rules() {
        let p = SubjectPermission {
            allow: Some(vec!["a.>".into(), "b".into()]),
            deny: vec!["a.secret".into()],
        };
        let r = Rules::compile(&p);
        assert!(r.allows(b"a.x"));
        assert!(r.allows(b"a.*"));
        assert!(!r.allows(b"a.secret"));
        assert!(!r.allows(b"c"));
        assert!(!r.allows(b">"));
        assert!(r.denies_literal(b"a.secret"));
    }

    #[test]
    fn queue_rules() {
        let p = SubjectPermission {
            allow: Some(vec!["jobs workers".into(), "open".into()]),
            deny: vec!["open bad".into()],
        };
        let r = Rules::compile(&p);
        assert!(!r.allows_queue(b"jobs", None));
        assert!(r.allows_queue(b"jobs", Some(b"workers")));
        assert!(!r.allows_queue(b"jobs", Some(b"other")));
        assert!(r.allows_queue(b"open", None));
        assert!(r.allows_queue(b"open", Some(b"good")));
        assert!(!r.allows_queue(b"open", Some(b"bad")));
        assert!(!r.denies_literal(b"open"));
    }
}
