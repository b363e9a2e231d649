//! The server-side soak of #16, on loopback only: two `liveproof-verifier serve` processes
//! share one private `redis-server` (AOF, `appendfsync always`) under load from
//! [`CLIENTS`] threads for `LIVEPROOF_SOAK_SECONDS` (default 30 s; 300 s for the documented
//! run). Each client alternates between the servers and sends, per session, a tampered copy
//! (one bit flipped), the valid SYNTHETIC result, a replay of it to either server, and now
//! and then an expired result and a burst of sessions for one subject past its attempt limit.
//! At 1/3 of the run one verifier is killed with SIGKILL and restarted on the same port; at
//! 2/3 Redis is killed and restarted on the same port and directory; once it is back, results
//! accepted before the restarts are replayed (the claims must have survived).
//!
//! Afterwards, from the clients' answers and both servers' audit files: no session accepted
//! twice; every valid result accepted once, or, when a fault lost the answer to its first
//! send (503 or no answer), its resend answered `replayed` with `same_result: true` (the
//! identical result claimed the session: the backend rule of docs/trust.md credits it) and
//! claimed once as the audit or Redis shows (each such case is printed); every replay of the
//! valid bytes `replayed` with `same_result: true`; no status outside 200/429/503; 503 only
//! while Redis was down (plus [`REDIS_GRACE`]); connection errors only from the killed server
//! while it was down; tampered, expired and replayed results always rejected for their
//! reasons, the first two never with 503 even while Redis is down; a subject's sixth session
//! in a burst refused with 429, and a fresh subject never.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use liveproof_core::trust::{ServerKeySet, SoftwareSigner};
use liveproof_verifier::registry::MemoryDeviceKeyRegistry;
use liveproof_verifier::server::decode_base64;
use liveproof_verifier::store::MemoryReplayStore;
use liveproof_verifier::testkit::{sign_issued, PASSING_RAW};
use liveproof_verifier::{
    base64_encode, config, IssueRequest, IssuedToken, Verifier, VerifierConfig,
};
use support::http::{request, HttpResponse};

/// The tenant both servers serve.
const TENANT: &str = "acme";

/// Client threads.
const CLIENTS: usize = 4;

/// Sessions one subject may be issued in the window (the verifier's default `max_attempts`).
const MAX_ATTEMPTS: usize = 5;

/// How long Redis stays down, and the killed verifier.
const REDIS_DOWN: Duration = Duration::from_secs(3);
const VERIFIER_DOWN: Duration = Duration::from_secs(2);

/// After Redis answers PING again, 503s are still allowed this long: requests in flight wait
/// up to the verifier's 2 s command bound, and its connection manager reconnects by itself.
const REDIS_GRACE: Duration = Duration::from_secs(5);

/// After the restarted verifier answers `/healthz`, connection errors are allowed this long.
const VERIFIER_GRACE: Duration = Duration::from_secs(1);

/// Longest one HTTP exchange may take before it counts as unreachable.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// After the load ends, how long clients keep resending results still unanswered.
const DRAIN: Duration = Duration::from_secs(30);

/// What a request was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    /// `POST /v1/sessions` for a fresh subject.
    Session,
    /// `POST /v1/sessions` in a burst of `MAX_ATTEMPTS + 1` for one subject.
    Burst,
    /// A valid result, first send.
    Valid,
    /// A valid result sent again after a 503 or a connection error.
    Resend,
    /// A valid result that was accepted, sent again at once to either server.
    Replay,
    /// A valid result accepted before Redis went down, sent again after it came back (its
    /// token still valid): the claim must have survived the restart.
    LateReplay,
    /// A valid result with one byte flipped, sent before the valid one.
    Tampered,
    /// A result whose token expired an hour ago.
    Expired,
}

/// An answer, or its absence.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Answer {
    /// 200 from `/v1/sessions`.
    Issued,
    /// 200 with `accepted: true`.
    Accepted,
    /// 200 with `accepted: false` and this `reject_reason`; `retryable` and `same_result` as
    /// the verdict says.
    Rejected {
        reason: String,
        retryable: bool,
        same_result: bool,
    },
    /// 503 with this code or reject reason.
    Unavailable(String),
    /// 429 `too_many_attempts`.
    TooMany,
    /// Any other status (a 500 among them).
    Status(u16, String),
    /// No HTTP answer: connection refused, reset, or [`HTTP_TIMEOUT`].
    Unreachable(String),
}

impl Answer {
    fn label(&self) -> String {
        match self {
            Answer::Issued => "issued".into(),
            Answer::Accepted => "accepted".into(),
            Answer::Rejected { reason, .. } => format!("rejected:{reason}"),
            Answer::Unavailable(code) => format!("503:{code}"),
            Answer::TooMany => "429:too_many_attempts".into(),
            Answer::Status(status, _) => format!("status:{status}"),
            Answer::Unreachable(_) => "unreachable".into(),
        }
    }
}

/// One request as the client saw it; times from the soak's start.
#[derive(Clone, Debug)]
struct Event {
    kind: Kind,
    server: usize,
    sent: Duration,
    answered: Duration,
    session: String,
    answer: Answer,
}

/// A valid result not yet accepted: resent until it is, or until it is answered otherwise.
struct Pending {
    session: String,
    bytes: Vec<u8>,
    server: usize,
    last: Instant,
}

/// How a valid result ended, as its client saw it.
#[derive(Debug)]
enum Fate {
    /// Accepted by this (first or later) send.
    Accepted,
    /// Answered `replayed` on a resend, with no acceptance seen: the first send's answer was
    /// lost. `claimed` says whether Redis held the claim when the replay answer came;
    /// `same_result` is the verdict's (it must be true: the identical bytes made the claim).
    LostAnswer {
        claimed: Option<bool>,
        same_result: bool,
    },
    /// Still unanswered (503 or unreachable) when the drain ended.
    Unresolved,
    /// Rejected otherwise: a failure.
    Rejected(Answer),
}

/// What a client thread hands back.
#[derive(Default)]
struct ClientLog {
    events: Vec<Event>,
    fates: Vec<(String, Fate)>,
    /// Per burst: the answers in order.
    bursts: Vec<Vec<Event>>,
}

/// The fault timeline, from the soak's start.
#[derive(Clone, Debug, Default)]
struct Faults {
    /// (server, killed at, healthy again at)
    verifier_down: Vec<(usize, Duration, Duration)>,
    /// (killed at, answering PING again at)
    redis_down: Vec<(Duration, Duration)>,
}

impl Faults {
    /// Whether a request over `[sent, answered]` overlaps a Redis outage (with grace).
    fn redis_outage(&self, sent: Duration, answered: Duration) -> bool {
        self.redis_down
            .iter()
            .any(|&(down, up)| sent <= up + REDIS_GRACE && answered >= down)
    }

    /// Whether a request to `server` over `[sent, answered]` overlaps that server's outage.
    fn verifier_outage(&self, server: usize, sent: Duration, answered: Duration) -> bool {
        self.verifier_down
            .iter()
            .any(|&(s, down, up)| s == server && sent <= up + VERIFIER_GRACE && answered >= down)
    }
}

/// A `liveproof-verifier serve` process on a fixed loopback port.
struct VerifierProcess {
    port: u16,
    child: Option<Child>,
    keys: PathBuf,
    redis_url: String,
    audit: PathBuf,
    log: PathBuf,
}

impl VerifierProcess {
    fn start(port: u16, keys: &Path, redis_url: &str, dir: &Path, name: &str) -> Self {
        let mut process = Self {
            port,
            child: None,
            keys: keys.to_owned(),
            redis_url: redis_url.to_owned(),
            audit: dir.join(format!("{name}.audit.jsonl")),
            log: dir.join(format!("{name}.log")),
        };
        process.restart();
        process
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// SIGKILL, then wait for the process.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process (again) on the same port, audit file and log, and waits until
    /// `/healthz` answers 200 (a few tries: the port may still be held a moment).
    fn restart(&mut self) {
        self.kill();
        for attempt in 1..=5 {
            let log = File::options()
                .create(true)
                .append(true)
                .open(&self.log)
                .expect("verifier log");
            let child = Command::new(env!("CARGO_BIN_EXE_liveproof-verifier"))
                .arg("serve")
                .args(["--listen", &format!("127.0.0.1:{}", self.port)])
                .args(["--redis", &self.redis_url])
                .arg("--key")
                .arg(&self.keys)
                .args(["--tenant", TENANT])
                .arg("--audit")
                .arg(&self.audit)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn liveproof-verifier serve");
            self.child = Some(child);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                    break;
                }
                if healthy(self.addr()) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            eprintln!(
                "verifier on port {}: not healthy (try {attempt})",
                self.port
            );
            self.kill();
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!(
            "verifier on port {} never became healthy; log:\n{}",
            self.port,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

impl Drop for VerifierProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether `GET /healthz` answers 200 within a second.
fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    reply.starts_with(b"HTTP/1.1 200")
}

/// `EXISTS key` on the Redis at `port`: `None` when it cannot say.
fn redis_exists(port: u16, key: &str) -> Option<bool> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let command = format!("*2\r\n$6\r\nEXISTS\r\n${}\r\n{key}\r\n", key.len());
    stream.write_all(command.as_bytes()).ok()?;
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).ok()?;
    match &buf[..n] {
        b":1\r\n" => Some(true),
        b":0\r\n" => Some(false),
        _ => None,
    }
}

/// Everything the client threads share.
struct Shared {
    start: Instant,
    load_until: Duration,
    addrs: [SocketAddr; 2],
    redis_port: u16,
    issuer: Verifier,
    device: SoftwareSigner,
    faults: Mutex<Faults>,
}

/// An accepted result kept for a [`Kind::LateReplay`].
struct Kept {
    session: String,
    bytes: Vec<u8>,
    expires_at: u64,
}

/// Accepted results kept per client for late replays: the first few, and the last few
/// before Redis went down.
const KEPT_EARLY: usize = 16;
const KEPT_RECENT: usize = 48;

/// One client thread's HTTP and bookkeeping.
struct Client<'a> {
    shared: &'a Shared,
    id: usize,
    rt: tokio::runtime::Runtime,
    log: ClientLog,
    rng: u64,
}

impl Client<'_> {
    fn now(&self) -> Duration {
        self.shared.start.elapsed()
    }

    /// A xorshift64 step (the tamper positions; seeded per client).
    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn post(&self, server: usize, path: &str, content_type: &str, body: &[u8]) -> Answer {
        let addr = self.shared.addrs[server];
        let sent = self.rt.block_on(async {
            tokio::time::timeout(
                HTTP_TIMEOUT,
                request(addr, "POST", path, Some(content_type), body),
            )
            .await
        });
        match sent {
            Err(_) => Answer::Unreachable("timeout".into()),
            Ok(Err(e)) => Answer::Unreachable(e.to_string()),
            Ok(Ok(response)) => classify(&response),
        }
    }

    /// Sends and records one request.
    fn send(
        &mut self,
        kind: Kind,
        server: usize,
        session: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Event {
        let sent = self.now();
        let answer = self.post(server, path, content_type, body);
        let event = Event {
            kind,
            server,
            sent,
            answered: self.now(),
            session: session.to_owned(),
            answer,
        };
        self.log.events.push(event.clone());
        event
    }

    fn issue(&mut self, kind: Kind, server: usize, subject: &str) -> (Event, Option<IssuedToken>) {
        let body = serde_json::json!({"tenant": TENANT, "subject": subject}).to_string();
        let sent = self.now();
        let addr = self.shared.addrs[server];
        let response = self.rt.block_on(async {
            tokio::time::timeout(
                HTTP_TIMEOUT,
                request(
                    addr,
                    "POST",
                    "/v1/sessions",
                    Some("application/json"),
                    body.as_bytes(),
                ),
            )
            .await
        });
        let (answer, issued) = match response {
            Err(_) => (Answer::Unreachable("timeout".into()), None),
            Ok(Err(e)) => (Answer::Unreachable(e.to_string()), None),
            Ok(Ok(r)) if r.status == 200 => {
                let v = r.json();
                let text = |k: &str| v[k].as_str().expect("token field").to_owned();
                let token = decode_base64(&text("token_b64")).expect("token base64");
                let issued = IssuedToken {
                    token_b64: text("token_b64"),
                    token,
                    session_id: text("session_id"),
                    expires_at: v["expires_at"].as_u64().expect("expires_at"),
                    policy_sha256: text("policy_sha256"),
                    policy_json: text("policy_json"),
                };
                (Answer::Issued, Some(issued))
            }
            Ok(Ok(r)) => (classify(&r), None),
        };
        let event = Event {
            kind,
            server,
            sent,
            answered: self.now(),
            session: issued
                .as_ref()
                .map(|i| i.session_id.clone())
                .unwrap_or_default(),
            answer,
        };
        self.log.events.push(event.clone());
        (event, issued)
    }

    fn verify(&mut self, kind: Kind, server: usize, session: &str, bytes: &[u8]) -> Event {
        let path = format!("/v1/verify?session_id={session}&tenant={TENANT}");
        self.send(kind, server, session, &path, "application/cose", bytes)
    }

    /// Resends pending valid results last tried at least 250 ms ago (all of them when
    /// `all`), alternating servers; settles those that get a final answer.
    fn resend_pending(&mut self, pending: &mut Vec<Pending>, all: bool) {
        let mut kept = Vec::new();
        for mut p in std::mem::take(pending) {
            if !all && p.last.elapsed() < Duration::from_millis(250) {
                kept.push(p);
                continue;
            }
            p.server = 1 - p.server;
            let event = self.verify(Kind::Resend, p.server, &p.session, &p.bytes);
            p.last = Instant::now();
            match event.answer {
                Answer::Accepted => self.log.fates.push((p.session, Fate::Accepted)),
                Answer::Unavailable(_) | Answer::Unreachable(_) => kept.push(p),
                Answer::Rejected {
                    ref reason,
                    same_result,
                    ..
                } if reason == "replayed" => {
                    let key = format!("liveproof:replay:{}", p.session);
                    let claimed = redis_exists(self.shared.redis_port, &key);
                    self.log.fates.push((
                        p.session,
                        Fate::LostAnswer {
                            claimed,
                            same_result,
                        },
                    ));
                }
                other => self.log.fates.push((p.session, Fate::Rejected(other))),
            }
        }
        *pending = kept;
    }

    /// One burst: `MAX_ATTEMPTS + 1` sessions for one new subject, alternating servers.
    fn burst(&mut self, iteration: u64) {
        let subject = format!("burst-{}-{iteration}", self.id);
        let mut answers = Vec::new();
        for k in 0..=MAX_ATTEMPTS {
            let (event, _) = self.issue(Kind::Burst, k % 2, &subject);
            answers.push(event);
        }
        self.log.bursts.push(answers);
    }

    /// A result whose token was issued an hour ago for 60 s (signed by the same server key).
    fn expired(&mut self, server: usize) {
        let then = SystemTime::now() - Duration::from_secs(3600);
        let issued = self
            .shared
            .issuer
            .issue_uncounted(
                &IssueRequest {
                    tenant: TENANT.into(),
                    ttl_seconds: Some(60),
                    ..IssueRequest::default()
                },
                then,
            )
            .expect("issue an old token");
        let bytes = sign_issued(
            &self.shared.issuer,
            &issued,
            &self.shared.device,
            PASSING_RAW,
            then + Duration::from_secs(5),
            Vec::new(),
            |_| {},
        )
        .expect("sign an old result");
        self.verify(Kind::Expired, server, &issued.session_id, &bytes);
    }

    /// Once Redis is back (plus grace), replays one kept result whose token is still valid.
    fn late_replay(&mut self, kept: &mut Vec<Kept>, server: usize) {
        let redis_up = self
            .shared
            .faults
            .lock()
            .unwrap()
            .redis_down
            .last()
            .map(|d| d.1);
        if redis_up.is_none_or(|up| self.now() <= up + REDIS_GRACE) {
            return;
        }
        let now_s = liveproof_core::trust::unix_seconds(SystemTime::now());
        while let Some(k) = kept.pop() {
            if k.expires_at > now_s + 5 {
                self.verify(Kind::LateReplay, server, &k.session, &k.bytes);
                return;
            }
        }
    }

    fn run(mut self) -> ClientLog {
        let mut pending: Vec<Pending> = Vec::new();
        let mut early: Vec<Kept> = Vec::new();
        let mut recent: std::collections::VecDeque<Kept> = std::collections::VecDeque::new();
        let mut kept: Option<Vec<Kept>> = None;
        let mut iteration: u64 = 0;
        while self.now() < self.shared.load_until {
            iteration += 1;
            let server = (self.id + iteration as usize) % 2;
            self.resend_pending(&mut pending, false);
            let redis_went_down = !self.shared.faults.lock().unwrap().redis_down.is_empty();
            if redis_went_down && kept.is_none() {
                kept = Some(early.drain(..).chain(recent.drain(..)).collect());
            }
            if let Some(kept) = kept.as_mut() {
                self.late_replay(kept, server);
            }
            if iteration.is_multiple_of(25) {
                self.burst(iteration);
            }
            if iteration.is_multiple_of(4) {
                self.expired(server);
            }
            let subject = format!("client-{}-{iteration}", self.id);
            let (event, issued) = self.issue(Kind::Session, server, &subject);
            let Some(issued) = issued else {
                if matches!(
                    event.answer,
                    Answer::Unavailable(_) | Answer::Unreachable(_)
                ) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                continue;
            };
            let bytes = sign_issued(
                &self.shared.issuer,
                &issued,
                &self.shared.device,
                PASSING_RAW,
                SystemTime::now(),
                Vec::new(),
                |_| {},
            )
            .expect("sign a valid result");
            let session = issued.session_id.clone();
            let mut tampered = bytes.clone();
            let at = (self.next() % tampered.len() as u64) as usize;
            let bit = 1u8 << (self.next() % 8);
            tampered[at] ^= bit;
            self.verify(Kind::Tampered, server, &session, &tampered);
            let event = self.verify(Kind::Valid, server, &session, &bytes);
            match event.answer {
                Answer::Accepted => {
                    self.log.fates.push((session.clone(), Fate::Accepted));
                    let other = (server + (iteration as usize / 2)) % 2;
                    self.verify(Kind::Replay, other, &session, &bytes);
                    if kept.is_none() {
                        let k = Kept {
                            session,
                            bytes,
                            expires_at: issued.expires_at,
                        };
                        if early.len() < KEPT_EARLY {
                            early.push(k);
                        } else {
                            recent.push_back(k);
                            if recent.len() > KEPT_RECENT {
                                recent.pop_front();
                            }
                        }
                    }
                }
                Answer::Unavailable(_) | Answer::Unreachable(_) => pending.push(Pending {
                    session,
                    bytes,
                    server,
                    last: Instant::now(),
                }),
                other => self.log.fates.push((session, Fate::Rejected(other))),
            }
        }
        // Drain: the faults are over; resend what is left until answered.
        let drain_end = Instant::now() + DRAIN;
        while !pending.is_empty() && Instant::now() < drain_end {
            std::thread::sleep(Duration::from_millis(250));
            self.resend_pending(&mut pending, true);
        }
        for p in pending {
            self.log.fates.push((p.session, Fate::Unresolved));
        }
        self.log
    }
}

/// Reads an answer: 200 verdict or token, 429, 503 with its code or reason, anything else.
fn classify(response: &HttpResponse) -> Answer {
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    let text = |k: &str| body[k].as_str().unwrap_or("").to_owned();
    match response.status {
        200 if body["accepted"] == true => Answer::Accepted,
        200 if body["accepted"] == false => Answer::Rejected {
            reason: text("reject_reason"),
            retryable: body["retryable"] == true,
            same_result: body["same_result"] == true,
        },
        200 => Answer::Issued,
        429 if text("code") == "too_many_attempts" => Answer::TooMany,
        503 => {
            let code = text("code");
            Answer::Unavailable(if code.is_empty() {
                text("reject_reason")
            } else {
                code
            })
        }
        status => Answer::Status(status, response.text()),
    }
}

/// Accepted session ids in an audit file, with their counts, and the lines not parsed (a
/// SIGKILL may cut the last one).
fn audit_acceptances(path: &Path) -> (BTreeMap<String, usize>, usize, usize) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut accepted = BTreeMap::new();
    let mut records = 0;
    let mut unparsed = 0;
    for line in text.lines() {
        let Ok(record) = serde_json::from_str::<serde_json::Value>(line) else {
            unparsed += 1;
            continue;
        };
        records += 1;
        if record["verdict"]["accepted"] == true {
            let session = record["verdict"]["session_id"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            *accepted.entry(session).or_insert(0) += 1;
        }
    }
    (accepted, records, unparsed)
}

fn soak_seconds() -> u64 {
    std::env::var("LIVEPROOF_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&s: &u64| s >= 15)
        .unwrap_or(30)
}

#[test]
fn two_verifiers_on_one_redis_under_load_with_a_verifier_killed_and_redis_restarted() {
    if support::which("redis-server").is_none() {
        println!("skipped: redis-server is not installed (apt-get install redis-server)");
        return;
    }
    let seconds = soak_seconds();
    let mut redis = support::TestRedis::start();
    let dir = support::temp_dir("soak");
    let keys = dir.join("keys");
    ServerKeySet::generate(&keys).expect("server keys");
    let issuer = Verifier::new(
        VerifierConfig::single_tenant(
            ServerKeySet::load(&keys).expect("load keys"),
            TENANT,
            config::load_policy(None).expect("shipped policy"),
        )
        .expect("config"),
        Arc::new(MemoryReplayStore::new()),
        Arc::new(MemoryDeviceKeyRegistry::new()),
    );
    let device = SoftwareSigner::generate();
    let mut verifiers = [
        VerifierProcess::start(support::free_port(), &keys, &redis.url(), &dir, "a"),
        VerifierProcess::start(support::free_port(), &keys, &redis.url(), &dir, "b"),
    ];
    let addrs = [verifiers[0].addr(), verifiers[1].addr()];
    // The shipped policy wants a registered (or attested) device key: register it once in
    // the shared registry, through server a.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let key = device.public().expect("device public key").sec1();
    let body = serde_json::json!({
        "tenant": TENANT, "public_key_b64": base64_encode(&key), "label": "soak"
    });
    let registered = rt
        .block_on(request(
            addrs[0],
            "POST",
            "/v1/device-keys",
            Some("application/json"),
            body.to_string().as_bytes(),
        ))
        .expect("register the device key");
    assert_eq!(registered.status, 201, "{}", registered.text());

    let shared = Shared {
        start: Instant::now(),
        load_until: Duration::from_secs(seconds),
        addrs,
        redis_port: redis.port(),
        issuer,
        device,
        faults: Mutex::new(Faults::default()),
    };
    let logs: Vec<ClientLog> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|id| {
                let shared = &shared;
                s.spawn(move || {
                    Client {
                        shared,
                        id,
                        rt: tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("runtime"),
                        log: ClientLog::default(),
                        rng: 0x9e37_79b9_7f4a_7c15 ^ (id as u64 + 1),
                    }
                    .run()
                })
            })
            .collect();
        // The faults, from this thread.
        let sleep_until = |at: Duration| {
            let now = shared.start.elapsed();
            if at > now {
                std::thread::sleep(at - now);
            }
        };
        sleep_until(Duration::from_secs(seconds) / 3);
        let down = shared.start.elapsed();
        verifiers[1].kill();
        std::thread::sleep(VERIFIER_DOWN);
        verifiers[1].restart();
        let up = shared.start.elapsed();
        shared
            .faults
            .lock()
            .unwrap()
            .verifier_down
            .push((1, down, up));
        eprintln!(
            "soak: verifier b killed at {:.1} s, healthy again at {:.1} s",
            down.as_secs_f64(),
            up.as_secs_f64()
        );
        sleep_until(Duration::from_secs(seconds) * 2 / 3);
        let down = shared.start.elapsed();
        redis.kill();
        std::thread::sleep(REDIS_DOWN);
        redis.restart();
        let up = shared.start.elapsed();
        shared.faults.lock().unwrap().redis_down.push((down, up));
        eprintln!(
            "soak: redis killed at {:.1} s, answering again at {:.1} s",
            down.as_secs_f64(),
            up.as_secs_f64()
        );
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect()
    });
    let elapsed = shared.start.elapsed();
    let faults = shared.faults.lock().unwrap().clone();
    let events: Vec<&Event> = logs.iter().flat_map(|l| &l.events).collect();
    let fates: Vec<&(String, Fate)> = logs.iter().flat_map(|l| &l.fates).collect();
    let bursts: Vec<&Vec<Event>> = logs.iter().flat_map(|l| &l.bursts).collect();

    // The counts, per kind and answer.
    let mut counts: BTreeMap<Kind, BTreeMap<String, usize>> = BTreeMap::new();
    for e in &events {
        *counts
            .entry(e.kind)
            .or_default()
            .entry(e.answer.label())
            .or_insert(0) += 1;
    }
    let mut fate_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, fate) in &fates {
        let label = match fate {
            Fate::Accepted => "accepted",
            Fate::LostAnswer {
                claimed: Some(true),
                ..
            } => "answer lost, claim in redis",
            Fate::LostAnswer { .. } => "answer lost, claim not seen in redis",
            Fate::Unresolved => "unresolved",
            Fate::Rejected(_) => "rejected",
        };
        *fate_counts.entry(label).or_insert(0) += 1;
    }
    println!(
        "soak: {CLIENTS} clients, {seconds} s of load, {:.1} s in all, {} requests",
        elapsed.as_secs_f64(),
        events.len()
    );
    println!("soak: faults {faults:?}");
    for (kind, answers) in &counts {
        let total: usize = answers.values().sum();
        println!("soak: {kind:?} ({total}): {answers:?}");
    }
    println!("soak: valid results ({}): {fate_counts:?}", fates.len());

    // 1. No status outside 200, 429 and 503: no 500 at all.
    let odd: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.answer, Answer::Status(..)))
        .collect();
    assert!(odd.is_empty(), "unexpected statuses: {odd:#?}");

    // 2. 503 only while Redis was down (plus grace); connection errors only from the killed
    // server while it was down.
    let stray_503: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.answer, Answer::Unavailable(_)))
        .filter(|e| !faults.redis_outage(e.sent, e.answered))
        .collect();
    assert!(
        stray_503.is_empty(),
        "503 outside the Redis outage: {stray_503:#?}"
    );
    let stray_unreachable: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.answer, Answer::Unreachable(_)))
        .filter(|e| !faults.verifier_outage(e.server, e.sent, e.answered))
        .collect();
    assert!(
        stray_unreachable.is_empty(),
        "connection errors outside the verifier outage: {stray_unreachable:#?}"
    );
    // The faults were felt: the clients saw both outages.
    let saw = |f: &dyn Fn(&Answer) -> bool| events.iter().filter(|e| f(&e.answer)).count();
    assert!(
        saw(&|a| matches!(a, Answer::Unavailable(_))) > 0,
        "no 503 seen"
    );
    assert!(
        saw(&|a| matches!(a, Answer::Unreachable(_))) > 0,
        "no connection error seen"
    );

    // 3. Tampered and expired results are rejected for their reasons, never 503 (they fail
    // before the store is asked); replays of the valid bytes, and a resend whose first answer
    // was lost, are rejected as replayed with `same_result` (the identical bytes claimed it).
    let retryable_reasons = [
        "token_expired",
        "token_not_yet_valid",
        "policy_mismatch",
        "replay_store_unavailable",
        "registry_unavailable",
        "replayed",
    ];
    for e in &events {
        let ok = match (e.kind, &e.answer) {
            (_, Answer::Unreachable(_)) => true,
            (
                Kind::Tampered,
                Answer::Rejected {
                    reason, retryable, ..
                },
            ) => !retryable && !reason.is_empty() && !retryable_reasons.contains(&reason.as_str()),
            (Kind::Expired, Answer::Rejected { reason, .. }) => reason == "token_expired",
            (
                Kind::Replay | Kind::LateReplay | Kind::Resend,
                Answer::Rejected {
                    reason,
                    same_result,
                    ..
                },
            ) => reason == "replayed" && *same_result,
            (Kind::Replay | Kind::LateReplay, Answer::Unavailable(_)) => true,
            (Kind::Valid | Kind::Resend, Answer::Accepted | Answer::Unavailable(_)) => true,
            (Kind::Session, Answer::Issued | Answer::Unavailable(_)) => true,
            (Kind::Burst, Answer::Issued | Answer::Unavailable(_) | Answer::TooMany) => true,
            _ => false,
        };
        assert!(ok, "{e:#?}");
    }

    // 4. No session accepted twice: by the clients' answers, and by both servers' audit files
    // (every acceptance the processes made, across the kill).
    let mut seen = HashSet::new();
    for e in events.iter().filter(|e| e.answer == Answer::Accepted) {
        assert!(seen.insert(&e.session), "accepted twice: {}", e.session);
    }
    let mut audit: BTreeMap<String, usize> = BTreeMap::new();
    let mut records = 0;
    let mut unparsed = 0;
    for v in &verifiers {
        let (accepted, n, bad) = audit_acceptances(&v.audit);
        records += n;
        unparsed += bad;
        for (session, count) in accepted {
            *audit.entry(session).or_insert(0) += count;
        }
    }
    println!(
        "soak: audit: {records} records, {} acceptances, {unparsed} lines cut",
        audit.len()
    );
    assert!(unparsed <= 1, "{unparsed} audit lines cut (one SIGKILL)");
    let twice: Vec<_> = audit.iter().filter(|(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "accepted twice in the audit: {twice:?}");
    let valid: HashMap<&str, &Fate> = fates.iter().map(|(s, f)| (s.as_str(), f)).collect();
    for session in audit.keys() {
        assert!(
            valid.contains_key(session.as_str()),
            "the audit accepted {session}, which no valid result was for"
        );
    }
    for session in &seen {
        assert!(
            audit.contains_key(session.as_str()),
            "{session} was accepted but not audited"
        );
    }

    // 5. Every valid result accepted, or its answer lost to a fault, its resend answered
    // `replayed` with `same_result: true` (so the backend credits it: nothing lost), and its
    // one claim shown by the audit (a verifier killed after claiming) or by Redis (a reply lost
    // with Redis).
    for (session, fate) in &fates {
        match fate {
            Fate::Accepted => {}
            Fate::LostAnswer {
                claimed,
                same_result,
            } => {
                let first = events
                    .iter()
                    .find(|e| e.kind == Kind::Valid && &e.session == session)
                    .expect("a first send");
                assert!(
                    faults.redis_outage(first.sent, first.answered)
                        || faults.verifier_outage(first.server, first.sent, first.answered),
                    "{session}: replayed on resend, but its first send met no fault: {first:#?}"
                );
                println!(
                    "soak: answer lost: session {session}: first send to server {} at \
                     {:.2}..{:.2} s answered {}; the resend answered replayed with \
                     same_result {same_result}; audit acceptances {}, claim in redis {claimed:?}",
                    first.server,
                    first.sent.as_secs_f64(),
                    first.answered.as_secs_f64(),
                    first.answer.label(),
                    audit.get(session).copied().unwrap_or(0),
                );
                assert!(
                    *same_result,
                    "{session}: its resend (the identical bytes) answered replayed without \
                     same_result: the valid result would be lost"
                );
                assert!(
                    audit.get(session).copied() == Some(1) || *claimed == Some(true),
                    "{session}: answered replayed on resend, but neither the audit nor Redis \
                     shows its claim"
                );
            }
            Fate::Unresolved => panic!("{session}: still unanswered {DRAIN:?} after the load"),
            Fate::Rejected(answer) => panic!("{session}: a valid result rejected: {answer:?}"),
        }
    }
    let accepted = fates
        .iter()
        .filter(|(_, f)| matches!(f, Fate::Accepted))
        .count();
    assert!(accepted >= 20, "only {accepted} valid results accepted");
    let redis_up = faults.redis_down.last().expect("redis restarted").1;
    assert!(
        events
            .iter()
            .any(|e| e.answer == Answer::Accepted && e.sent > redis_up + REDIS_GRACE),
        "nothing accepted after Redis came back"
    );

    // 6. Bursts: each subject gets at most MAX_ATTEMPTS sessions; a burst that met no fault
    // gets exactly MAX_ATTEMPTS, then 429. No fresh subject is ever refused.
    let mut clean = 0;
    for burst in &bursts {
        let issued = burst.iter().filter(|e| e.answer == Answer::Issued).count();
        assert!(issued <= MAX_ATTEMPTS, "{burst:#?}");
        let faulted = burst
            .iter()
            .any(|e| matches!(e.answer, Answer::Unavailable(_) | Answer::Unreachable(_)));
        if !faulted {
            clean += 1;
            let answers: Vec<_> = burst.iter().map(|e| e.answer.label()).collect();
            let mut expected = vec!["issued".to_string(); MAX_ATTEMPTS];
            expected.push("429:too_many_attempts".into());
            assert_eq!(answers, expected);
        }
    }
    assert!(clean > 0, "no burst ran without a fault");
    let kinds: BTreeSet<Kind> = events.iter().map(|e| e.kind).collect();
    assert!(kinds.len() >= 7, "kinds sent: {kinds:?}");
    let late = events
        .iter()
        .filter(|e| e.kind == Kind::LateReplay && e.answer.label() == "rejected:replayed")
        .count();
    assert!(
        late >= CLIENTS,
        "only {late} late replays answered replayed"
    );
    println!(
        "soak: {} bursts ({clean} without a fault), {accepted} valid results accepted, \
         {} answers lost to a fault, resent as replayed with same_result and resolved by \
         the audit or Redis",
        bursts.len(),
        fates
            .iter()
            .filter(|(_, f)| matches!(f, Fate::LostAnswer { .. }))
            .count()
    );
    drop(verifiers);
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}
