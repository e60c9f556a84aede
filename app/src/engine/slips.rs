//! Payout slips (issue 10): the PDF an employee gets for a committed payout. It owns reading what
//! a slip shows and laying it out; it writes nothing, and it never shows or logs an IBAN in full.
//!
//! A slip shows the studio, the employee, the payout's id and period, the dates of its records,
//! when it was committed, how it was paid (cash from the till, or a bank transfer to the masked
//! IBAN with the transfer's end-to-end reference), every line with its commission formula as the
//! line stores it, tips, top-ups, deductions and the total, with page numbers on every page. Only
//! committed payouts have a slip ([`slip_refusal`]); owners download every slip of their
//! business, employees their own ([`may_download_slips`]).
//!
//! The slip speaks the reader's language (German, French or English: the `slip` translations,
//! amounts, rates and dates per locale as on the pages); the API picks it from the request.
//!
//! The PDF is written by `krilla` with DejaVu Sans (Bitstream Vera licence,
//! `app/assets/fonts/LICENSE-DejaVu.txt`) embedded as a subset with a ToUnicode map, so the text
//! (umlauts, `−`, `CHF 1'234.50`) can be searched, copied and extracted. Amounts are formatted
//! from integer Rappen; floats only place things on the page (PDF points).

use super::access::Caller;
use super::{db, db_error, Engine, STUDIO_TIME_ZONE};
use crate::domain::locale::{format_chf, format_date, format_minute};
use crate::domain::slip::{may_download_slips, slip_refusal};
use crate::domain::*;
use crate::i18n::{td_string, Locale};
use crate::wording::formula_terms;
use chrono::{DateTime, Datelike as _, Timelike as _, Utc};
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla::Document;

/// DejaVu Sans, the slip's text.
const REGULAR_FONT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans.ttf"
));
/// DejaVu Sans Bold, the slip's headings and total.
const BOLD_FONT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans-Bold.ttf"
));

/// A payout slip, ready to send.
#[derive(Clone, Debug)]
pub struct PayoutSlip {
    /// The download's file name, ASCII only: `slip-lara-meier-2026-09-01-to-2026-10-30.pdf`.
    pub file_name: String,
    /// The PDF document.
    pub bytes: Vec<u8>,
}

impl Engine {
    /// The slip of committed payout `id` as a PDF, worded in `language`.
    ///
    /// Errors: 403 unless the caller may read payouts and is an owner or an employee (receptionists
    /// and receptionist API keys do not download slips); 404 for an unknown payout or one outside
    /// the caller's scope (another business's, or another employee's: an employee guessing ids
    /// learns nothing, as with `GET /api/v1/payouts/{id}`); 409 `payout_not_committed` while the
    /// payout is pending or failed ("the payout is not committed yet; finish it first") or when
    /// it was cancelled; 500 when the stored lines do not add up to the payout's total or the PDF
    /// cannot be written (logged).
    #[tracing::instrument(skip_all, fields(payout_id = %id))]
    pub async fn payout_slip(
        &self,
        caller: &Caller,
        id: PayoutId,
        language: Language,
    ) -> Result<PayoutSlip, AppError> {
        caller.require(Permission::ReadPayouts)?;
        if !may_download_slips(caller.role) {
            tracing::info!(actor = %caller.actor(), "refused: receptionists do not download payout slips");
            return Err(AppError::forbidden(
                "a receptionist may not download payout slips: a slip is for the owner and the employee paid",
            ));
        }
        let PayoutDetail { payout, lines } = self.payout_detail(caller, id).await?;
        if let Some(why) = slip_refusal(payout.state) {
            tracing::info!(state = %payout.state, "refused: no slip for this payout");
            return Err(AppError::conflict("payout_not_committed", why));
        }
        let committed_at = payout.committed_at.ok_or_else(|| {
            tracing::error!("a committed payout has no commit time");
            AppError::Internal {
                message: "the payout's commit time is missing; it is logged on the server".into(),
            }
        })?;
        let studio_name: String = db::query_scalar("SELECT name FROM studios WHERE id = $1")
            .bind(payout.studio_id)
            .fetch_one(self.pool())
            .await
            .map_err(db_error("reading the payout's studio"))?;
        let payment = match payout.method {
            PayoutMethod::Cash => Payment::Cash,
            PayoutMethod::Bank => {
                // The newest transfer paying this payout (a reissue replaces a returned one), and
                // the IBAN it went to; before a bank file took it, the employee's IBAN on file.
                let transfer: Option<(String, Option<String>)> = db::query_as(
                    "SELECT end_to_end_id, creditor_iban FROM settlement_items
                     WHERE payout_id = $1 ORDER BY created_at DESC, id LIMIT 1",
                )
                .bind(payout.id)
                .fetch_optional(self.pool())
                .await
                .map_err(db_error("reading the payout's bank transfer"))?;
                let on_file: Option<String> =
                    db::query_scalar("SELECT iban FROM employees WHERE id = $1")
                        .bind(payout.employee_id)
                        .fetch_one(self.pool())
                        .await
                        .map_err(db_error("reading the employee's bank account"))?;
                let (reference, sent_to) = match transfer {
                    Some((reference, sent_to)) => (Some(reference), sent_to),
                    None => (None, None),
                };
                Payment::Bank {
                    masked_iban: sent_to.or(on_file).as_deref().map(mask_iban),
                    reference,
                }
            }
        };
        let file_name = file_name(&payout);
        let slip = SlipData {
            studio_name,
            payout,
            lines,
            committed_at,
            payment,
            language,
        };
        let rendered = tokio::task::spawn_blocking(move || render(&slip))
            .await
            .map_err(|error| {
                tracing::error!(%error, "the slip renderer stopped");
                AppError::Internal {
                    message: "the slip could not be written; it is logged on the server".into(),
                }
            })?;
        let (bytes, pages) = rendered.map_err(|error| {
            tracing::error!(%error, "cannot write the payout slip");
            AppError::Internal {
                message: format!(
                    "the slip could not be written ({error}); it is logged on the server"
                ),
            }
        })?;
        tracing::info!(pages, bytes = bytes.len(), "payout slip written");
        Ok(PayoutSlip { file_name, bytes })
    }
}

/// How a payout was paid, as the slip shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Payment {
    /// Cash from the studio's till.
    Cash,
    /// A bank transfer.
    Bank {
        /// The IBAN paid into, masked ([`mask_iban`]); `None` when none is on file yet.
        masked_iban: Option<String>,
        /// The transfer's end-to-end id (`PE-…`), once the transfer is scheduled.
        reference: Option<String>,
    },
}

/// Everything a slip shows.
struct SlipData {
    studio_name: String,
    payout: Payout,
    lines: Vec<PayoutLine>,
    committed_at: DateTime<Utc>,
    payment: Payment,
    /// The reader's language.
    language: Language,
}

/// An IBAN as a slip shows it: the country and check digits and the last three characters, the
/// rest (and the length) hidden: `CH9300762011623852957` → `CH93 **** **** **** *957`. Text too
/// short to be an IBAN is hidden entirely.
pub fn mask_iban(iban: &str) -> String {
    let electronic: Vec<char> = iban
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if electronic.len() < 8 {
        return "**** **** **** ****".into();
    }
    let head: String = electronic[..4].iter().collect();
    let tail: String = electronic[electronic.len() - 3..].iter().collect();
    format!("{head} **** **** **** *{tail}")
}

/// The download's name: `slip-<employee>-<period start>-to-<period end>.pdf`, ASCII letters,
/// digits and dashes only (umlauts spelled out: `Müller` → `mueller`).
fn file_name(payout: &Payout) -> String {
    let mut slug = String::new();
    for c in payout.employee_name.to_lowercase().chars() {
        let spelled = match c {
            'ä' => "ae",
            'ö' => "oe",
            'ü' => "ue",
            'ß' => "ss",
            'à' | 'á' | 'â' | 'ã' | 'å' => "a",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ò' | 'ó' | 'ô' | 'õ' => "o",
            'ù' | 'ú' | 'û' => "u",
            'ç' => "c",
            'ñ' => "n",
            other if other.is_ascii_alphanumeric() => {
                slug.push(other);
                continue;
            }
            _ => "-",
        };
        if spelled == "-" && (slug.is_empty() || slug.ends_with('-')) {
            continue;
        }
        slug.push_str(spelled);
    }
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "employee" } else { slug };
    format!(
        "slip-{slug}-{}-to-{}.pdf",
        payout.period_start, payout.period_end
    )
}

// ---------------------------------------------------------------------------------------------
// Layout (PDF points, 1/72 inch; y grows downwards from the top edge, as krilla draws)
// ---------------------------------------------------------------------------------------------

/// A4 portrait.
const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const LEFT: f32 = 42.0;
const RIGHT: f32 = PAGE_WIDTH - 42.0;
/// Nothing of the body is drawn below this (the footer sits under it).
const BODY_BOTTOM: f32 = PAGE_HEIGHT - 58.0;
const FOOTER_BASELINE: f32 = PAGE_HEIGHT - 30.0;

/// Table columns: left edges of the text columns, right edges of the amount columns.
const DATE_X: f32 = LEFT;
const SERVICE_X: f32 = LEFT + 56.0;
const FORMULA_X: f32 = LEFT + 170.0;
const FORMULA_WIDTH: f32 = 245.0;
const SERVICE_WIDTH: f32 = FORMULA_X - SERVICE_X - 8.0;
const DATE_WIDTH: f32 = SERVICE_X - DATE_X - 6.0;
const TIP_RIGHT: f32 = RIGHT - 72.0;
const AMOUNT_RIGHT: f32 = RIGHT;

const TABLE_SIZE: f32 = 8.0;
/// The smallest size a cell's text is shrunk to before it wraps instead.
const TABLE_MIN_SIZE: f32 = 6.5;
const ROW_HEIGHT: f32 = 12.0;
const FACT_SIZE: f32 = 9.5;
const FACT_HEIGHT: f32 = 14.0;
/// Height of the totals block under the table.
const SUMMARY_HEIGHT: f32 = 6.0 * 15.0 + 18.0;

/// Grey of rules and the footer.
const GREY: (u8, u8, u8) = (110, 110, 110);

/// One of the slip's two faces: the font krilla embeds and the same font's shaper, which
/// measures text exactly as krilla will set it.
struct Face {
    font: Font,
    shaper: rustybuzz::Face<'static>,
    units_per_em: f32,
}

impl Face {
    fn load(data: &'static [u8], name: &str) -> Result<Face, String> {
        let font =
            Font::new(data.into(), 0).ok_or_else(|| format!("the font {name} cannot be read"))?;
        let shaper = rustybuzz::Face::from_slice(data, 0)
            .ok_or_else(|| format!("the font {name} cannot be shaped"))?;
        let units_per_em = shaper.units_per_em() as f32;
        Ok(Face {
            font,
            shaper,
            units_per_em,
        })
    }

    /// The advance width of `text` set at `size` points.
    fn width(&self, text: &str, size: f32) -> f32 {
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        let shaped = rustybuzz::shape(&self.shaper, &[], buffer);
        let units: i64 = shaped
            .glyph_positions()
            .iter()
            .map(|p| i64::from(p.x_advance))
            .sum();
        units as f32 / self.units_per_em * size
    }

    /// `parts` (joined with `; `) set in one line at `size`, shrunk to fit `width` down to
    /// [`TABLE_MIN_SIZE`]; else one part per line (shrunk alike); else wrapped at spaces at the
    /// smallest size. Returns the size and the lines.
    fn fit(&self, parts: &[String], width: f32, size: f32) -> (f32, Vec<String>) {
        let shrunk_to_fit = |lines: &[String]| {
            let widest = lines
                .iter()
                .map(|line| self.width(line, size))
                .fold(0.0_f32, f32::max);
            if widest <= width {
                Some(size)
            } else {
                // Rounded down to a tenth of a point, so rounding never makes it overflow.
                let shrunk = (size * width / widest * 10.0).floor() / 10.0;
                (shrunk >= TABLE_MIN_SIZE).then_some(shrunk)
            }
        };
        let joined = vec![parts.join("; ")];
        if let Some(size) = shrunk_to_fit(&joined) {
            return (size, joined);
        }
        let last = parts.len().saturating_sub(1);
        let separate: Vec<String> = parts
            .iter()
            .enumerate()
            .map(|(index, part)| {
                if index < last {
                    format!("{part};")
                } else {
                    part.clone()
                }
            })
            .collect();
        if let Some(size) = shrunk_to_fit(&separate) {
            return (size, separate);
        }
        let mut lines: Vec<String> = Vec::new();
        for part in &separate {
            let mut current = String::new();
            for word in part.split(' ') {
                let candidate = if current.is_empty() {
                    word.to_string()
                } else {
                    format!("{current} {word}")
                };
                if current.is_empty() || self.width(&candidate, TABLE_MIN_SIZE) <= width {
                    current = candidate;
                } else {
                    lines.push(std::mem::replace(&mut current, word.to_string()));
                }
            }
            lines.push(current);
        }
        (TABLE_MIN_SIZE, lines)
    }
}

/// The two faces of a slip.
struct Faces {
    regular: Face,
    bold: Face,
}

/// One table row: a payout line as set on the page.
struct Row {
    date_size: f32,
    date: Vec<String>,
    service_size: f32,
    service: Vec<String>,
    formula_size: f32,
    formula: Vec<String>,
    tip: String,
    amount: String,
}

impl Row {
    fn height(&self) -> f32 {
        let lines = self
            .date
            .len()
            .max(self.service.len())
            .max(self.formula.len())
            .max(1);
        ROW_HEIGHT * lines as f32
    }
}

/// Which rows a page carries, and whether the totals follow them.
struct PagePlan {
    first: bool,
    rows: std::ops::Range<usize>,
    summary: bool,
}

/// Where the first table row's baseline is on the first page and on the following pages.
const FIRST_PAGE_ROWS_TOP: f32 = 262.0;
const NEXT_PAGE_ROWS_TOP: f32 = 104.0;

/// Splits the rows over pages: as many as fit under the header, the totals on the last page
/// (on a page of their own when they do not fit under the last row).
fn paginate(rows: &[Row]) -> Vec<PagePlan> {
    let mut pages = Vec::new();
    let mut first = true;
    let mut start = 0;
    let mut y = FIRST_PAGE_ROWS_TOP;
    for (index, row) in rows.iter().enumerate() {
        if y + row.height() > BODY_BOTTOM && index > start {
            pages.push(PagePlan {
                first,
                rows: start..index,
                summary: false,
            });
            first = false;
            start = index;
            y = NEXT_PAGE_ROWS_TOP;
        }
        y += row.height();
    }
    if y + SUMMARY_HEIGHT > BODY_BOTTOM {
        pages.push(PagePlan {
            first,
            rows: start..rows.len(),
            summary: false,
        });
        pages.push(PagePlan {
            first: false,
            rows: rows.len()..rows.len(),
            summary: true,
        });
    } else {
        pages.push(PagePlan {
            first,
            rows: start..rows.len(),
            summary: true,
        });
    }
    pages
}

/// A moment in the studios' time zone, to the minute, in `language`: `20.11.2026, 14:05` (de).
fn zurich_minute(language: Language, at: DateTime<Utc>) -> String {
    format_minute(language, at.with_timezone(&STUDIO_TIME_ZONE).naive_local())
}

/// A deduction as the slip prints it: `−CHF 20.00`, `none` (in `language`) when there is none.
fn deduction_text(language: Language, amount: Rappen) -> String {
    if amount.0 == 0 {
        td_string!(Locale::from(language), slip.no_deductions).to_string()
    } else {
        format!("−{}", format_chf(language, amount))
    }
}

/// What the totals block sums, each from the lines (Rappen).
struct Totals {
    services: usize,
    commission: Rappen,
    tips: Rappen,
    top_up_days: usize,
    top_ups: Rappen,
    deduction_days: usize,
    deductions: Rappen,
    total: Rappen,
}

fn totals(lines: &[PayoutLine]) -> Totals {
    let sum = |f: &dyn Fn(&PayoutLine) -> i64| Rappen(lines.iter().map(f).sum());
    Totals {
        services: lines.iter().filter(|l| l.kind == LineKind::Service).count(),
        commission: sum(&|l| l.commission.0),
        tips: sum(&|l| l.tip.0),
        top_up_days: lines.iter().filter(|l| l.top_up.0 != 0).count(),
        top_ups: sum(&|l| l.top_up.0),
        deduction_days: lines.iter().filter(|l| l.deduction.0 != 0).count(),
        deductions: sum(&|l| l.deduction.0),
        total: sum(&|l| l.amount.0),
    }
}

/// Lays the slip out and writes the PDF. Returns the document and its page count.
///
/// Errors (as text for the log): the lines do not add up to the payout's total (a slip must
/// never disagree with the payout), a bundled font cannot be read, or krilla refuses the
/// document.
fn render(slip: &SlipData) -> Result<(Vec<u8>, usize), String> {
    let sums = totals(&slip.lines);
    let parts = sums.commission.0 + sums.tips.0 + sums.top_ups.0 - sums.deductions.0;
    if sums.total != slip.payout.total || parts != sums.total.0 {
        return Err(format!(
            "the payout's lines add up to {} ({} from their parts), not to its total {}",
            sums.total,
            Rappen(parts),
            slip.payout.total
        ));
    }
    let language = slip.language;
    let locale = Locale::from(language);
    let chf = |amount| format_chf(language, amount);
    let faces = Faces {
        regular: Face::load(REGULAR_FONT, "DejaVu Sans")?,
        bold: Face::load(BOLD_FONT, "DejaVu Sans Bold")?,
    };
    let rows: Vec<Row> = slip
        .lines
        .iter()
        .map(|line| {
            let service = match line.kind {
                LineKind::Service => line
                    .service_name
                    .clone()
                    .unwrap_or_else(|| td_string!(locale, slip.service).to_string()),
                LineKind::Day => td_string!(locale, slip.working_day).to_string(),
            };
            let (date_size, date) = faces.regular.fit(
                &[format_date(language, line.on_date)],
                DATE_WIDTH,
                TABLE_SIZE,
            );
            let (service_size, service) = faces.regular.fit(&[service], SERVICE_WIDTH, TABLE_SIZE);
            let (formula_size, formula) =
                faces
                    .regular
                    .fit(&formula_terms(language, line), FORMULA_WIDTH, TABLE_SIZE);
            Row {
                date_size,
                date,
                service_size,
                service,
                formula_size,
                formula,
                tip: if line.tip.0 == 0 {
                    String::new()
                } else {
                    chf(line.tip)
                },
                amount: chf(line.amount),
            }
        })
        .collect();
    let plan = paginate(&rows);
    let page_count = plan.len();
    let payout = &slip.payout;
    let period = td_string!(
        locale,
        slip.period,
        start = format_date(language, payout.period_start),
        end = format_date(language, payout.period_end)
    )
    .to_string();
    let footer = td_string!(
        locale,
        slip.footer,
        studio = &slip.studio_name,
        name = &payout.employee_name,
        period = &period
    )
    .to_string();

    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(
                td_string!(
                    locale,
                    slip.document_title,
                    name = &payout.employee_name,
                    period = &period
                )
                .to_string(),
            )
            .creator("Payout Engine".into())
            .language(language.code().into())
            .creation_date(pdf_date(slip.committed_at)),
    );
    let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
        .ok_or_else(|| "the page size is not valid".to_string())?;
    for (number, page_plan) in plan.iter().enumerate() {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        let mut pen = Pen {
            surface: &mut surface,
            faces: &faces,
        };
        let mut y = if page_plan.first {
            first_page_header(&mut pen, slip, &period)
        } else {
            pen.text(
                &faces.bold,
                11.0,
                LEFT,
                64.0,
                &td_string!(
                    locale,
                    slip.continued,
                    name = &payout.employee_name,
                    period = &period
                )
                .to_string(),
            );
            NEXT_PAGE_ROWS_TOP - 24.0
        };
        if !page_plan.rows.is_empty() {
            table_header(&mut pen, locale, y);
            y += 24.0;
            for row in &rows[page_plan.rows.clone()] {
                draw_row(&mut pen, row, y);
                y += row.height();
            }
        }
        if page_plan.summary {
            summary(&mut pen, language, &sums, y - 4.0);
        }
        pen.grey();
        pen.text(&faces.regular, 7.5, LEFT, FOOTER_BASELINE, &footer);
        pen.text_right(
            &faces.regular,
            7.5,
            RIGHT,
            FOOTER_BASELINE,
            &td_string!(locale, slip.page, number = number + 1, pages = page_count).to_string(),
        );
        pen.black();
        surface.finish();
        page.finish();
    }
    let bytes = document
        .finish()
        .map_err(|error| format!("krilla refused the document: {error}"))?;
    Ok((bytes, page_count))
}

/// A PDF date from a UTC time.
fn pdf_date(at: DateTime<Utc>) -> krilla::metadata::DateTime {
    let clamp = |value: u32, max: u32| u8::try_from(value.min(max)).unwrap_or(0);
    krilla::metadata::DateTime::new(u16::try_from(at.year()).unwrap_or(2026))
        .month(clamp(at.month(), 12))
        .day(clamp(at.day(), 31))
        .hour(clamp(at.hour(), 23))
        .minute(clamp(at.minute(), 59))
        .second(clamp(at.second(), 59))
        .utc_offset_hour(0)
        .utc_offset_minute(0)
}

/// Draws on one page's surface with the slip's faces.
struct Pen<'s, 'a> {
    surface: &'s mut Surface<'a>,
    faces: &'s Faces,
}

impl Pen<'_, '_> {
    fn text(&mut self, face: &Face, size: f32, x: f32, baseline: f32, text: &str) {
        if text.is_empty() {
            return;
        }
        self.surface.draw_text(
            Point::from_xy(x, baseline),
            face.font.clone(),
            size,
            text,
            false,
            TextDirection::Auto,
        );
    }

    /// `text` ending at `right`.
    fn text_right(&mut self, face: &Face, size: f32, right: f32, baseline: f32, text: &str) {
        let x = right - face.width(text, size);
        self.text(face, size, x, baseline, text);
    }

    /// A horizontal rule `thickness` points thick, its top at `y`.
    fn rule(&mut self, y: f32, thickness: f32) {
        let mut path = PathBuilder::new();
        path.move_to(LEFT, y);
        path.line_to(RIGHT, y);
        path.line_to(RIGHT, y + thickness);
        path.line_to(LEFT, y + thickness);
        path.close();
        if let Some(path) = path.finish() {
            self.grey();
            self.surface.draw_path(&path);
            self.black();
        }
    }

    fn grey(&mut self) {
        self.surface.set_fill(Some(Fill {
            paint: rgb::Color::new(GREY.0, GREY.1, GREY.2).into(),
            opacity: NormalizedF32::ONE,
            rule: Default::default(),
        }));
    }

    fn black(&mut self) {
        self.surface.set_fill(None);
    }
}

/// The first page's title, studio and facts. Returns the y where the table starts.
fn first_page_header(pen: &mut Pen<'_, '_>, slip: &SlipData, period: &str) -> f32 {
    let faces = pen.faces;
    let payout = &slip.payout;
    let language = slip.language;
    let locale = Locale::from(language);
    pen.text(
        &faces.bold,
        18.0,
        LEFT,
        66.0,
        td_string!(locale, slip.title),
    );
    pen.text(&faces.bold, 11.0, LEFT, 86.0, &slip.studio_name);
    let dates = match (slip.lines.first(), slip.lines.last()) {
        (Some(first), Some(last)) => td_string!(
            locale,
            slip.records_dated,
            count = slip.lines.len(),
            first = format_date(language, first.on_date),
            last = format_date(language, last.on_date)
        )
        .to_string(),
        (None, _) | (_, None) => td_string!(locale, slip.no_lines).to_string(),
    };
    let mut facts: Vec<(&str, String)> = vec![
        (
            td_string!(locale, slip.fact.employee),
            payout.employee_name.clone(),
        ),
        (td_string!(locale, slip.fact.period), period.to_string()),
        (td_string!(locale, slip.fact.records), dates),
        (td_string!(locale, slip.fact.payout), payout.id.to_string()),
        (
            td_string!(locale, slip.fact.committed),
            td_string!(
                locale,
                slip.committed_at,
                moment = zurich_minute(language, slip.committed_at)
            )
            .to_string(),
        ),
    ];
    match &slip.payment {
        Payment::Cash => facts.push((
            td_string!(locale, slip.fact.paid_by),
            td_string!(locale, slip.cash).to_string(),
        )),
        Payment::Bank {
            masked_iban,
            reference,
        } => {
            facts.push((
                td_string!(locale, slip.fact.paid_by),
                td_string!(locale, slip.bank).to_string(),
            ));
            facts.push((
                td_string!(locale, slip.fact.account),
                masked_iban
                    .clone()
                    .unwrap_or_else(|| td_string!(locale, slip.no_iban).to_string()),
            ));
            facts.push((
                td_string!(locale, slip.fact.reference),
                reference
                    .clone()
                    .unwrap_or_else(|| td_string!(locale, slip.no_transfer).to_string()),
            ));
        }
    }
    let label_width = facts
        .iter()
        .map(|(label, _)| faces.bold.width(label, FACT_SIZE))
        .fold(72.0_f32, f32::max);
    let mut y = 112.0;
    for (label, value) in facts {
        pen.text(&faces.bold, FACT_SIZE, LEFT, y, label);
        pen.text(
            &faces.regular,
            FACT_SIZE,
            LEFT + label_width + 8.0,
            y,
            &value,
        );
        y += FACT_HEIGHT;
    }
    FIRST_PAGE_ROWS_TOP - 24.0
}

/// The column headings with a rule under them; `y` is their baseline.
fn table_header(pen: &mut Pen<'_, '_>, locale: Locale, y: f32) {
    let bold = &pen.faces.bold;
    for (x, heading) in [
        (DATE_X, td_string!(locale, slip.column.date)),
        (SERVICE_X, td_string!(locale, slip.column.service)),
        (FORMULA_X, td_string!(locale, slip.column.formula)),
    ] {
        pen.text(bold, TABLE_SIZE, x, y, heading);
    }
    for (right, heading) in [
        (TIP_RIGHT, td_string!(locale, slip.column.tip)),
        (AMOUNT_RIGHT, td_string!(locale, slip.column.amount)),
    ] {
        pen.text_right(bold, TABLE_SIZE, right, y, heading);
    }
    pen.rule(y + 5.0, 0.6);
}

/// One payout line; `y` is its first baseline.
fn draw_row(pen: &mut Pen<'_, '_>, row: &Row, y: f32) {
    let regular = &pen.faces.regular;
    for (x, size, lines) in [
        (DATE_X, row.date_size, &row.date),
        (SERVICE_X, row.service_size, &row.service),
        (FORMULA_X, row.formula_size, &row.formula),
    ] {
        for (index, text) in lines.iter().enumerate() {
            pen.text(regular, size, x, y + ROW_HEIGHT * index as f32, text);
        }
    }
    pen.text_right(regular, TABLE_SIZE, TIP_RIGHT, y, &row.tip);
    pen.text_right(regular, TABLE_SIZE, AMOUNT_RIGHT, y, &row.amount);
}

/// The totals under the table; `y` is just under the last row.
fn summary(pen: &mut Pen<'_, '_>, language: Language, sums: &Totals, y: f32) {
    let faces = pen.faces;
    let locale = Locale::from(language);
    let chf = |amount| format_chf(language, amount);
    pen.rule(y, 0.6);
    let mut y = y + 18.0;
    let mut rows: Vec<(String, String)> = vec![
        (
            td_string!(locale, slip.commission, count = sums.services).to_string(),
            chf(sums.commission),
        ),
        (td_string!(locale, slip.tips).to_string(), chf(sums.tips)),
    ];
    if sums.top_ups.0 != 0 {
        rows.push((
            td_string!(locale, slip.top_ups, count = sums.top_up_days).to_string(),
            chf(sums.top_ups),
        ));
    }
    rows.push((
        if sums.deductions.0 == 0 {
            td_string!(locale, slip.deductions).to_string()
        } else {
            td_string!(locale, slip.deductions_days, count = sums.deduction_days).to_string()
        },
        deduction_text(language, sums.deductions),
    ));
    for (label, value) in rows {
        pen.text(&faces.regular, FACT_SIZE, LEFT + 220.0, y, &label);
        pen.text_right(&faces.regular, FACT_SIZE, AMOUNT_RIGHT, y, &value);
        y += 15.0;
    }
    pen.rule(y - 9.0, 0.8);
    y += 6.0;
    pen.text(
        &faces.bold,
        11.0,
        LEFT + 220.0,
        y,
        td_string!(locale, slip.total),
    );
    pen.text_right(&faces.bold, 11.0, AMOUNT_RIGHT, y, &chf(sums.total));
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn line(
        kind: LineKind,
        day: u32,
        price: i64,
        bps: i64,
        tip: i64,
        deduction: i64,
    ) -> PayoutLine {
        let commission = BasisPoints(bps).commission_on(Rappen(price));
        PayoutLine {
            kind,
            record_id: uuid::Uuid::nil(),
            on_date: NaiveDate::from_ymd_opt(2026, 10, day).unwrap_or_default(),
            service_name: match kind {
                LineKind::Service => Some("Women's cut & blow-dry".into()),
                LineKind::Day => None,
            },
            payment_method: None,
            price: Rappen(price),
            commission_bps: BasisPoints(bps),
            commission,
            tip: Rappen(tip),
            deduction: Rappen(deduction),
            guaranteed_minimum: Rappen(0),
            day_earned: Rappen(0),
            top_up: Rappen(0),
            amount: Rappen(commission.0 + tip - deduction),
        }
    }

    fn slip(lines: Vec<PayoutLine>) -> SlipData {
        let total = Rappen(lines.iter().map(|l| l.amount.0).sum());
        let at = DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default();
        SlipData {
            studio_name: "Salon Seefeld, Zürich".into(),
            payout: Payout {
                id: PayoutId(uuid::Uuid::nil()),
                employee_id: EmployeeId(uuid::Uuid::nil()),
                employee_name: "Jürg Müller".into(),
                studio_id: StudioId(uuid::Uuid::nil()),
                state: PayoutState::Committed,
                phase: PayoutPhase::Committed,
                record_count: i64::try_from(lines.len()).unwrap_or_default(),
                total,
                currency: CURRENCY.into(),
                period_start: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap_or_default(),
                period_end: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap_or_default(),
                failed_phase: None,
                error: None,
                created_at: at,
                updated_at: at,
                committed_at: Some(at),
                method: PayoutMethod::Bank,
                expected_record_count: 0,
                expected_total: total,
            },
            lines,
            committed_at: at,
            payment: Payment::Bank {
                masked_iban: Some(mask_iban("CH93 0076 2011 6238 5295 7")),
                reference: Some("PE-0123".into()),
            },
            language: Language::En,
        }
    }

    #[test]
    fn an_iban_shows_only_its_country_check_digits_and_last_three_characters() {
        assert_eq!(
            mask_iban("CH9300762011623852957"),
            "CH93 **** **** **** *957"
        );
        assert_eq!(
            mask_iban("ch93 0076 2011 6238 5295 7"),
            "CH93 **** **** **** *957"
        );
        assert_eq!(mask_iban("CH93"), "**** **** **** ****");
    }

    #[test]
    fn the_file_name_spells_out_umlauts_and_names_the_period() {
        let slip = slip(vec![line(LineKind::Service, 1, 9_500, 5_000, 0, 0)]);
        assert_eq!(
            file_name(&slip.payout),
            "slip-juerg-mueller-2026-10-01-to-2026-10-31.pdf"
        );
    }

    #[test]
    fn formula_terms_follow_the_reader_s_language() {
        let service = line(LineKind::Service, 1, 12_000, 4_250, 500, 0);
        assert_eq!(
            formula_terms(Language::De, &service),
            ["42.5\u{a0}% von CHF\u{a0}120.00 = CHF\u{a0}51.00"]
        );
        assert_eq!(
            formula_terms(Language::Fr, &service),
            ["42,5\u{a0}% de 120,00\u{a0}CHF = 51,00\u{a0}CHF"]
        );
        let day = line(LineKind::Day, 1, 0, 0, 0, 2_000);
        assert_eq!(
            formula_terms(Language::En, &day),
            ["deduction −CHF\u{a0}20.00"]
        );
    }

    #[test]
    fn a_slip_is_written_in_each_language() {
        for language in Language::ALL {
            let mut written = slip(vec![
                line(LineKind::Service, 1, 9_500, 5_000, 500, 0),
                line(LineKind::Day, 2, 0, 0, 0, 2_000),
            ]);
            written.language = language;
            let (bytes, pages) = render(&written).unwrap_or_else(|error| panic!("{error}"));
            assert!(bytes.starts_with(b"%PDF-"), "{language}");
            assert_eq!(pages, 1, "{language}");
        }
    }

    #[test]
    fn a_long_payout_takes_several_pages_and_a_short_one_one() {
        let short = render(&slip(vec![
            line(LineKind::Service, 1, 9_500, 5_000, 500, 0),
            line(LineKind::Day, 1, 0, 0, 0, 2_000),
        ]));
        let (bytes, pages) = short.unwrap_or_else(|error| panic!("{error}"));
        assert!(bytes.starts_with(b"%PDF-"));
        assert_eq!(pages, 1);
        let long: Vec<PayoutLine> = (0..300)
            .map(|n| {
                line(
                    LineKind::Service,
                    1 + n % 28,
                    9_500 + i64::from(n),
                    5_000,
                    0,
                    0,
                )
            })
            .collect();
        let (_, pages) = render(&slip(long)).unwrap_or_else(|error| panic!("{error}"));
        assert!(pages >= 5, "{pages} pages");
    }

    #[test]
    fn a_slip_that_would_disagree_with_its_payout_is_not_written() {
        let mut slip = slip(vec![line(LineKind::Service, 1, 9_500, 5_000, 0, 0)]);
        slip.payout.total = Rappen(1);
        assert!(render(&slip).is_err());
    }
}
