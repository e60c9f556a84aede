//! CSV exports for the accountant (issue 10): what can be exported, named as the JSON API, the
//! command line and the Exports page name it. Wasm-safe, so the page builds the same download
//! addresses the server answers; the columns, queries and streaming are in `engine::exports`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What can be exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportDataset {
    /// One row per payout committed in the period.
    Payouts,
    /// One row per line (service or working day) of the payouts committed in the period.
    PayoutLines,
    /// One row per posting of the ledger transfers effective in the period.
    LedgerTransfers,
    /// One row per till session closed for a business day of the period (its Z report).
    ZReports,
}

impl ExportDataset {
    /// Every dataset, in the documented order.
    pub const ALL: [ExportDataset; 4] = [
        ExportDataset::Payouts,
        ExportDataset::PayoutLines,
        ExportDataset::LedgerTransfers,
        ExportDataset::ZReports,
    ];

    /// The name in URLs, file names and the command line: `payouts`, `payout-lines`,
    /// `ledger-transfers`, `z-reports`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportDataset::Payouts => "payouts",
            ExportDataset::PayoutLines => "payout-lines",
            ExportDataset::LedgerTransfers => "ledger-transfers",
            ExportDataset::ZReports => "z-reports",
        }
    }

    /// Parses a dataset name. Errors name the datasets there are.
    pub fn parse(text: &str) -> Result<ExportDataset, String> {
        ExportDataset::ALL
            .into_iter()
            .find(|dataset| dataset.as_str() == text.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = ExportDataset::ALL.iter().map(|d| d.as_str()).collect();
                format!(
                    "'{text}' is not an export; the exports are {}",
                    names.join(", ")
                )
            })
    }

    /// Where the export of `from ..= to` (YYYY-MM-DD), of one studio or all, downloads from
    /// (`GET`, `text/csv`): `/api/v1/exports/payouts.csv?from=2026-09-01&to=2026-09-30`.
    pub fn download_path(self, from: &str, to: &str, studio_id: Option<&str>) -> String {
        let studio = studio_id
            .filter(|id| !id.is_empty())
            .map(|id| format!("&studio_id={id}"))
            .unwrap_or_default();
        format!("/api/v1/exports/{self}.csv?from={from}&to={to}{studio}")
    }
}

impl fmt::Display for ExportDataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row count as the Exports page and `payout-engine export` print it: `12480` → `12,480`.
pub fn rows_text(rows: u64) -> String {
    let digits = rows.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// One dataset of the Exports page: how many rows its file has for the chosen period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSummary {
    /// The dataset.
    pub dataset: ExportDataset,
    /// Data rows its CSV holds now (the header row not counted).
    pub rows: u64,
}

/// The Exports page's period and what each file holds for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportOverview {
    /// First business day (YYYY-MM-DD, Europe/Zurich), inclusive.
    pub from: String,
    /// Last business day (YYYY-MM-DD), inclusive.
    pub to: String,
    /// Only this studio; `None`: every studio of the caller.
    pub studio_id: Option<String>,
    /// Every dataset with its row count, in [`ExportDataset::ALL`] order.
    pub datasets: Vec<ExportSummary>,
}

impl ExportOverview {
    /// Where `dataset` of this period downloads from.
    pub fn download_path(&self, dataset: ExportDataset) -> String {
        dataset.download_path(&self.from, &self.to, self.studio_id.as_deref())
    }

    /// The file name the download is saved as: `payouts-2026-01-01-2026-12-05.csv` (as the
    /// server's `Content-Disposition` names it).
    pub fn file_name(&self, dataset: ExportDataset) -> String {
        format!("{dataset}-{}-{}.csv", self.from, self.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dataset_parses_back_from_its_name_and_others_are_refused_with_the_list() {
        for dataset in ExportDataset::ALL {
            assert_eq!(ExportDataset::parse(dataset.as_str()), Ok(dataset));
        }
        assert_eq!(
            ExportDataset::parse("payout"),
            Err("'payout' is not an export; the exports are payouts, payout-lines, ledger-transfers, z-reports".into())
        );
    }

    #[test]
    fn row_counts_are_grouped_by_thousands() {
        assert_eq!(rows_text(0), "0");
        assert_eq!(rows_text(999), "999");
        assert_eq!(rows_text(1_000), "1,000");
        assert_eq!(rows_text(1_234_567), "1,234,567");
    }

    #[test]
    fn the_download_path_names_the_file_period_and_studio() {
        assert_eq!(
            ExportDataset::ZReports.download_path("2026-09-01", "2026-09-30", None),
            "/api/v1/exports/z-reports.csv?from=2026-09-01&to=2026-09-30"
        );
        assert_eq!(
            ExportDataset::Payouts.download_path("2026-09-01", "2026-09-30", Some("abc")),
            "/api/v1/exports/payouts.csv?from=2026-09-01&to=2026-09-30&studio_id=abc"
        );
    }
}
