//! `liveproof-verifier`: server keys, session tokens, result verification and the HTTP service
//! (docs/trust.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use liveproof_core::policy::{FlowType, RiskTier};
use liveproof_core::trust::{DevicePublicKey, KeyStatus, ServerKeySet, SignedResult, TokenClaims};
use liveproof_verifier::registry::{
    DeviceKeyRegistry, MemoryDeviceKeyRegistry, RedisDeviceKeyRegistry,
};
use liveproof_verifier::server::{self, AuditSink};
use liveproof_verifier::store::{MemoryReplayStore, RedisReplayStore, ReplayStore, StoreError};
use liveproof_verifier::{config, Expected, IssueRequest, Verifier, VerifierConfig};

#[derive(Parser)]
#[command(
    name = "liveproof-verifier",
    version,
    about = "LiveProof's server-side verifier"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Adds a new active server key to DIR (creating it); the previous active key becomes
    /// verify-only (a rotation). Prints the kid.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Sets a server key's status: `retire` a rotated-out key so tokens naming it are refused.
    Retire {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        kid: String,
    },
    /// Issues a session token (CWT in COSE_Sign1) to FILE.
    Issue {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        tenant: String,
        /// The tenant policy (JSON); default: the shipped one.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Lifetime, seconds (default 180, at most 600).
        #[arg(long)]
        ttl: Option<u64>,
        /// Fixes the challenge seed (64 hex digits): tests and demos only.
        #[arg(long)]
        seed: Option<String>,
        /// account_opening | login | transaction | recovery.
        #[arg(long)]
        flow: Option<FlowType>,
        /// low | medium | high.
        #[arg(long)]
        tier: Option<RiskTier>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Verifies a signed result. Exit 0 when accepted, 1 with the failed check otherwise.
    Verify {
        result: PathBuf,
        #[arg(long)]
        key: Option<PathBuf>,
        /// Registers a device public key (SPKI PEM) for the token's tenant before verifying (a
        /// key revoked in the shared registry stays revoked, and the result is rejected).
        #[arg(long = "device-key")]
        device_keys: Vec<PathBuf>,
        /// Redis URL for the replay store and device keys (default: in memory).
        #[arg(long)]
        redis: Option<String>,
        /// The verifier config (tenants, policies); default: the token's tenant with the
        /// policy the token carries (or --policy).
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Require this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Require this session id (the one `issue` printed): a backend always passes it, or
        /// a valid result of another session would pass too.
        #[arg(long)]
        session: Option<String>,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serves the JSON HTTP API until SIGTERM or Ctrl-C.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        #[arg(long)]
        redis: Option<String>,
        #[arg(long)]
        config: Option<PathBuf>,
        /// Without --config: the key directory, tenant and policy to serve.
        #[arg(long)]
        key: Option<PathBuf>,
        #[arg(long, default_value = "default")]
        tenant: String,
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Append audit records (JSON lines) to FILE; default: standard output.
        #[arg(long)]
        audit: Option<PathBuf>,
        /// Write the bound address to FILE once listening (for scripts that pass port 0).
        #[arg(long)]
        addr_file: Option<PathBuf>,
        /// Accept `seed_hex` in session requests: a fixed challenge seed, for tests and demos
        /// only (a recording made for a known seed would match it).
        #[arg(long)]
        allow_fixed_seed: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("liveproof-verifier: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        Cmd::Keygen { out } => {
            let kid = ServerKeySet::generate(&out)?;
            println!("{kid}");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Retire { key, kid } => {
            ServerKeySet::set_status(&key, &kid, KeyStatus::Retired)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Issue {
            key,
            tenant,
            policy,
            ttl,
            seed,
            flow,
            tier,
            out,
        } => {
            let keys = ServerKeySet::load(&key)?;
            let policy = config::load_policy(policy.as_deref())?;
            let mut cfg = VerifierConfig::single_tenant(keys, &tenant, policy)?;
            // The operator's own tool: `--seed` is an explicit choice (tests and demos).
            cfg.allow_fixed_seed = seed.is_some();
            let verifier = memory_verifier(cfg);
            // The operator's offline tool holds the server key: it counts no attempts (attempt
            // 1); the HTTP service counts them per subject.
            let issued = verifier.issue_uncounted(
                &IssueRequest {
                    tenant,
                    flow,
                    tier,
                    ttl_seconds: ttl,
                    seed_hex: seed,
                    ..IssueRequest::default()
                },
                SystemTime::now(),
            )?;
            std::fs::write(&out, &issued.token)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "session {} expires at {}",
                issued.session_id, issued.expires_at
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Verify {
            result,
            key,
            device_keys,
            redis,
            config: config_path,
            policy,
            tenant,
            session,
            json,
        } => {
            let bytes =
                std::fs::read(&result).with_context(|| format!("reading {}", result.display()))?;
            let cfg = verify_config(
                &bytes,
                key.as_deref(),
                config_path.as_deref(),
                policy.as_deref(),
            )?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let verdict = rt.block_on(async {
                let verifier = stores_verifier(cfg, redis.as_deref()).await?;
                if !device_keys.is_empty() {
                    let tenant = token_tenant(&bytes).context(
                        "--device-key needs the token's tenant, and the result cannot be read",
                    )?;
                    for path in &device_keys {
                        let k = DevicePublicKey::load(path)?;
                        match verifier
                            .registry()
                            .register(&tenant, &k.sec1(), &path.display().to_string())
                            .await
                        {
                            // A revoked key stays revoked: the verification rejects it.
                            Err(StoreError::Conflict(why)) => {
                                eprintln!("liveproof-verifier: {}: {why}", path.display())
                            }
                            other => other?,
                        }
                    }
                }
                anyhow::Ok(
                    verifier
                        .verify_for(
                            &bytes,
                            SystemTime::now(),
                            &Expected {
                                session_id: session,
                                tenant,
                            },
                        )
                        .await
                        .verdict,
                )
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&verdict)?);
            } else if verdict.accepted {
                println!(
                    "accepted: band {:?}, session {}, tenant {}, device key {}",
                    verdict
                        .band
                        .map(|b| format!("{b:?}").to_lowercase())
                        .unwrap_or_default(),
                    verdict.session_id.as_deref().unwrap_or(""),
                    verdict.tenant.as_deref().unwrap_or(""),
                    verdict.device_key_trust.unwrap_or("")
                );
            } else if let Some(c) = verdict.checks.iter().find(|c| !c.passed) {
                println!("rejected at {}: {}", c.name, c.detail);
            }
            Ok(if verdict.accepted {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Serve {
            listen,
            redis,
            config: config_path,
            key,
            tenant,
            policy,
            audit,
            addr_file,
            allow_fixed_seed,
        } => {
            let mut cfg = match (config_path, key) {
                (Some(c), _) => config::load(&c)?,
                (None, Some(k)) => VerifierConfig::single_tenant(
                    ServerKeySet::load(&k)?,
                    &tenant,
                    config::load_policy(policy.as_deref())?,
                )?,
                (None, None) => bail!("serve needs --config FILE or --key DIR"),
            };
            cfg.allow_fixed_seed = allow_fixed_seed;
            let audit = match audit {
                Some(p) => {
                    AuditSink::file(&p).with_context(|| format!("opening {}", p.display()))?
                }
                None => AuditSink::stdout(),
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let verifier = Arc::new(stores_verifier(cfg, redis.as_deref()).await?);
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("binding {listen}"))?;
                if let Some(f) = addr_file {
                    std::fs::write(&f, listener.local_addr()?.to_string())
                        .with_context(|| format!("writing {}", f.display()))?;
                }
                server::serve(verifier, listener, audit, server::shutdown_signal()).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A verifier with in-memory stores (issuing needs none).
fn memory_verifier(cfg: VerifierConfig) -> Verifier {
    Verifier::new(
        cfg,
        Arc::new(MemoryReplayStore::new()),
        Arc::new(MemoryDeviceKeyRegistry::new()),
    )
}

/// A verifier with Redis stores when a URL is given, else in memory.
async fn stores_verifier(cfg: VerifierConfig, redis: Option<&str>) -> Result<Verifier> {
    Ok(match redis {
        None => memory_verifier(cfg),
        Some(url) => {
            let replay: Arc<dyn ReplayStore> =
                Arc::new(RedisReplayStore::connect(url, "liveproof:").await?);
            let registry: Arc<dyn DeviceKeyRegistry> =
                Arc::new(RedisDeviceKeyRegistry::connect(url, "liveproof:").await?);
            Verifier::new(cfg, replay, registry)
        }
    })
}

/// The token's claims as carried in a result, unverified: only to pick the tenant and policy
/// the verification then checks.
fn carried_token(bytes: &[u8]) -> Option<(TokenClaims, Option<String>)> {
    let signed = SignedResult::parse(bytes).ok()?;
    // Any pinned key set would do to read the claims; the verification checks the signature.
    let claims = liveproof_core::trust::token::peek_claims(&signed.claims.token).ok()?;
    let policy = claims.policy_json.clone();
    Some((claims, policy))
}

fn token_tenant(bytes: &[u8]) -> Option<String> {
    carried_token(bytes).map(|(c, _)| c.tenant)
}

/// The verification's configuration: the config file, or the key directory with the token's
/// tenant and the policy given or carried in the (then verified) token. Without a config file
/// the token itself names the tenant and policy (the server signed both), so the `policy_hash`
/// check only compares the result with its token; `--tenant` and `--policy` pin them.
fn verify_config(
    bytes: &[u8],
    key: Option<&Path>,
    config_path: Option<&Path>,
    policy: Option<&Path>,
) -> Result<VerifierConfig> {
    if let Some(c) = config_path {
        return config::load(c);
    }
    let Some(key) = key else {
        bail!("verify needs --key DIR or --config FILE");
    };
    let keys = ServerKeySet::load(key)?;
    let (tenant, carried) = match carried_token(bytes) {
        Some((c, p)) => (c.tenant, p),
        // Unreadable: any configuration rejects it at the first check.
        None => ("unknown".to_string(), None),
    };
    let policy = match (policy, carried) {
        (Some(p), _) => config::load_policy(Some(p))?,
        (None, Some(json)) => liveproof_core::policy::LoadedPolicy::from_json(&json)
            .context("the policy the token carries")?,
        (None, None) => config::load_policy(None)?,
    };
    VerifierConfig::single_tenant(keys, &tenant, policy)
}
