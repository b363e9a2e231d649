//! Test support: a private `redis-server` per test, on loopback, never assumed to be running.
//!
//! [`TestRedis::start`] picks a free loopback port, makes a temporary directory and runs
//! `redis-server` there with AOF on (`appendfsync always`), `noeviction` and no RDB snapshots;
//! it returns once PING answers (at most [`READY_TIMEOUT`]). [`TestRedis::kill`] and
//! [`TestRedis::restart`] stop and start it again on the same port and directory (the AOF
//! survives); Drop kills it and removes the directory.
#![allow(dead_code)] // Each test binary uses part of it.

pub mod http;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a started server has to answer PING.
pub const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// Ports tried by [`TestRedis::start`].
const START_ATTEMPTS: usize = 3;

/// A `redis-server` child process owned by one test.
pub struct TestRedis {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl TestRedis {
    /// Starts a private server on a free loopback port in a new temporary directory.
    /// Panics with the install command if `redis-server` is not on PATH.
    /// The port is picked free but may be taken again before Redis binds it: up to
    /// [`START_ATTEMPTS`] ports are tried.
    pub fn start() -> Self {
        let mut redis = Self {
            port: free_port(),
            dir: temp_dir("redis"),
            child: None,
        };
        for attempt in 1..=START_ATTEMPTS {
            match redis.try_start() {
                Ok(()) => return redis,
                Err(why) if attempt < START_ATTEMPTS => {
                    eprintln!("test redis on port {}: {why}; another port", redis.port);
                    redis.port = free_port();
                }
                Err(why) => panic!("{why}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// A server that is not started: its port is free now and its directory exists; call
    /// [`Self::restart`] to start it (for tests of a store created while Redis is down).
    pub fn stopped() -> Self {
        Self {
            port: free_port(),
            dir: temp_dir("redis"),
            child: None,
        }
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's directory (AOF and log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the process is running (as far as this handle knows).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server with SIGKILL and waits for it: with `appendfsync always` every
    /// acknowledged write is already on disk.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same port and directory and waits for PING.
    pub fn restart(&mut self) {
        if let Err(why) = self.try_start() {
            panic!("{why}");
        }
    }

    /// Starts the server and waits for PING; on failure says why, with Redis's log.
    fn try_start(&mut self) -> Result<(), String> {
        self.kill();
        let binary = which("redis-server").unwrap_or_else(|| {
            panic!(
                "redis-server not found: `cargo xtask test` and .ci/run install it \
                 (apt-get install redis-server)"
            )
        });
        let log = self.dir.join("redis.log");
        let child = Command::new(binary)
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--maxmemory-policy", "noeviction"])
            .args(["--save", ""])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log)
            .args(["--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        let pid = self.child.as_ref().map_or(0, Child::id);
        loop {
            // PONG from our own process: another test's server may hold a port we were given.
            if ping(self.port) && server_pid(self.port) == Some(pid) {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!(
                        "redis-server on port {} exited ({status}) before answering PING; \
                         log:\n{}",
                        self.port,
                        std::fs::read_to_string(&log).unwrap_or_default()
                    ));
                }
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                self.kill();
                return Err(format!(
                    "redis-server on port {} did not answer PING within {} s; log:\n{log}",
                    self.port,
                    READY_TIMEOUT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends one command in RESP (arguments as bulk strings) and returns the raw reply.
    pub fn command(&self, args: &[&str]) -> String {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))
            .unwrap_or_else(|e| panic!("connect to test redis: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("set read timeout");
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).expect("write command");
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        // Replies used here are one line (status, integer) or a short bulk string.
        loop {
            let n = stream.read(&mut buf).expect("read reply");
            reply.extend_from_slice(&buf[..n]);
            if n == 0 || complete_reply(&reply) {
                break;
            }
        }
        String::from_utf8_lossy(&reply).into_owned()
    }

    /// The integer reply of a command (`DBSIZE`, `EXISTS`, ...).
    pub fn integer(&self, args: &[&str]) -> i64 {
        let reply = self.command(args);
        reply
            .strip_prefix(':')
            .and_then(|r| r.trim_end().parse().ok())
            .unwrap_or_else(|| panic!("{args:?} answered {reply:?}, not an integer"))
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether a RESP reply in `buf` is complete (simple, error, integer or one bulk string).
fn complete_reply(buf: &[u8]) -> bool {
    let Some(line_end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return false;
    };
    if buf.first() != Some(&b'$') {
        return true;
    }
    let len: i64 = std::str::from_utf8(&buf[1..line_end])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1);
    len < 0 || buf.len() >= line_end + 2 + len as usize + 2
}

/// Whether a server on `port` answers `+PONG` (not `-LOADING`).
fn ping(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(stream.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

/// The `process_id` the server on `port` reports in `INFO server`.
fn server_pid(port: u16) -> Option<u32> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    stream.write_all(b"INFO server\r\n").ok()?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while !complete_reply(&reply) {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&reply);
    text.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
}

/// A loopback port that was free a moment ago: bind port 0, read it, close the listener.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A new, empty directory under the system's temp dir, unique to this process and call.
pub fn temp_dir(what: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "liveproof-verifier-{what}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// The path of `name` on PATH, if any.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
