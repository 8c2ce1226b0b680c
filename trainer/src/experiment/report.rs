//! The experiment report: per-run and averaged metrics as JSON and Markdown
//! (the layout of the paper's tables), the unseen per-class accuracy figure
//! (paper Fig. 5) and the t-SNE of z_x^r and z_x^v (paper Fig. 4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
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
        "\nEpochs are chosen by ZSL accuracy on the validation phase's pseudo-unseen classes, \
         ties by the mean log-probability of their true classes (each run's `selection.yaml`); \
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

/// One class of the per-class figure: its name and, for each run whose
/// unseen classes hold it, (run, accuracy, test samples).
struct ClassRow {
    name: String,
    runs: Vec<(usize, f64, u64)>,
}

impl ClassRow {
    fn mean(&self) -> f64 {
        self.runs.iter().map(|r| r.1).sum::<f64>() / self.runs.len() as f64
    }

    fn label(&self) -> String {
        let n: u64 = self.runs.iter().map(|r| r.2).sum();
        match self.runs.as_slice() {
            [(run, _, _)] => format!("{} (run {run}, n = {n})", self.name),
            runs => format!(
                "{} (runs {}, n = {n})",
                self.name,
                runs.iter()
                    .map(|r| r.0.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The rows of the per-class figure, grouped by the first run that holds
/// each class, then by class index.
fn class_rows(outcomes: &[&RunOutcome], names: &BTreeMap<u16, String>) -> Vec<ClassRow> {
    let mut by_class: BTreeMap<u16, Vec<(usize, f64, u64)>> = BTreeMap::new();
    for o in outcomes {
        for (class, a, n) in o.metrics.zsl_confusion.per_class() {
            by_class.entry(class).or_default().push((o.run, a, n));
        }
    }
    let mut rows: Vec<(usize, u16, ClassRow)> = by_class
        .into_iter()
        .map(|(c, runs)| {
            let first = runs.iter().map(|r| r.0).min().unwrap_or(0);
            let name = names
                .get(&c)
                .cloned()
                .unwrap_or_else(|| format!("class {c}"));
            (first, c, ClassRow { name, runs })
        })
        .collect();
    rows.sort_by_key(|r| (r.0, r.1));
    rows.into_iter().map(|r| r.2).collect()
}

/// Unseen per-class accuracy (ZSL), paper Fig. 5: one bar per class, centred
/// on its label, the mean over the runs whose unseen classes hold it, with
/// its value; a dot per run; each label names the runs and the class's test
/// samples.
fn per_class_plot(
    path: &Path,
    outcomes: &[&RunOutcome],
    names: &BTreeMap<u16, String>,
    variant: Variant,
) -> anyhow::Result<()> {
    font();
    let rows = class_rows(outcomes, names);
    let runs: Vec<usize> = {
        let mut r: Vec<usize> = outcomes.iter().map(|o| o.run).collect();
        r.sort_unstable();
        r.dedup();
        r
    };
    let n = rows.len().max(1);
    let height = (150 + 30 * n) as u32;
    let root = BitMapBackend::new(path, (1000, height)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error(path))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Unseen-class accuracy (ZSL), {}: bars the mean over runs, dots each run",
                variant.name()
            ),
            ("sans-serif", 20),
        )
        .margin_top(12)
        .margin_bottom(12)
        .margin_left(12)
        .margin_right(40)
        .x_label_area_size(40)
        .y_label_area_size(400)
        // Room right of 100 for the values and the legend.
        .build_cartesian_2d(0f64..125f64, 0f64..n as f64)
        .map_err(plot_error(path))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(WHITE)
        .y_labels(0)
        .x_labels(14)
        .x_label_formatter(&|x| {
            if *x <= 100.0 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        })
        .x_desc("accuracy (%), n: test samples of the class")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(plot_error(path))?;
    // Row i is drawn from the top: its centre is at n - i - 0.5.
    let centre = |i: usize| n as f64 - i as f64 - 0.5;
    chart
        .draw_series(rows.iter().enumerate().map(|(i, r)| {
            Rectangle::new(
                [
                    (0.0, centre(i) - 0.32),
                    (100.0 * r.mean(), centre(i) + 0.32),
                ],
                BLUE.mix(0.35).filled(),
            )
        }))
        .map_err(plot_error(path))?;
    let colours = [RED, GREEN, MAGENTA, CYAN, BLACK];
    for (k, &run) in runs.iter().enumerate() {
        let colour = colours[k % colours.len()];
        let dots = rows.iter().enumerate().flat_map(|(i, r)| {
            r.runs
                .iter()
                .filter(move |x| x.0 == run)
                .map(move |x| Circle::new((100.0 * x.1, centre(i)), 5, colour.filled()))
        });
        chart
            .draw_series(dots)
            .map_err(plot_error(path))?
            .label(format!("run {run}"))
            .legend(move |(x, y)| Circle::new((x + 8, y), 5, colour.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(plot_error(path))?;
    // Labels centred on their bars, in the label area; values by the bars.
    let label_style =
        TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    let value_style = TextStyle::from(("sans-serif", 13).into_font());
    for (i, r) in rows.iter().enumerate() {
        let (x0, y) = chart.backend_coord(&(0.0, centre(i)));
        root.draw(&Text::new(r.label(), (x0 - 8, y), label_style.clone()))
            .map_err(plot_error(path))?;
        let mean = 100.0 * r.mean();
        let (x, _) = chart.backend_coord(&(mean, centre(i)));
        root.draw(&Text::new(
            format!("{mean:.0}"),
            (x + 10, y),
            value_style.pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(plot_error(path))?;
    }
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
