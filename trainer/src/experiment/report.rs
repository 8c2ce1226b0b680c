//! The experiment report: per-run and averaged metrics as JSON and Markdown
//! (the layout of the paper's tables), the unseen per-class accuracy figure
//! (paper Fig. 5) and the t-SNE of z_x^r and z_x^v (paper Fig. 4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use serde::{Deserialize, Serialize};
use skel_pipeline::rng::Rng;

use super::{Experiment, RunOutcome};
use crate::run_dir::write_atomic;
use crate::sadvae::{Compat, Variant};

/// Mean and sample standard deviation over runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
}

impl MeanStd {
    pub fn of(values: &[f64]) -> Self {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = if values.len() > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        Self { mean, std }
    }

    fn percent(self) -> String {
        format!("{:.2} ± {:.2}", 100.0 * self.mean, 100.0 * self.std)
    }
}

/// The averaged metrics of one variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VariantSummary {
    pub variant: Variant,
    pub runs: usize,
    pub zsl: MeanStd,
    pub acc_s: MeanStd,
    pub acc_u: MeanStd,
    pub h: MeanStd,
}

/// `results.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub name: String,
    pub dataset: String,
    /// `sadvae.compat`: `paper` or `official` (the official code's schedule,
    /// C_u, gate hold-out and threshold inversion).
    #[serde(default)]
    pub mode: Compat,
    pub splits: Vec<PathBuf>,
    pub variants: Vec<VariantSummary>,
    pub runs: Vec<RunOutcome>,
    /// Files written next to results.json.
    pub files: Vec<PathBuf>,
}

fn label(variant: Variant) -> &'static str {
    match variant {
        Variant::Naive => "SA-DVAE naive (no disentanglement)",
        Variant::Fd => "SA-DVAE FD (disentangled, no TC)",
        Variant::FdTc => "SA-DVAE (FD + TC)",
    }
}

/// Writes results.json, results.md and the figures; returns the summary.
pub fn write_report(exp: &Experiment, outcomes: &[RunOutcome]) -> anyhow::Result<Summary> {
    let out = &exp.cfg.out_dir;
    let mut by_variant: BTreeMap<Variant, Vec<&RunOutcome>> = BTreeMap::new();
    for o in outcomes {
        by_variant.entry(o.variant).or_default().push(o);
    }
    let variants: Vec<VariantSummary> = exp
        .cfg
        .variants
        .iter()
        .filter_map(|v| by_variant.get(v).map(|os| (v, os)))
        .map(|(&variant, os)| {
            let pick = |f: fn(&RunOutcome) -> f64| {
                MeanStd::of(&os.iter().map(|o| f(o)).collect::<Vec<_>>())
            };
            VariantSummary {
                variant,
                runs: os.len(),
                zsl: pick(|o| o.metrics.zsl),
                acc_s: pick(|o| o.metrics.acc_s),
                acc_u: pick(|o| o.metrics.acc_u),
                h: pick(|o| o.metrics.h),
            }
        })
        .collect();

    let plots = out.join("plots");
    std::fs::create_dir_all(&plots)?;
    let mut files = vec![PathBuf::from("results.json"), PathBuf::from("results.md")];
    let class_names = class_names(exp);
    for (&variant, os) in &by_variant {
        let name = format!("plots/unseen-per-class-{}.png", variant.name());
        per_class_plot(&out.join(&name), os, &class_names, variant)?;
        files.push(name.into());
        let latents = exp.variant_dir(0, variant);
        if exp.cfg.report.tsne && latents.join("z_r.npy").exists() {
            let name = format!("plots/tsne-{}.png", variant.name());
            tsne_plot(&out.join(&name), &latents, &class_names, variant)?;
            files.push(name.into());
        }
    }

    let summary = Summary {
        name: exp.cfg.name.clone(),
        dataset: exp.dataset.name().into(),
        mode: exp.cfg.sadvae.compat,
        splits: (0..exp.runs()).map(|r| exp.split_path(r)).collect(),
        variants,
        runs: outcomes.to_vec(),
        files,
    };
    write_atomic(
        &out.join("results.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    write_atomic(&out.join("results.md"), markdown(exp, &summary).as_bytes())?;
    Ok(summary)
}

fn class_names(exp: &Experiment) -> BTreeMap<u16, String> {
    skel_pipeline::classes::class_table(exp.dataset)
        .0
        .into_iter()
        .map(|c| (c.index, c.name))
        .collect()
}

/// The averaged table for a terminal.
pub fn table(s: &Summary) -> String {
    let mut t = format!(
        "{} ({} runs, mean ± std, %{})\n{:<36} {:>15} {:>15} {:>15} {:>15}\n",
        s.name,
        s.splits.len(),
        match s.mode {
            Compat::Paper => "",
            Compat::Official => "; SA-DVAE as the official code",
        },
        "method",
        "ZSL",
        "GZSL Acc_s",
        "GZSL Acc_u",
        "GZSL H"
    );
    for v in &s.variants {
        let _ = writeln!(
            t,
            "{:<36} {:>15} {:>15} {:>15} {:>15}",
            label(v.variant),
            v.zsl.percent(),
            v.acc_s.percent(),
            v.acc_u.percent(),
            v.h.percent()
        );
    }
    t
}

/// The tables in Markdown.
pub fn markdown(exp: &Experiment, s: &Summary) -> String {
    let mut md = String::new();
    let unseen = s
        .runs
        .first()
        .map_or(0, |o| o.metrics.zsl_confusion.classes.len());
    let _ = writeln!(md, "# {}\n", s.name);
    let _ = writeln!(
        md,
        "{} runs on {} ({} unseen classes), {} features, text `{}` ({}).\n",
        s.splits.len(),
        s.dataset,
        unseen,
        exp.cfg.extractor.as_ref().map_or_else(
            || "imported (sa-dvae layout)".to_owned(),
            |e| format!("{:?}", e.backbone.arch).to_lowercase()
        ),
        exp.cfg.text.mode,
        exp.cfg.text.encoder.name()
    );
    let _ = writeln!(
        md,
        "SA-DVAE mode `{}` (`sadvae.compat`): {}\n",
        s.mode.name(),
        match s.mode {
            Compat::Paper =>
                "the paper's method; the gate threshold is applied as it was chosen \
                              (unseen if P(unseen) > threshold).",
            Compat::Official =>
                "the official code's (pha123661/SA-DVAE at 90d99b8): its loss \
                                 schedule and shared noise, C_u with a ReLU on its logits, a fresh \
                                 gate hold-out for each temperature, and its threshold inversion \
                                 (chosen as unseen if P(unseen) > threshold, applied as seen if \
                                 P(seen) > threshold).",
        }
    );
    let _ = writeln!(md, "## Mean ± standard deviation over runs (%)\n");
    let _ = writeln!(md, "| Method | ZSL | GZSL Acc_s | GZSL Acc_u | GZSL H |");
    let _ = writeln!(md, "|---|---|---|---|---|");
    for v in &s.variants {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            label(v.variant),
            v.zsl.percent(),
            v.acc_s.percent(),
            v.acc_u.percent(),
            v.h.percent()
        );
    }
    let _ = writeln!(md, "\n## Each run (%)\n");
    let _ = writeln!(
        md,
        "| Run | Method | ZSL | Acc_s | Acc_u | H | Epoch (chosen on validation) | Gate T | Gate threshold |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for o in &s.runs {
        let m = &o.metrics;
        let _ = writeln!(
            md,
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {:.2} |",
            o.run,
            o.variant.name(),
            100.0 * m.zsl,
            100.0 * m.acc_s,
            100.0 * m.acc_u,
            100.0 * m.h,
            o.selection.chosen_epoch,
            o.gate_temperature,
            o.gate_threshold
        );
    }
    let _ = writeln!(
        md,
        "\nEpochs are chosen by ZSL accuracy on the validation phase's pseudo-unseen classes; \
         the test partition is never used for selection.\n"
    );
    let _ = writeln!(md, "## Figures\n");
    for f in s
        .files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png"))
    {
        let _ = writeln!(md, "![{}]({})", f.display(), f.display());
    }
    md
}

fn font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // A bundled font: the figures need no system fonts.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../../assets/DejaVuSans.ttf"),
        );
    });
}

fn plot_error<E: std::fmt::Debug>(path: &Path) -> impl FnOnce(E) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("drawing {}: {e:?}", path.display())
}

/// Unseen per-class accuracy (ZSL), averaged over the runs that have the
/// class, one bar per class (paper Fig. 5).
fn per_class_plot(
    path: &Path,
    outcomes: &[&RunOutcome],
    names: &BTreeMap<u16, String>,
    variant: Variant,
) -> anyhow::Result<()> {
    font();
    let mut acc: BTreeMap<u16, Vec<f64>> = BTreeMap::new();
    for o in outcomes {
        for (class, a, _) in o.metrics.zsl_confusion.per_class() {
            acc.entry(class).or_default().push(a);
        }
    }
    let bars: Vec<(String, f64)> = acc
        .iter()
        .map(|(c, v)| {
            let name = names
                .get(c)
                .cloned()
                .unwrap_or_else(|| format!("class {c}"));
            (name, 100.0 * v.iter().sum::<f64>() / v.len() as f64)
        })
        .collect();
    let height = (120 + 26 * bars.len()).max(300) as u32;
    let root = BitMapBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error(path))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Unseen-class accuracy (ZSL), {}", variant.name()),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(300)
        .build_cartesian_2d(0.0..100.0, 0..bars.len())
        .map_err(plot_error(path))?;
    let labels: Vec<String> = bars.iter().map(|(n, _)| n.clone()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("accuracy (%)")
        .y_labels(bars.len() + 1)
        .y_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(plot_error(path))?;
    chart
        .draw_series(
            bars.iter()
                .enumerate()
                .map(|(i, (_, a))| Rectangle::new([(0.0, i), (*a, i + 1)], BLUE.mix(0.6).filled())),
        )
        .map_err(plot_error(path))?;
    root.present().map_err(plot_error(path))?;
    Ok(())
}

/// 2-D t-SNE of the rows of an N x K matrix (Barnes-Hut, seeded start).
pub fn tsne(rows: &[Vec<f32>], seed: u64) -> Vec<(f32, f32)> {
    if rows.len() < 4 {
        return rows.iter().map(|_| (0.0, 0.0)).collect();
    }
    let mut rng = Rng::from_parts(&[seed, 0x75e]);
    let start: Vec<f32> = (0..rows.len() * 2)
        .map(|_| 1e-4 * rng.normal() as f32)
        .collect();
    let samples: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
    let perplexity = (((rows.len() - 1) / 3) as f32).min(30.0);
    let embedding = bhtsne::tSNE::<f32, &[f32], 2>::new(&samples)
        .perplexity(perplexity)
        .epochs(1000)
        .initial_embedding(start)
        .barnes_hut(0.5, |a, b| {
            a.iter()
                .zip(b.iter())
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f32>()
                .sqrt()
        })
        .embedding();
    embedding.chunks(2).map(|p| (p[0], p[1])).collect()
}

/// t-SNE of z_x^r beside z_x^v of unseen test samples, coloured by class
/// (paper Fig. 4: the semantic latent clusters by class, the style one does not).
fn tsne_plot(
    path: &Path,
    dir: &Path,
    names: &BTreeMap<u16, String>,
    variant: Variant,
) -> anyhow::Result<()> {
    font();
    let read = |name: &str| -> anyhow::Result<Vec<Vec<f32>>> {
        let a = skel_pipeline::npy::read::<f32>(&dir.join(name))?;
        let width = a.shape.get(1).copied().unwrap_or(1).max(1);
        Ok(a.data.chunks(width).map(<[f32]>::to_vec).collect())
    };
    let labels: Vec<u16> = read("z_labels.npy")?
        .into_iter()
        .flatten()
        .map(|v| v as u16)
        .collect();
    let panels = [
        ("z_x^r (semantic)", read("z_r.npy")?),
        ("z_x^v (style)", read("z_v.npy")?),
    ];
    let classes: Vec<u16> = {
        let mut c = labels.clone();
        c.sort_unstable();
        c.dedup();
        c
    };
    let root = BitMapBackend::new(path, (1400, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error(path))?;
    let halves = root.split_evenly((1, 2));
    for ((title, rows), area) in panels.iter().zip(&halves) {
        if rows.first().is_none_or(|r| r.is_empty()) {
            continue; // no style head (naive)
        }
        let points = tsne(rows, 0);
        let (mut lo, mut hi) = ((f32::MAX, f32::MAX), (f32::MIN, f32::MIN));
        for &(x, y) in &points {
            lo = (lo.0.min(x), lo.1.min(y));
            hi = (hi.0.max(x), hi.1.max(y));
        }
        let pad = |a: f32, b: f32| ((b - a) * 0.05).max(1e-3);
        // The right third of the x range is left empty for the legend.
        let legend_room = (hi.0 - lo.0).max(1e-3) * 0.5;
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{title}, {}", variant.name()), ("sans-serif", 22))
            .margin(16)
            .build_cartesian_2d(
                (lo.0 - pad(lo.0, hi.0))..(hi.0 + pad(lo.0, hi.0) + legend_room),
                (lo.1 - pad(lo.1, hi.1))..(hi.1 + pad(lo.1, hi.1)),
            )
            .map_err(plot_error(path))?;
        for (ci, class) in classes.iter().enumerate() {
            let colour = Palette99::pick(ci).to_rgba();
            let name = names.get(class).cloned().unwrap_or_default();
            chart
                .draw_series(
                    points
                        .iter()
                        .zip(&labels)
                        .filter(|(_, l)| *l == class)
                        .map(|(&(x, y), _)| Circle::new((x, y), 3, colour.filled())),
                )
                .map_err(plot_error(path))?
                .label(name)
                .legend(move |(x, y)| Circle::new((x, y), 4, colour.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(plot_error(path))?;
    }
    root.present().map_err(plot_error(path))?;
    Ok(())
}
