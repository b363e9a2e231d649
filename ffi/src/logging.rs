//! One logging initialisation for every platform, safe to call any number of times:
//! android_logger on Android, oslog on Apple (feature `oslog`), env_logger elsewhere.

use std::sync::Once;

static INIT: Once = Once::new();

/// Routes core's `log` records to the platform logger. Later calls do nothing.
pub fn init_logging(level: log::LevelFilter) {
    INIT.call_once(|| {
        #[cfg(target_os = "android")]
        android_logger::init_once(
            android_logger::Config::default()
                .with_max_level(level)
                .with_tag("LiveProof"),
        );
        #[cfg(all(target_vendor = "apple", feature = "oslog"))]
        {
            let _ = oslog::OsLogger::new("org.liveproof")
                .level_filter(level)
                .init();
        }
        #[cfg(all(
            not(target_os = "android"),
            not(all(target_vendor = "apple", feature = "oslog"))
        ))]
        {
            let _ = env_logger::Builder::new()
                .filter_level(level)
                .parse_default_env()
                .try_init();
        }
    });
}
