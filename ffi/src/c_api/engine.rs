//! `lp_engine`: the engine configuration, loading, still-image analysis.

use super::*;

/// A loaded engine: ONNX Runtime and the models, verified against the manifest.
/// Thread-safe: every function taking a `const lp_engine *` may run on any thread, at the
/// same time as others on the same engine.
pub struct lp_engine {
    pub(super) engine: Arc<Engine>,
    /// Pooled trackers for `lp_engine_analyze_frame`.
    pub(super) still: StillAnalyzer,
    /// The configuration the engine was loaded with (the session models load with it).
    pub(super) config: EngineConfig,
    /// What sessions need beside the engine, loaded once: at `lp_engine_new` with
    /// `preload_session = 1`, else by the first session. A failed load is not kept, so a
    /// later session tries again.
    pub(super) session: Mutex<Option<Arc<SessionEngine>>>,
}

impl lp_engine {
    /// The session engine, loading it on first use (the lock makes concurrent first
    /// sessions load it once).
    pub(super) fn session_engine(&self) -> Result<Arc<SessionEngine>, Failure> {
        // A panic while loading poisons the lock; the slot is then still `None` or loaded.
        let mut slot = self.session.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let loaded = Arc::new(SessionEngine::with_engine(
            self.engine.clone(),
            &self.config,
        )?);
        *slot = Some(loaded.clone());
        Ok(loaded)
    }
}

/// Fills `*out_config` with the defaults: `struct_size` = the given size, `models_dir = NULL`
/// (set it), `ort_library_path = NULL` ($ORT_DYLIB_PATH), BlazeFace front, 1 thread, 4 faces,
/// recount every 15 frames, scores 0.5, `preload_session = 0`. Call it as
/// `lp_engine_config_init(sizeof(lp_engine_config), &config)`.
///
/// `struct_size` is the caller's `sizeof(lp_engine_config)`; the library writes exactly that
/// many bytes, so a program built against an older header stays safe with a newer library.
/// Known sizes: `LP_ENGINE_CONFIG_SIZE_V1` (48) and `LP_ENGINE_CONFIG_SIZE_V2` (56, the
/// current one); any other is `LP_INVALID_ARGUMENT`, and nothing is written.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_INVALID_ARGUMENT`.
///
/// Thread-safety: any thread.
///
/// # Safety
/// `out_config` is NULL or writable for `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn lp_engine_config_init(
    struct_size: usize,
    out_config: *mut lp_engine_config,
) -> lp_result {
    const F: &str = "lp_engine_config_init";
    boundary(|| {
        check_config_size(struct_size, F)?;
        out_ptr(out_config, F, "out_config")?;
        // SAFETY: checked non-NULL; writable for `struct_size` bytes (a known version's
        // size) by the caller's contract.
        unsafe { write_versioned(out_config, config_defaults(), struct_size) };
        Ok(())
    })
}

/// Loads ONNX Runtime and the detector and FaceMesh models (each checked against its pinned
/// sha256 and tensor shapes) and writes a new engine to `*out_engine`; free it with
/// `lp_engine_free`. Takes about 100 ms; with `preload_session = 1` also the session's
/// models, calibration and policy (about 0.5 s more), which otherwise the first
/// `lp_session_new*` on this engine loads once. `config` is only read during the call.
///
/// `config->struct_size` is read first; it must be a known version's size (use
/// `lp_engine_config_init`): exactly that many bytes are read, and the fields a version-1
/// struct lacks take their defaults.
///
/// Errors: `LP_NULL_ARGUMENT` (config, config->models_dir, out_engine),
/// `LP_INVALID_ARGUMENT` (struct_size, detector, a value out of range),
/// `LP_RUNTIME_UNAVAILABLE` (library missing or not loadable), `LP_MODEL_MISSING`,
/// `LP_MODEL_INTEGRITY`, `LP_MODEL_INVALID`.
///
/// Thread-safety: any thread; engines may be created concurrently.
///
/// # Safety
/// `config` is NULL or points to an initialised `lp_engine_config` of the size its
/// `struct_size` declares, whose strings are NULL or NUL-terminated; `out_engine` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn lp_engine_new(
    config: *const lp_engine_config,
    out_engine: *mut *mut lp_engine,
) -> lp_result {
    const F: &str = "lp_engine_new";
    boundary(|| {
        // SAFETY: the caller's contract on `config` (its size is read before anything else).
        let c = unsafe { read_versioned(config, config_defaults(), F, "config") }?;
        out_ptr(out_engine, F, "out_engine")?;
        // SAFETY: the caller's contract on the config's strings.
        let (config, preload) = unsafe { config_from_c(&c, F) }?;
        let engine = Engine::new(config.clone()).map_err(ApiError::from)?;
        let engine = Arc::new(engine);
        let still = StillAnalyzer::new(engine.clone());
        let handle = lp_engine {
            engine,
            still,
            config,
            session: Mutex::new(None),
        };
        if preload {
            handle.session_engine()?;
        }
        let handle = Box::into_raw(Box::new(handle));
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_engine, handle) };
        Ok(())
    })
}

/// Frees an engine. NULL is a no-op. Trackers made from it stay valid (they keep the models
/// alive) and must still be freed.
///
/// Thread-safety: no other call may use `engine` during or after this one.
///
/// # Safety
/// `engine` is NULL or a handle from `lp_engine_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn lp_engine_free(engine: *mut lp_engine) {
    // SAFETY: the caller's contract: NULL or a live handle from `Box::into_raw` in `lp_engine_new`,
    // not yet freed and used by no other call.
    unsafe { free_handle(engine, None) };
}

/// Analyses one still image: runs the detector, then FaceMesh and the quality gate on up to
/// `max_faces` faces; no tracking state is used or kept. Writes a new analysis to
/// `*out_analysis`; free it with `lp_analysis_free`. The frame's planes are only read
/// during the call.
///
/// Internally each call borrows a tracker from the engine's pool (created on demand, up to 4
/// kept), so concurrent calls do not wait on each other except inside ONNX Runtime, where
/// each model runs one inference at a time.
///
/// Errors: `LP_NULL_ARGUMENT` (engine, frame, a used plane's data, out_analysis),
/// `LP_INVALID_ARGUMENT` (format, size, stride, plane length, rotation, mirrored),
/// `LP_PROCESSING`.
///
/// Thread-safety: any thread, concurrently with other calls on the same engine.
///
/// # Safety
/// `engine` is NULL or a live engine; `frame` is NULL or points to an `lp_frame` whose used
/// planes point to `len` readable bytes; `out_analysis` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_engine_analyze_frame(
    engine: *const lp_engine,
    frame: *const lp_frame,
    out_analysis: *mut *mut lp_analysis,
) -> lp_result {
    const F: &str = "lp_engine_analyze_frame";
    boundary(|| {
        // SAFETY: the caller's contract on `engine` and `frame`.
        let engine = unsafe { arg_ref(engine, F, "engine") }?;
        let frame = unsafe { arg_ref(frame, F, "frame") }?;
        out_ptr(out_analysis, F, "out_analysis")?;
        // SAFETY: the caller's contract on the planes.
        let frame = unsafe { frame_from_c(frame, F) }?;
        let analysis = engine
            .still
            .analyze(&frame, |a| a.clone())
            .map_err(ApiError::from)?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_analysis, new_analysis(analysis)) };
        Ok(())
    })
}
