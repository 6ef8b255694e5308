//! Figures, their references and ratios, and the markdown table they end up in.

use std::fmt::Write as _;

/// The median of `values` (mean of the middle two for an even count); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The smallest of `values`.
pub fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

/// The largest of `values`.
pub fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// The `p`-th percentile (0-100) of `values`, nearest rank.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// How a subject's runs are compared with its reference's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pairing {
    /// Run `i` of the subject and run `i` of the reference ran back to back: the ratio is
    /// taken per run, and its median, min and max are reported.
    PerRun,
    /// Independent samples of a distribution (counts per run): the ratio of the medians and
    /// the ratio of the worst (largest) values are reported.
    Distribution,
}

/// Whether a target was met.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The target, in words.
    pub target: String,
    /// Whether it was met.
    pub met: bool,
}

/// One line of the results table.
#[derive(Clone, Debug)]
pub struct Row {
    /// The case, for example `1. Upload, loopback`.
    pub case: String,
    /// What is measured, with its unit.
    pub measure: String,
    /// What was measured.
    pub subject: String,
    /// One value per run.
    pub values: Vec<f64>,
    /// What it is compared with, and that one's values.
    pub reference: Option<(String, Vec<f64>)>,
    /// How the ratio is formed.
    pub pairing: Pairing,
    /// The issue's target for this row, if it has one.
    pub verdict: Option<Verdict>,
}

impl Row {
    /// A row without reference.
    pub fn new(case: &str, measure: &str, subject: &str, values: Vec<f64>) -> Row {
        Row {
            case: case.to_owned(),
            measure: measure.to_owned(),
            subject: subject.to_owned(),
            values,
            reference: None,
            pairing: Pairing::PerRun,
            verdict: None,
        }
    }

    /// Adds the reference.
    pub fn against(mut self, reference: &str, values: Vec<f64>, pairing: Pairing) -> Row {
        self.reference = Some((reference.to_owned(), values));
        self.pairing = pairing;
        self
    }

    /// Adds a verdict.
    pub fn judged(mut self, target: impl Into<String>, met: bool) -> Row {
        self.verdict = Some(Verdict {
            target: target.into(),
            met,
        });
        self
    }

    /// Per-run ratios subject / reference.
    pub fn ratios(&self) -> Vec<f64> {
        match &self.reference {
            Some((_, reference)) => self
                .values
                .iter()
                .zip(reference)
                .map(|(s, r)| s / r)
                .collect(),
            None => Vec::new(),
        }
    }

    /// The median per-run ratio ([`Pairing::PerRun`]) or the ratio of medians.
    pub fn median_ratio(&self) -> f64 {
        match (&self.reference, self.pairing) {
            (None, _) => f64::NAN,
            (Some(_), Pairing::PerRun) => median(&self.ratios()),
            (Some((_, reference)), Pairing::Distribution) => {
                median(&self.values) / median(reference)
            }
        }
    }

    /// The ratio of the worst (largest) values ([`Pairing::Distribution`]).
    pub fn worst_ratio(&self) -> f64 {
        match &self.reference {
            Some((_, reference)) => max(&self.values) / max(reference),
            None => f64::NAN,
        }
    }
}

/// Formats a figure with about four significant digits.
pub fn fmt(value: f64) -> String {
    if value.is_nan() {
        return "n/a".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    let abs = value.abs();
    if abs >= 1000.0 || value == value.trunc() && abs < 1e15 {
        let rounded = value.round() as i64;
        let digits = rounded.unsigned_abs().to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if rounded < 0 {
            grouped.insert(0, '-');
        }
        grouped
    } else if abs >= 100.0 {
        format!("{value:.1}")
    } else if abs >= 10.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// Formats a ratio.
pub fn fmt_ratio(value: f64) -> String {
    if value.is_nan() {
        "n/a".into()
    } else if value.is_infinite() {
        "inf".into()
    } else if value < 0.01 && value > 0.0 {
        format!("{value:.4}x")
    } else {
        format!("{value:.2}x")
    }
}

/// Everything one run of the harness found.
#[derive(Debug, Default)]
pub struct Report {
    /// The table.
    pub rows: Vec<Row>,
    /// Remarks printed under the table (how something was measured, gaps).
    pub notes: Vec<String>,
}

impl Report {
    /// Adds a row and prints it at once, so a long run shows progress.
    pub fn push(&mut self, row: Row) {
        eprintln!("  {}", one_line(&row));
        self.rows.push(row);
    }

    /// Adds a remark.
    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        eprintln!("  note: {note}");
        self.notes.push(note);
    }

    /// The results as markdown: the table, then the notes.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "| Case | Measure | Subject | Median | Min | Max | Reference | Ref. median | Ratio: median (min - max) | Target | Met |\n",
        );
        out.push_str("|---|---|---|---:|---:|---:|---|---:|---|---|---|\n");
        for row in &self.rows {
            let (reference, ref_median) = match &row.reference {
                Some((name, values)) => (name.clone(), fmt(median(values))),
                None => ("-".into(), "-".into()),
            };
            let ratio = match (&row.reference, row.pairing) {
                (None, _) => "-".into(),
                (Some(_), Pairing::PerRun) => {
                    let ratios = row.ratios();
                    format!(
                        "{} ({} - {})",
                        fmt_ratio(median(&ratios)),
                        fmt_ratio(min(&ratios)),
                        fmt_ratio(max(&ratios))
                    )
                }
                (Some(_), Pairing::Distribution) => format!(
                    "medians {}, worst {}",
                    fmt_ratio(row.median_ratio()),
                    fmt_ratio(row.worst_ratio())
                ),
            };
            let (target, met) = match &row.verdict {
                Some(v) => (
                    v.target.clone(),
                    if v.met { "yes" } else { "**no**" }.into(),
                ),
                None => ("-".into(), "-".to_owned()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                row.case,
                row.measure,
                row.subject,
                fmt(median(&row.values)),
                fmt(min(&row.values)),
                fmt(max(&row.values)),
                reference,
                ref_median,
                ratio,
                target,
                met
            );
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }
}

fn one_line(row: &Row) -> String {
    let mut line = format!(
        "{} | {} | {}: median {} (min {}, max {}, n={})",
        row.case,
        row.measure,
        row.subject,
        fmt(median(&row.values)),
        fmt(min(&row.values)),
        fmt(max(&row.values)),
        row.values.len()
    );
    if let Some((name, _)) = &row.reference {
        let _ = write!(line, " vs {name}: {}", fmt_ratio(row.median_ratio()));
        if row.pairing == Pairing::Distribution {
            let _ = write!(line, " (worst {})", fmt_ratio(row.worst_ratio()));
        }
    }
    if let Some(v) = &row.verdict {
        let _ = write!(
            line,
            " [{}: {}]",
            v.target,
            if v.met { "met" } else { "MISSED" }
        );
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_and_formatting() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), 2.0);
        assert_eq!(
            percentile(&(1..=100).map(f64::from).collect::<Vec<_>>(), 99.0),
            99.0
        );
        assert_eq!(fmt(1234567.0), "1,234,567");
        assert_eq!(fmt(12.345), "12.35");
        assert_eq!(fmt(0.0), "0");
        assert_eq!(fmt_ratio(1.234), "1.23x");
        let row =
            Row::new("c", "m", "s", vec![2.0, 4.0]).against("r", vec![1.0, 1.0], Pairing::PerRun);
        assert_eq!(row.median_ratio(), 3.0);
    }
}
