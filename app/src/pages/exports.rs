//! The owner's Exports page: choose a period (and a studio), see how many rows each CSV file
//! holds, and download it for the accountant. The download links are plain links to the JSON
//! API, so they work without JavaScript; with it, the page streams the file itself and shows its
//! progress against the row count the server announces (`X-Export-Rows`), so a year of ledger
//! postings is not a silent wait.

use crate::api::{export_overview, list_studios};
use crate::components::{date, ErrorMessage};
use crate::domain::export::{ExportDataset, ExportOverview};
use crate::domain::locale::format_count;
use crate::i18n::{t, t_string, td_string, use_i18n, Locale};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::{lazy_route, LazyRoute};

/// Where a download started from this page stands.
#[derive(Clone, Debug, PartialEq, Eq)]
// Only the browser (hydrate) downloads; the server renders no progress.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum DownloadProgress {
    /// Receiving: data rows so far, of the rows announced.
    Receiving { rows: u64, of: u64 },
    /// Saved: every announced row arrived.
    Saved { rows: u64 },
    /// The download failed; nothing was saved.
    Failed(String),
}

impl DownloadProgress {
    /// What the page says in `locale`: `1'500 / 12'480 rows (12 %)`, `Saved: 12'480 rows.`, or
    /// why it failed.
    fn text(&self, locale: Locale) -> String {
        match self {
            DownloadProgress::Receiving { rows, of } => td_string!(
                locale,
                exports.progress.receiving,
                rows = rows_in(locale, *rows),
                of = rows_in(locale, *of),
                percent = rows.min(of) * 100 / (*of).max(1),
                count = *of
            )
            .to_string(),
            DownloadProgress::Saved { rows } => td_string!(
                locale,
                exports.progress.saved,
                rows = rows_in(locale, *rows),
                count = *rows
            )
            .to_string(),
            DownloadProgress::Failed(why) => {
                td_string!(locale, exports.progress.failed, why = why).to_string()
            }
        }
    }
}

/// A row count with the grouping of `locale`: `12'480`.
fn rows_in(locale: Locale, rows: u64) -> String {
    format_count(locale.into(), i64::try_from(rows).unwrap_or(i64::MAX))
}

/// A period's day (YYYY-MM-DD, as the server sends it) in the page's language; as it came if it
/// is not a date.
fn day_text(day: &str) -> String {
    day.parse::<chrono::NaiveDate>()
        .map_or_else(|_| day.to_string(), date)
}

/// What a file holds, in a sentence of the page's language.
fn dataset_description(dataset: ExportDataset) -> &'static str {
    let i18n = use_i18n();
    match dataset {
        ExportDataset::Payouts => t_string!(i18n, exports.dataset.payouts),
        ExportDataset::PayoutLines => t_string!(i18n, exports.dataset.payout_lines),
        ExportDataset::LedgerTransfers => t_string!(i18n, exports.dataset.ledger_transfers),
        ExportDataset::ZReports => t_string!(i18n, exports.dataset.z_reports),
    }
}

#[component]
pub fn ExportsPage() -> impl IntoView {
    let query = use_query_map();
    let selection = move || {
        query.with(|q| {
            (
                q.get("from").unwrap_or_default(),
                q.get("to").unwrap_or_default(),
                q.get("studio_id").unwrap_or_default(),
            )
        })
    };
    let overview = Resource::new(selection, |(from, to, studio)| {
        export_overview(from, to, studio)
    });
    let studios = OnceResource::new(list_studios());
    let i18n = use_i18n();
    view! {
        <h1>{t!(i18n, exports.title)}</h1>
        <p>{t!(i18n, exports.intro)}</p>
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                let studios = match studios.await {
                    Ok(studios) => studios,
                    Err(error) => return view! { <ErrorMessage error/> }.into_any(),
                };
                match overview.await {
                    Ok(overview) => view! {
                        <PeriodForm overview=overview.clone() studios/>
                        <ExportTable overview/>
                    }.into_any(),
                    Err(error) => view! {
                        <ErrorMessage error/>
                        <p><a href="/exports">{t!(i18n, exports.back)}</a></p>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The period and studio, as a plain GET form (the choice lives in the address).
#[component]
fn PeriodForm(overview: ExportOverview, studios: Vec<crate::domain::Studio>) -> impl IntoView {
    let chosen = overview.studio_id.clone().unwrap_or_default();
    let i18n = use_i18n();
    view! {
        <form method="get" action="/exports" class="export-period card">
            <label>{t!(i18n, exports.form.from)}<input type="date" name="from" value=overview.from.clone() required/></label>
            <label>{t!(i18n, exports.form.to)}<input type="date" name="to" value=overview.to.clone() required/></label>
            <label>{t!(i18n, exports.form.studio)}
                <select name="studio_id">
                    <option value="" selected=chosen.is_empty()>{t!(i18n, exports.form.both_studios)}</option>
                    {studios.into_iter().map(|studio| {
                        let id = studio.id.to_string();
                        let selected = id == chosen;
                        view! { <option value=id selected=selected>{studio.name}</option> }
                    }).collect_view()}
                </select>
            </label>
            <button type="submit">{t!(i18n, exports.form.show)}</button>
        </form>
    }
}

/// Each file of the period with its row count and its download.
#[component]
fn ExportTable(overview: ExportOverview) -> impl IntoView {
    let i18n = use_i18n();
    let locale = i18n.get_locale_untracked();
    let period = t_string!(
        i18n,
        exports.table.period,
        from = day_text(&overview.from),
        to = day_text(&overview.to)
    )
    .to_string();
    view! {
        <table class="exports">
            <caption>{period}</caption>
            <thead><tr><th>{t!(i18n, exports.table.file)}</th><th>{t!(i18n, exports.table.holds)}</th><th class="num">{t!(i18n, exports.table.rows)}</th><th>{t!(i18n, exports.table.download)}</th></tr></thead>
            <tbody>
                {overview.datasets.iter().map(|summary| {
                    let dataset = summary.dataset;
                    view! {
                        <tr data-dataset=dataset.as_str()>
                            <td><code>{format!("{dataset}.csv")}</code></td>
                            <td>{dataset_description(dataset)}</td>
                            <td class="num" data-testid=format!("rows-{dataset}")>{rows_in(locale, summary.rows)}</td>
                            <td><Download dataset overview=overview.clone()/></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The download link of one file and, once clicked in the hydrated page, its progress.
#[component]
fn Download(dataset: ExportDataset, overview: ExportOverview) -> impl IntoView {
    let progress = RwSignal::new(None::<DownloadProgress>);
    let href = overview.download_path(dataset);
    let file_name = overview.file_name(dataset);
    let i18n = use_i18n();
    let locale = i18n.get_locale_untracked();
    let label = t_string!(
        i18n,
        exports.table.download_label,
        file = format!("{dataset}.csv")
    )
    .to_string();
    let started = {
        let href = href.clone();
        move |ev: leptos::ev::MouseEvent| {
            start_download(ev, href.clone(), file_name.clone(), progress, locale)
        }
    };
    view! {
        <a class="download" href=href download aria-label=label on:click=started>{t!(i18n, exports.table.download)}</a>
        {move || progress.get().map(|state| {
            let receiving = match &state {
                DownloadProgress::Receiving { rows, of } => Some((*rows, *of)),
                DownloadProgress::Saved { .. } | DownloadProgress::Failed(_) => None,
            };
            let class = match &state {
                DownloadProgress::Failed(_) => "download-progress error",
                DownloadProgress::Receiving { .. } | DownloadProgress::Saved { .. } => "download-progress",
            };
            view! {
                <p class=class role="status" data-testid=format!("progress-{dataset}")>
                    {receiving.map(|(rows, of)| view! {
                        <progress max=of.max(1).to_string() value=rows.min(of).to_string()></progress>
                    })}
                    " "{state.text(locale)}
                </p>
            }
        })}
    }
}

/// A click on a download link: in the hydrated page, streams the file with progress instead of
/// letting the browser download it silently; without JavaScript the link downloads by itself.
fn start_download(
    ev: leptos::ev::MouseEvent,
    href: String,
    file_name: String,
    progress: RwSignal<Option<DownloadProgress>>,
    locale: Locale,
) {
    #[cfg(feature = "hydrate")]
    {
        if matches!(
            progress.get_untracked(),
            Some(DownloadProgress::Receiving { .. })
        ) {
            // Already downloading: a second click does not start a second stream.
            ev.prevent_default();
            return;
        }
        ev.prevent_default();
        progress.set(Some(DownloadProgress::Receiving { rows: 0, of: 0 }));
        leptos::task::spawn_local(async move {
            let report =
                move |rows, of| progress.set(Some(DownloadProgress::Receiving { rows, of }));
            let outcome = match browser::download(&href, &file_name, report, locale).await {
                Ok(rows) => DownloadProgress::Saved { rows },
                Err(why) => {
                    leptos::logging::warn!("export download {href}: {why}");
                    DownloadProgress::Failed(why)
                }
            };
            progress.set(Some(outcome));
        });
    }
    // Server rendering never runs event handlers.
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, href, file_name, progress, locale);
}

/// The browser side of a download: fetch, read the body chunk by chunk, save it as a file.
#[cfg(feature = "hydrate")]
mod browser {
    use crate::i18n::{td_string, Locale};
    use js_sys::{Array, Reflect, Uint8Array};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{
        Blob, BlobPropertyBag, HtmlAnchorElement, ReadableStreamDefaultReader, Response, Url,
    };

    /// A browser failure in words (the JS error's message when it has one).
    fn why(error: JsValue) -> String {
        match Reflect::get(&error, &JsValue::from_str("message")).map(|m| m.as_string()) {
            Ok(Some(message)) => message,
            // Not an Error object (or one without a message): its debug form says what it is.
            Ok(None) | Err(_) => format!("{error:?}"),
        }
    }

    /// Downloads `href` and saves it as `file_name`, calling `report(rows, of)` as data rows
    /// arrive (`of`: the server's `X-Export-Rows`). Returns the rows saved.
    ///
    /// Errors (in words for the page, in `locale`): the server refused (its JSON error's
    /// message), the connection broke or the server ended the file with an error mid-way
    /// (nothing is saved then: a short file must never look complete).
    pub(super) async fn download(
        href: &str,
        file_name: &str,
        report: impl Fn(u64, u64),
        locale: Locale,
    ) -> Result<u64, String> {
        let window = web_sys::window().ok_or(td_string!(locale, exports.error.no_window))?;
        let response: Response = JsFuture::from(window.fetch_with_str(href))
            .await
            .map_err(why)?
            .dyn_into()
            .map_err(why)?;
        if !response.ok() {
            let body = JsFuture::from(response.text().map_err(why)?)
                .await
                .map_err(why)?
                .as_string()
                .unwrap_or_default();
            return Err(refusal(response.status(), &body, locale));
        }
        let announced = match response.headers().get("x-export-rows").map_err(why)? {
            Some(text) => text.parse::<u64>().map_err(|_| {
                td_string!(locale, exports.error.announced, text = text.clone()).to_string()
            })?,
            None => return Err(td_string!(locale, exports.error.not_announced).into()),
        };
        report(0, announced);
        let body = response
            .body()
            .ok_or(td_string!(locale, exports.error.no_body))?;
        let reader: ReadableStreamDefaultReader = body
            .get_reader()
            .dyn_into()
            .map_err(|other: js_sys::Object| why(other.into()))?;
        let parts = Array::new();
        // Line ends so far; the first ends the header row. A quoted field may hold a line break,
        // so this is progress, not the count: the count is the server's.
        let mut line_ends = 0_u64;
        loop {
            let step = JsFuture::from(reader.read()).await.map_err(|error| {
                td_string!(locale, exports.error.broke, why = why(error)).to_string()
            })?;
            if Reflect::get(&step, &JsValue::from_str("done"))
                .map_err(why)?
                .as_bool()
                .unwrap_or(true)
            {
                break;
            }
            let chunk: Uint8Array = Reflect::get(&step, &JsValue::from_str("value"))
                .map_err(why)?
                .dyn_into()
                .map_err(why)?;
            line_ends += chunk.to_vec().iter().filter(|byte| **byte == b'\n').count() as u64;
            parts.push(&chunk);
            report(line_ends.saturating_sub(1).min(announced), announced);
        }
        let options = BlobPropertyBag::new();
        options.set_type("text/csv;charset=utf-8");
        let blob = Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(why)?;
        let url = Url::create_object_url_with_blob(&blob).map_err(why)?;
        let document = window
            .document()
            .ok_or(td_string!(locale, exports.error.no_document))?;
        let anchor: HtmlAnchorElement = document
            .create_element("a")
            .map_err(why)?
            .dyn_into()
            .map_err(|other: web_sys::Element| why(other.into()))?;
        anchor.set_href(&url);
        anchor.set_download(file_name);
        anchor.click();
        // The browser reads the object URL after this task; free it a moment later.
        leptos::prelude::set_timeout(
            move || {
                if let Err(error) = Url::revoke_object_url(&url) {
                    leptos::logging::warn!("freeing a saved export: {}", why(error));
                }
            },
            std::time::Duration::from_secs(60),
        );
        Ok(announced)
    }

    /// The message of the JSON error the server answered with `status`.
    fn refusal(status: u16, body: &str, locale: Locale) -> String {
        match serde_json::from_str::<serde_json::Value>(body) {
            Ok(json) => match json["error"]["message"].as_str() {
                Some(message) => message.to_owned(),
                None => td_string!(
                    locale,
                    exports.error.answered,
                    status = status,
                    body = body.to_owned()
                )
                .to_string(),
            },
            // Not JSON (a proxy's page, say): the status and the start of what came.
            Err(_) => td_string!(
                locale,
                exports.error.answered,
                status = status,
                body = body.chars().take(200).collect::<String>()
            )
            .to_string(),
        }
    }
}

/// The Exports page as a lazy route: its code is a separate WASM chunk (`cargo leptos --split`),
/// loaded when the page is first shown.
pub struct ExportsRoute;

#[lazy_route]
impl LazyRoute for ExportsRoute {
    fn data() -> Self {
        ExportsRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <ExportsPage/> }.into_any()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reads_as_rows_of_the_announced_count() {
        assert_eq!(
            DownloadProgress::Receiving {
                rows: 1_500,
                of: 12_480
            }
            .text(Locale::en),
            "1'500 / 12'480 rows (12 %)"
        );
        assert_eq!(
            DownloadProgress::Receiving { rows: 0, of: 0 }.text(Locale::en),
            "0 / 0 rows (0 %)"
        );
        assert_eq!(
            DownloadProgress::Saved { rows: 12_480 }.text(Locale::en),
            "Saved: 12'480 rows."
        );
        assert_eq!(
            DownloadProgress::Saved { rows: 1 }.text(Locale::en),
            "Saved: 1 row."
        );
        assert_eq!(
            DownloadProgress::Saved { rows: 12_480 }.text(Locale::de),
            "Gespeichert: 12'480 Zeilen."
        );
    }
}
