//! `report.html`: one self-contained page, inline SVG only (no scripts, no font files, no
//! external resources; text uses the viewer's generic `sans-serif`). SYNTHETIC and REAL
//! results sit in sections of their own and are never pooled.

use std::fmt::Write as _;

pub use liveproof_core::calibration::metrics::probit;

use crate::metrics::{pct, SweepPoint};
use crate::outcome::{Origin, Outcome, Summary, BONA_FIDE};

/// A calibration figures table (Cllr, minCllr, the calibration loss, ECE, Brier) and its
/// reliability diagram.
fn calibration_table(caption: &str, c: &crate::outcome::Calibration) -> String {
    let mut h = String::new();
    write!(
        h,
        "<table><caption>{} ({} bona fide, {} attack)</caption>\
         <tr><td>Cllr (bits)</td><td>{:.3}</td></tr><tr><td>minCllr (bits, after PAV)</td><td>{:.3}</td></tr>\
         <tr><td>calibration loss Cllr − minCllr</td><td>{:.3}</td></tr>\
         <tr><td>ECE (10 quantile bins, p = sigmoid(LLR))</td><td>{:.3}</td></tr><tr><td>Brier</td><td>{:.3}</td></tr></table>",
        esc(caption),
        c.n_bona_fide,
        c.n_attack,
        c.cllr,
        c.min_cllr,
        c.cllr - c.min_cllr,
        c.ece,
        c.brier
    )
    .ok();
    h.push_str(&reliability_svg(&c.bins));
    h
}

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const COLOURS: [&str; 10] = [
    "#d62728", "#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
    "#7f7f7f", "#2ca02c",
];

/// DET range: 0.1 % to 50 %.
const DET_MIN: f64 = 0.001;
const DET_MAX: f64 = 0.5;
const DET_TICKS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.5];

fn tick_label(p: f64) -> String {
    let v = 100.0 * p;
    if v < 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// The DET plot: APCER (x) against BPCER (y), both on probit axes from 0.1 % to 50 %, one
/// polyline per curve. Rates outside the range are drawn at the edge (clipped).
pub fn det_svg(curves: &[(String, Vec<SweepPoint>)]) -> String {
    let (w, h, ml, mr, mt, mb) = (520.0, 440.0, 60.0, 170.0, 20.0, 50.0);
    let (pw, ph) = (w - ml - mr, h - mt - mb);
    let (lo, hi) = (probit(DET_MIN), probit(DET_MAX));
    // Clamped into the plotted range, so a rate outside it lies on the edge rather than
    // vanishing under the clip (a curve entirely above 50 % BPCER is a line along the top).
    let x = |p: f64| ml + (probit(p.clamp(DET_MIN, DET_MAX)) - lo) / (hi - lo) * pw;
    let y = |p: f64| mt + ph - (probit(p.clamp(DET_MIN, DET_MAX)) - lo) / (hi - lo) * ph;
    let mut s = String::new();
    write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11"><defs><clipPath id="detclip"><rect x="{ml}" y="{mt}" width="{pw}" height="{ph}"/></clipPath></defs><rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="#fff" stroke="#000"/>"##
    )
    .ok();
    for &t in &DET_TICKS {
        let (tx, ty) = (x(t), y(t));
        write!(
            s,
            r##"<line x1="{tx:.1}" y1="{mt}" x2="{tx:.1}" y2="{:.1}" stroke="#ddd"/><line x1="{ml}" y1="{ty:.1}" x2="{:.1}" y2="{ty:.1}" stroke="#ddd"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle">{}</text><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            mt + ph,
            ml + pw,
            mt + ph + 14.0,
            tick_label(t),
            ml - 4.0,
            ty + 4.0,
            tick_label(t)
        )
        .ok();
    }
    write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">APCER (%), probit scale</text><text x="14" y="{:.1}" text-anchor="middle" transform="rotate(-90 14 {:.1})">BPCER (%), probit scale</text>"##,
        ml + pw / 2.0,
        h - 10.0,
        mt + ph / 2.0,
        mt + ph / 2.0
    )
    .ok();
    // The EER diagonal.
    write!(
        s,
        r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#aaa" stroke-dasharray="3 3"/>"##,
        x(DET_MIN),
        y(DET_MIN),
        x(DET_MAX),
        y(DET_MAX)
    )
    .ok();
    for (i, (name, pts)) in curves.iter().enumerate() {
        let colour = if name == "all attack species" {
            "#000"
        } else {
            COLOURS[i % COLOURS.len()]
        };
        let dash = if name == "all attack species" {
            r#" stroke-dasharray="6 3""#
        } else {
            ""
        };
        let mut path = String::new();
        for p in pts {
            write!(path, "{:.1},{:.1} ", x(p.apcer), y(p.bpcer)).ok();
        }
        write!(
            s,
            r##"<polyline clip-path="url(#detclip)" fill="none" stroke="{colour}" stroke-width="1.6"{dash} points="{}"/>"##,
            path.trim_end()
        )
        .ok();
        let ly = mt + 14.0 + 16.0 * i as f64;
        write!(
            s,
            r##"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"##,
            ml + pw + 10.0,
            ml + pw + 30.0,
            ml + pw + 34.0,
            ly + 4.0,
            esc(name)
        )
        .ok();
    }
    s.push_str("</svg>");
    s
}

/// Histogram of fused LLRs of one species against the bona fide ones: bins of 1 from −10 to
/// 10 (clamped), plus a bar for the presentations decided before fusion.
pub fn histogram_svg(species: &str, bona_fide: &[Option<f64>], attack: &[Option<f64>]) -> String {
    let (w, h, ml, mb, mt) = (340.0, 150.0, 30.0, 30.0, 18.0);
    let bins = 20usize;
    let count = |v: &[Option<f64>]| {
        let mut c = vec![0usize; bins + 1];
        for s in v {
            match s {
                None => c[0] += 1,
                Some(f) => {
                    let b = ((f.clamp(-10.0, 9.999) + 10.0) as usize).min(bins - 1);
                    c[b + 1] += 1
                }
            }
        }
        c
    };
    let (cb, ca) = (count(bona_fide), count(attack));
    let frac = |c: &[usize], n: usize| -> Vec<f64> {
        c.iter().map(|&k| k as f64 / n.max(1) as f64).collect()
    };
    let (fb, fa) = (frac(&cb, bona_fide.len()), frac(&ca, attack.len()));
    let top = fb
        .iter()
        .chain(&fa)
        .copied()
        .fold(0.0f64, f64::max)
        .max(0.05);
    let pw = w - ml - 8.0;
    let ph = h - mt - mb;
    let bw = pw / (bins + 2) as f64;
    let bx = |k: usize| ml + if k == 0 { 0.0 } else { (k + 1) as f64 * bw };
    let mut s = String::new();
    write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="10"><text x="{ml}" y="12">{} (red, n = {}) vs bona fide (green outline, n = {})</text><line x1="{ml}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#000"/>"##,
        esc(species),
        attack.len(),
        bona_fide.len(),
        mt + ph,
        ml + pw,
        mt + ph
    )
    .ok();
    for k in 0..=bins {
        let (x0, ha, hb) = (bx(k), fa[k] / top * ph, fb[k] / top * ph);
        if ha > 0.0 {
            write!(
                s,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{ha:.1}" fill="#d62728" fill-opacity="0.6"/>"##,
                x0 + 0.5,
                mt + ph - ha,
                bw - 1.0
            )
            .ok();
        }
        if hb > 0.0 {
            write!(
                s,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{hb:.1}" fill="none" stroke="#2ca02c" stroke-width="1.5"/>"##,
                x0 + 0.5,
                mt + ph - hb,
                bw - 1.0
            )
            .ok();
        }
    }
    // Axis labels: the veto bar, then LLR −10, −5, 0, 5, 10.
    write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">veto</text>"##,
        bx(0) + bw / 2.0,
        mt + ph + 12.0
    )
    .ok();
    for v in [-10, -5, 0, 5, 10] {
        let xv = bx(1) + (v + 10) as f64 * bw;
        write!(
            s,
            r##"<text x="{xv:.1}" y="{:.1}" text-anchor="middle">{v}</text>"##,
            mt + ph + 12.0
        )
        .ok();
    }
    write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">fused LLR (share of each class per bin; "veto": decided before fusion)</text></svg>"##,
        ml + pw / 2.0,
        h - 4.0
    )
    .ok();
    s
}

/// Reliability diagram: fraction bona fide against mean p = sigmoid(fused LLR) per bin.
pub fn reliability_svg(bins: &[(f64, f64, usize)]) -> String {
    let (w, h, m) = (320.0, 320.0, 45.0);
    let p = w - 2.0 * m;
    let x = |v: f64| m + v * p;
    let y = |v: f64| m + p - v * p;
    let mut s = String::new();
    write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11"><rect x="{m}" y="{m}" width="{p}" height="{p}" fill="#fff" stroke="#000"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#aaa" stroke-dasharray="3 3"/>"##,
        x(0.0),
        y(0.0),
        x(1.0),
        y(1.0)
    )
    .ok();
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{t}</text><text x="{:.1}" y="{:.1}" text-anchor="end">{t}</text>"##,
            x(t),
            m + p + 14.0,
            m - 4.0,
            y(t) + 4.0
        )
        .ok();
    }
    let pts: Vec<String> = bins
        .iter()
        .map(|b| format!("{:.1},{:.1}", x(b.0), y(b.1)))
        .collect();
    write!(
        s,
        r##"<polyline fill="none" stroke="#1f77b4" stroke-width="1.6" points="{}"/>"##,
        pts.join(" ")
    )
    .ok();
    for b in bins {
        write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="#1f77b4"><title>n = {}</title></circle>"##,
            x(b.0),
            y(b.1),
            b.2
        )
        .ok();
    }
    write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">mean p(bona fide) = sigmoid(fused LLR)</text><text x="12" y="{:.1}" text-anchor="middle" transform="rotate(-90 12 {:.1})">fraction bona fide</text></svg>"##,
        m + p / 2.0,
        h - 8.0,
        m + p / 2.0,
        m + p / 2.0
    )
    .ok();
    s
}

/// What the report says about the data and the run.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RunInfo {
    /// What the SYNTHETIC set is (persons, species, counts, generator).
    pub synthetic_description: String,
    /// Persons reported on, and the persons the shipped calibration was fitted on.
    pub held_out_persons: Vec<String>,
    pub fitted_on: String,
    pub policy_sha256: String,
    pub calibration_sha256: String,
    pub flow_tier: String,
    pub notes: Vec<String>,
}

fn species_note(s: &str) -> &'static str {
    match s {
        "print_flat_edges" => "flat printed sheet, its edges in view, turned to act out the seed's plan",
        "print_flat_no_edges" => "flat printed sheet filling the view (whole photo), turned to act out the plan",
        "print_curved_edges" => "sheet bent around a vertical cylinder (60–200 mm), edges in view, acting out the plan",
        "print_curved_no_edges" => "bent sheet filling the view, acting out the plan",
        "replay" => "screen replay of a recording of the person acting out another seed's plan",
        "replay_right_plan" => "screen replay of a recording acting out this session's plan (only the passive signals can catch it)",
        "other_seed" => "a bona fide camera capture made for another seed (wrong challenge)",
        "injection" => "the bona fide rendering of this seed's plan injected without a camera: exact frame period and no sensor noise by construction, caught by the stream heuristics (core::security::stream: exact timing + no frame-to-frame noise = injection 0.95, vetoed at security.veto_at)",
        _ => "",
    }
}

fn summary_tables(s: &Summary) -> String {
    let o = s.origin.as_str();
    let mut h = String::new();
    write!(
        h,
        "<table><caption>{o}: per attempt at the policy's operating point (pass = accepted as bona fide)</caption>\
         <tr><th>presentations</th><th>n</th><th>pass</th><th>retry</th><th>fail</th><th>error rate</th><th>retry (non-response) rate</th><th>per transaction ({} attempts, independent)</th><th>EER vs bona fide (sweep)</th></tr>",
        s.attempts
    )
    .ok();
    let b = &s.bona_fide;
    write!(
        h,
        "<tr><td>bona fide</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>BPCER {}</td><td>{}</td><td>not accepted in any attempt: {}</td><td></td></tr>",
        b.n,
        b.pass,
        b.retry,
        b.fail,
        b.bpcer.display(),
        b.retry_rate.display(),
        b.not_accepted_transaction.display()
    )
    .ok();
    for r in &s.species {
        write!(
            h,
            "<tr><td>attack: {}<br><small>{}</small></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>APCER {}</td><td>{}</td><td>accepted in some attempt: {}</td><td>{}</td></tr>",
            esc(&r.species),
            esc(species_note(&r.species)),
            r.n,
            r.pass,
            r.retry,
            r.fail,
            r.apcer.display(),
            r.retry_rate.display(),
            r.apcer_transaction.display(),
            pct(r.eer)
        )
        .ok();
    }
    h.push_str("</table>");
    let thr = |t: Option<f64>| {
        t.map(|v| format!("{v:.2}"))
            .unwrap_or_else(|| "+∞ (reject all)".into())
    };
    write!(
        h,
        "<table><caption>{o}: summary figures</caption>\
         <tr><td>APCER, maximum over species (species)</td><td>{} ({})</td></tr>\
         <tr><td>BPCER at the policy's operating point</td><td>{}</td></tr>\
         <tr><td>bona fide not accepted (fail + retry), per attempt</td><td>{}</td></tr>\
         <tr><td>BPCER20: BPCER where every species' APCER ≤ 5 % (fused-LLR threshold; worst species there)</td><td>{} (threshold {}; {} at APCER {})</td></tr>\
         <tr><td>BPCER100: BPCER where every species' APCER ≤ 1 %</td><td>{} (threshold {}; {} at APCER {})</td></tr>\
         <tr><td>EER, all attack species pooled (a summary; per species above)</td><td>{} (threshold {})</td></tr>\
         <tr><td><i>ACER (legacy figure, not an ISO/IEC 30107-3 metric): (max APCER + BPCER)/2</i></td><td><i>{}</i></td></tr></table>",
        s.apcer_max.display(),
        esc(&s.apcer_max_species),
        b.bpcer.display(),
        b.not_accepted.display(),
        s.bpcer20.bpcer.display(),
        thr(s.bpcer20.threshold),
        esc(&s.bpcer20.worst_species),
        pct(s.bpcer20.worst_apcer),
        s.bpcer100.bpcer.display(),
        thr(s.bpcer100.threshold),
        esc(&s.bpcer100.worst_species),
        pct(s.bpcer100.worst_apcer),
        pct(s.eer_all),
        thr(s.eer_all_threshold),
        pct(s.acer_legacy)
    )
    .ok();
    h
}

fn item_table(title: &str, items: &[&Outcome]) -> String {
    let mut h = String::new();
    write!(
        h,
        "<table><caption>{}</caption><tr><th>item</th><th>label</th><th>flow / tier</th><th>band</th><th>fused LLR</th><th>challenge</th><th>usable / frames (top quality hints)</th><th>reasons</th><th>signal LLRs</th><th>note</th></tr>",
        esc(title)
    )
    .ok();
    for o in items {
        let llrs: Vec<String> = o
            .llrs
            .iter()
            .map(|(s, v)| format!("{} {v:+.2}", s.as_str()))
            .collect();
        write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{:?} / {:?}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{} / {} {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&o.id),
            if o.bona_fide { "bona fide".to_string() } else { format!("attack: {}", esc(&o.species)) },
            o.flow,
            o.tier,
            o.band,
            o.fused.map(|f| format!("{f:.2}")).unwrap_or_else(|| "—".into()),
            esc(&o.challenge),
            o.usable_frames,
            o.frames,
            if o.hints.is_empty() { String::new() } else { format!("({})", esc(&o.hints.join(", "))) },
            esc(&o.reasons.join(", ")),
            esc(&llrs.join(", ")),
            esc(&o.note)
        )
        .ok();
    }
    h.push_str("</table>");
    h
}

/// The whole page.
pub fn html(info: &RunInfo, synthetic: Option<&Summary>, outcomes: &[Outcome]) -> String {
    let mut h = String::new();
    h.push_str(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>LiveProof evaluation report</title>\
         <style>body{font-family:sans-serif;max-width:1200px;margin:1em auto;padding:0 1em;color:#111}\
         table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #999;padding:3px 6px;vertical-align:top}\
         caption{font-weight:bold;text-align:left;padding:4px 0}.label{display:inline-block;padding:2px 8px;color:#fff;font-weight:bold}\
         .syn{background:#b35900}.real{background:#1f5fa8}.figs{display:flex;flex-wrap:wrap;gap:12px}</style></head><body>",
    );
    h.push_str("<h1>LiveProof evaluation report</h1>");
    write!(
        h,
        "<p>Policy sha256 <code>{}</code>, calibration bundle sha256 <code>{}</code>; sessions on flow/tier {}. \
         Metrics after ISO/IEC 30107-3:2023 (APCER per attack species and its maximum, BPCER, BPCER20/BPCER100, non-response). \
         Intervals: Wilson score, 95 %; with no errors the rule of three's 95 % upper bound 3/n. \
         Per transaction: the policy's attempts treated as independent, each with the per-attempt rate (its interval mapped the same way).</p>",
        esc(&info.policy_sha256),
        esc(&info.calibration_sha256),
        esc(&info.flow_tier)
    )
    .ok();
    // SYNTHETIC.
    h.push_str("<h2><span class=\"label syn\">SYNTHETIC</span> captures from liveproof-synth</h2>");
    write!(
        h,
        "<p>{}</p><p>Reported on held-out persons only: {}. The shipped calibration was fitted on: {}.</p>",
        esc(&info.synthetic_description),
        esc(&info.held_out_persons.join(", ")),
        esc(&info.fitted_on)
    )
    .ok();
    match synthetic {
        Some(s) => {
            h.push_str(&summary_tables(s));
            h.push_str("<h3>SYNTHETIC: DET curves of the fused LLR (bona fide against each species; dashed: all species pooled)</h3>");
            h.push_str(
                "<p>Presentations decided before fusion (vetoes, failed or incomplete challenges, poor quality) \
                 never pass at any threshold, so a curve ends at the APCER of the attacks that reached fusion.</p>",
            );
            h.push_str(&det_svg(&s.det));
            h.push_str("<h3>SYNTHETIC: fused-LLR histograms per species</h3><div class=\"figs\">");
            if let Some(e) = &s.evidence {
                write!(
                    h,
                    "<h3>SYNTHETIC: the passive evidence alone (vetoes ignored)</h3>\
                     <p>The policy's fusion of the available signal LLRs for every presentation \
                     with at least one signal ({} bona fide), whatever the policy then decided: \
                     what the passive signals separate with the challenge and the quality gate \
                     set aside.</p><table><caption>SYNTHETIC: passive evidence, EER per species \
                     (vetoes ignored)</caption><tr><th>species</th><th>presentations with a \
                     signal</th><th>EER</th></tr>",
                    e.n_bona_fide
                )
                .ok();
                for (name, n, eer) in &e.eer {
                    write!(
                        h,
                        "<tr><td>{}</td><td>{n}</td><td>{}</td></tr>",
                        esc(name),
                        pct(*eer)
                    )
                    .ok();
                }
                h.push_str("</table>");
                h.push_str(&det_svg(&e.det).replace("detclip", "detclip2"));
                if let Some(c) = &e.calibration {
                    h.push_str(&calibration_table(
                        "SYNTHETIC: calibration of the passive evidence",
                        c,
                    ));
                }
            }
            let syn: Vec<&Outcome> = outcomes
                .iter()
                .filter(|o| o.origin == Origin::Synthetic)
                .collect();
            let bf: Vec<Option<f64>> = syn
                .iter()
                .filter(|o| o.bona_fide)
                .map(|o| o.fused)
                .collect();
            for r in &s.species {
                let a: Vec<Option<f64>> = syn
                    .iter()
                    .filter(|o| o.species == r.species)
                    .map(|o| o.fused)
                    .collect();
                h.push_str(&histogram_svg(&r.species, &bf, &a));
            }
            h.push_str("</div>");
            h.push_str("<h3>SYNTHETIC: calibration of the fused LLR (presentations that reached fusion)</h3>");
            match &s.calibration {
                Some(c) => h.push_str(&calibration_table("SYNTHETIC: calibration figures", c)),
                None => h.push_str("<p>Not computed: the presentations that reached fusion are of one class only.</p>"),
            }
            h.push_str("<details><summary>SYNTHETIC: every session</summary>");
            h.push_str(&item_table("SYNTHETIC: every session", &syn));
            h.push_str("</details>");
        }
        None => {
            h.push_str("<p>No SYNTHETIC summary (no bona fide or no attack presentations).</p>")
        }
    }
    // REAL.
    h.push_str("<h2><span class=\"label real\">REAL</span> media, per item</h2>");
    let real: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.origin == Origin::Real)
        .collect();
    if real.is_empty() {
        h.push_str(
            "<p>No REAL media in this run (the shared folder was absent or not asked for).</p>",
        );
    } else {
        h.push_str(
            "<p>A handful of real items: per-item outcomes, not an error rate. Never pooled with the SYNTHETIC figures.</p>",
        );
        h.push_str(&item_table(
            "REAL: per item (never pooled with SYNTHETIC)",
            &real,
        ));
    }
    if !info.notes.is_empty() {
        h.push_str("<h2>Notes and limits</h2><ul>");
        for n in &info.notes {
            write!(h, "<li>{}</li>", esc(n)).ok();
        }
        h.push_str("</ul>");
    }
    let _ = BONA_FIDE;
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probit_matches_nist_ppndf_values() {
        for (p, z) in [
            (0.001, -3.090_232),
            (0.01, -2.326_348),
            (0.1, -1.281_552),
            (0.5, 0.0),
            (0.975, 1.959_964),
        ] {
            let got = probit(p);
            assert!((got - z).abs() < 1e-5, "probit({p}) = {got}, expected {z}");
        }
        assert_eq!(probit(0.0), f64::NEG_INFINITY);
        assert_eq!(probit(1.0), f64::INFINITY);
    }

    #[test]
    fn det_svg_has_probit_ticks_and_one_polyline_per_curve() {
        let pts = vec![
            SweepPoint {
                threshold: Some(0.0),
                apcer: 0.2,
                bpcer: 0.01,
            },
            SweepPoint {
                threshold: None,
                apcer: 0.0,
                bpcer: 1.0,
            },
        ];
        let svg = det_svg(&[
            ("print".into(), pts.clone()),
            ("all attack species".into(), pts),
        ]);
        assert_eq!(svg.matches("<polyline").count(), 2);
        for t in ["0.1", "0.5", "1", "5", "40", "50"] {
            assert!(svg.contains(&format!(">{t}</text>")), "tick {t}");
        }
        // 1 % and 10 % sit where the probit scale puts them: (z − z(0.1 %)) / (z(50 %) − z(0.1 %)).
        let frac = (probit(0.01) - probit(0.001)) / (0.0 - probit(0.001));
        assert!((frac - 0.2472).abs() < 1e-3, "{frac}");
        assert!(!svg.contains("<script") && !svg.contains("@font-face"));
    }
}
