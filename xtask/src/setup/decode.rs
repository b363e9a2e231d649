//! Video fixtures: decoded once (FFmpeg from a registry wheel) into PNG frames + capture.json.

use super::*;

/// What the decode stamp records: the pins the frames come from.
pub(super) fn decode_key(fx: &Fixture, d: &Decode, tool: &Tool) -> String {
    format!(
        "clip {} {}\ntool {} {}\nframes {} fps {} size {}x{} label {}\nformat 1\n",
        fx.file, fx.sha256, tool.name, tool.sha256, d.frames, d.fps, d.width, d.height, d.label
    )
}

pub(super) fn decode_tool<'m>(d: &Decode, manifest: &'m Manifest) -> Result<&'m Tool> {
    manifest
        .tools
        .iter()
        .find(|t| t.name == d.tool)
        .ok_or_else(|| {
            anyhow!(
                "decode: no [[tool]] named `{}` in models/manifest.toml",
                d.tool
            )
        })
}

/// The frames are in place (stamp, capture.json and the last frame; no hashing): the warm path.
pub(super) fn decoded(fx: &Fixture, d: &Decode, manifest: &Manifest, paths: &Paths) -> bool {
    let Ok(tool) = decode_tool(d, manifest) else {
        return false;
    };
    let dir = paths.fixtures.join(&d.dir);
    fs::read_to_string(dir.join(DECODE_STAMP)).ok().as_deref()
        == Some(decode_key(fx, d, tool).as_str())
        && dir.join("capture.json").is_file()
        && d.frames > 0
        && dir.join(frame_file(d.frames - 1)).is_file()
        && !dir.join(frame_file(d.frames)).exists()
}

pub(super) fn frame_file(k: u32) -> String {
    format!("frame_{k:04}.png")
}

/// Width and height from a PNG's IHDR chunk.
pub(super) fn png_size(path: &Path) -> Result<(u32, u32)> {
    let mut head = [0u8; 24];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .with_context(|| format!("reading {}", path.display()))?;
    if &head[..8] != b"\x89PNG\r\n\x1a\n" || &head[12..16] != b"IHDR" {
        bail!("{} is not a PNG", path.display());
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Ok((be(&head[16..20]), be(&head[20..24])))
}

/// The input video stream's declared rate and time base from `ffmpeg -i` stderr
/// (`Stream #0:0...: Video: ..., 30 fps, 30 tbr, 15360 tbn`).
pub(super) fn parse_stream_rates(stderr: &str) -> Option<(f64, f64)> {
    let line = stderr
        .lines()
        .find(|l| l.contains("Stream #0:") && l.contains("Video:"))?;
    // Parts look like "30 fps", "15360 tbn (default)".
    let field = |unit: &str| {
        line.split(',').find_map(|p| {
            let mut t = p.split_whitespace();
            let v = t.next()?.parse::<f64>().ok()?;
            (t.next()? == unit).then_some(v)
        })
    };
    Some((field("fps")?, field("tbn")?))
}

/// Per-frame pts from the `showinfo` filter's lines (`n:   0 pts:      0 pts_time:0 ...`).
pub(super) fn parse_showinfo_pts(stderr: &str) -> Vec<(u32, i64)> {
    let value = |line: &str, key: &str| -> Option<String> {
        let at = line.find(key)? + key.len();
        Some(
            line[at..]
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '-')
                .collect(),
        )
    };
    stderr
        .lines()
        .filter(|l| l.contains("Parsed_showinfo"))
        .filter_map(|l| {
            Some((
                value(l, " n:")?.parse().ok()?,
                value(l, " pts:")?.parse().ok()?,
            ))
        })
        .collect()
}

/// Decodes the clip with the pinned ffmpeg into `fixtures/<dir>/frame_%04d.png` (RGB) and
/// writes `capture.json` (label, fps, size, per-frame timestamps from the stream's pts), then
/// the stamp. Checks the frame count, the rate and the size against the manifest.
pub(super) fn decode_clip(
    fx: &Fixture,
    d: &Decode,
    manifest: &Manifest,
    paths: &Paths,
) -> Result<()> {
    let t0 = Instant::now();
    let tool = decode_tool(d, manifest)?;
    let ffmpeg = paths.tools.join(&tool.file);
    let clip = paths.fixtures.join(&fx.file);
    let dir = paths.fixtures.join(&d.dir);
    let partial = paths
        .fixtures
        .join(format!(".{}.partial-{}", d.dir, std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
    eprintln!(
        "setup: fixture `{}`: decoding {} frames with {}",
        fx.name,
        d.frames,
        ffmpeg.display()
    );
    let out = output_of(
        Command::new(&ffmpeg)
            .args(["-hide_banner", "-nostdin", "-i"])
            .arg(&clip)
            .args([
                "-map",
                "0:v:0",
                "-fps_mode",
                "passthrough",
                "-vf",
                "showinfo",
                "-pix_fmt",
                "rgb24",
                "-start_number",
                "0",
                "-f",
                "image2",
            ])
            .arg(partial.join("frame_%04d.png")),
        &format!("decoding {}", clip.display()),
    )?;
    if !out.status.success() {
        bail!(
            "ffmpeg failed on {} ({}):\n{}",
            clip.display(),
            out.status,
            tail(&out, 15)
        );
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (fps, tbn) = parse_stream_rates(&stderr).ok_or_else(|| {
        anyhow!(
            "fixture `{}`: no `N fps, M tbn` in ffmpeg's stream line:\n{}",
            fx.name,
            tail(&out, 15)
        )
    })?;
    if (fps - d.fps).abs() > 1e-3 {
        bail!(
            "fixture `{}`: the stream declares {fps} fps, models/manifest.toml says {}",
            fx.name,
            d.fps
        );
    }
    let pts = parse_showinfo_pts(&stderr);
    let count = fs::read_dir(&partial)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("frame_"))
        .count();
    if count != d.frames as usize || pts.len() != count {
        bail!(
            "fixture `{}`: ffmpeg wrote {count} frames ({} showinfo lines), models/manifest.toml \
             says {}",
            fx.name,
            pts.len(),
            d.frames
        );
    }
    let (w, h) = png_size(&partial.join(frame_file(0)))?;
    if (w, h) != (d.width, d.height) {
        bail!(
            "fixture `{}`: frames are {w}x{h}, models/manifest.toml says {}x{}",
            fx.name,
            d.width,
            d.height
        );
    }
    let t_first = pts[0].1;
    let mut frames = Vec::with_capacity(pts.len());
    let mut last_ns = None;
    for (k, &(n, p)) in pts.iter().enumerate() {
        if n as usize != k {
            bail!("fixture `{}`: showinfo frame {k} is numbered {n}", fx.name);
        }
        let ns = ((p - t_first) as f64 * 1e9 / tbn).round() as u64;
        if last_ns.is_some_and(|l| ns <= l) {
            bail!(
                "fixture `{}`: timestamps not increasing at frame {k}",
                fx.name
            );
        }
        last_ns = Some(ns);
        frames.push(
            serde_json::json!({ "index": k, "file": frame_file(k as u32), "timestamp_ns": ns }),
        );
    }
    let meta = serde_json::json!({
        "synthetic": false,
        "notice": format!(
            "REAL footage ({}), decoded by `cargo xtask setup`; research use only, never commit \
             it or frames of it",
            fx.licence
        ),
        "generator": { "name": "cargo xtask setup (ffmpeg decode)", "version": env!("CARGO_PKG_VERSION") },
        "label": d.label,
        "kind": d.label,
        "attack_species": null,
        "fps": fps,
        "width": w,
        "height": h,
        "frames": frames,
        "source": {
            "fixture": fx.name,
            "file": fx.file,
            "sha256": fx.sha256,
            "package": format!("{} {} ({})", fx.source.package, fx.source.version, fx.source.registry),
            "path": fx.source.path,
            "decoder": format!("{} sha256 {}", tool.name, tool.sha256),
        },
    });
    let json = serde_json::to_string_pretty(&meta)? + "\n";
    fs::write(partial.join("capture.json"), json)
        .with_context(|| format!("writing {}", partial.join("capture.json").display()))?;
    fs::write(partial.join(DECODE_STAMP), decode_key(fx, d, tool))?;
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&partial, &dir)
        .with_context(|| format!("moving {} to {}", partial.display(), dir.display()))?;
    eprintln!(
        "setup: fixture `{}`: {count} frames {w}x{h} at {fps} fps in {} ({:.1} s)",
        fx.name,
        dir.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
