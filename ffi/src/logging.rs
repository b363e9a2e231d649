//! One logging initialisation for every platform, safe to call any number of times:
//! android_logger on Android, oslog on Apple (feature `oslog`), env_logger elsewhere, plus an
//! optional sink the host sets (Kotlin/Swift `LogSink`, a C callback).
//!
//! What is logged where: at `info` and above only the session's course (started, finished,
//! band, reason codes, model loads and failures); face boxes, landmarks, scores and similarities
//! only at `debug` and below. `tests/tests/platform_session.rs` checks what `info` prints for a
//! whole session.

use std::sync::{Arc, Once, RwLock};

/// Where the host wants records: level, target (module path), message.
pub type Sink = Arc<dyn Fn(log::Level, &str, &str) + Send + Sync>;

static INIT: Once = Once::new();
static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// The logger installed once: the platform logger and the host's sink, filtered by
/// `log::max_level` (which `init_logging` sets on every call).
struct Dispatch {
    platform: Option<Box<dyn log::Log>>,
}

impl log::Log for Dispatch {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        if let Some(p) = &self.platform {
            p.log(record);
        }
        // A poisoned lock (a sink panicked) still holds a usable value.
        let sink = SINK.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(sink) = sink {
            let message = record.args().to_string();
            // A panicking sink must not take the caller down (it may be across an FFI).
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                sink(record.level(), record.target(), &message)
            }));
        }
    }

    fn flush(&self) {
        if let Some(p) = &self.platform {
            p.flush();
        }
    }
}

fn platform_logger() -> Option<Box<dyn log::Log>> {
    #[cfg(target_os = "android")]
    {
        Some(Box::new(android_logger::AndroidLogger::new(
            android_logger::Config::default()
                .with_max_level(log::LevelFilter::Trace)
                .with_tag("LiveProof"),
        )))
    }
    #[cfg(all(target_vendor = "apple", feature = "oslog"))]
    {
        Some(Box::new(oslog::OsLogger::new("org.liveproof")))
    }
    #[cfg(all(
        not(target_os = "android"),
        not(all(target_vendor = "apple", feature = "oslog"))
    ))]
    {
        // stderr; `RUST_LOG` narrows it further when set.
        Some(Box::new(
            env_logger::Builder::new()
                .filter_level(log::LevelFilter::Trace)
                .parse_default_env()
                .build(),
        ))
    }
}

/// Routes core's `log` records to the platform logger (and the sink, if set) at `level` and
/// above. The first call installs the logger; every call sets the level, so calling it again
/// is safe and changes only the level. If another logger was installed first (by the app),
/// records go to that one and this call only sets the level.
pub fn init_logging(level: log::LevelFilter) {
    INIT.call_once(|| {
        let _ = log::set_boxed_logger(Box::new(Dispatch {
            platform: platform_logger(),
        }));
    });
    log::set_max_level(level);
}

/// Sets (or with `None` removes) the host's sink. Records reach it once `init_logging` ran.
pub fn set_sink(sink: Option<Sink>) {
    *SINK.write().unwrap_or_else(|p| p.into_inner()) = sink;
}
