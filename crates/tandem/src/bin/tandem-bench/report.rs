//! The table every run prints: figure, measured, target, verdict.

use std::fmt::Write as _;

/// Whether a figure met its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Met the target.
    Met,
    /// Measured, but missed the target (the note says what limits it).
    Missed,
    /// A correctness check of the fault suite failed, or the run itself failed.
    Failed,
    /// A figure without a target.
    Info,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "MISSED",
            Verdict::Failed => "FAILED",
            Verdict::Info => "-",
        }
    }

    /// `Met` when `ok`, else `Missed`.
    pub fn target(ok: bool) -> Self {
        if ok { Verdict::Met } else { Verdict::Missed }
    }

    /// `Met` when `ok`, else `Failed`: for correctness checks.
    pub fn check(ok: bool) -> Self {
        if ok { Verdict::Met } else { Verdict::Failed }
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub figure: String,
    /// The measured value, with its unit.
    pub measured: String,
    /// The target, or "-".
    pub target: String,
    /// Met, missed or failed.
    pub verdict: Verdict,
    /// The figures behind it, or what limits it.
    pub note: String,
}

impl Row {
    /// A row.
    pub fn new(
        figure: impl Into<String>,
        measured: impl Into<String>,
        target: impl Into<String>,
        verdict: Verdict,
        note: impl Into<String>,
    ) -> Self {
        Row {
            figure: figure.into(),
            measured: measured.into(),
            target: target.into(),
            verdict,
            note: note.into(),
        }
    }

    /// A row for a part of the run that could not be measured at all.
    pub fn error(figure: impl Into<String>, error: &anyhow::Error) -> Self {
        Row::new(figure, "error", "-", Verdict::Failed, format!("{error:#}"))
    }
}

/// The table as aligned text, or as Markdown.
pub fn render(rows: &[Row], markdown: bool) -> String {
    let mut out = String::new();
    if markdown {
        out.push_str("| Figure | Measured | Target | Verdict | Notes |\n|---|---|---|---|---|\n");
        for r in rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                r.figure,
                r.measured,
                r.target,
                r.verdict.as_str(),
                r.note.replace('|', "\\|")
            );
        }
        return out;
    }
    let width = |f: fn(&Row) -> &str, title: &str| {
        rows.iter()
            .map(|r| f(r).chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let (wf, wm, wt) = (
        width(|r| &r.figure, "figure"),
        width(|r| &r.measured, "measured"),
        width(|r| &r.target, "target"),
    );
    let _ = writeln!(
        out,
        "{:<wf$}  {:>wm$}  {:<wt$}  {:<7} notes",
        "figure", "measured", "target", "verdict"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<wf$}  {:>wm$}  {:<wt$}  {:<7} {}",
            r.figure,
            r.measured,
            r.target,
            r.verdict.as_str(),
            r.note
        );
    }
    out
}
