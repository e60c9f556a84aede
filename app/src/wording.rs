//! Texts put together from the translation files for a language given explicitly rather than
//! read from the page's context: the same words on a page (the page's language) and in a
//! document the server writes for someone (a payout slip in the reader's language).

use crate::domain::locale::{format_chf, format_percent};
use crate::domain::{Language, LineKind, PayoutLine};
use crate::i18n::{td_string, Locale};

/// A payout line's formula terms in `language`, without the tip and the line's amount, each a
/// piece a narrow column (the slip's) may set on a line of its own: for a service
/// `40 % of CHF 85.00 = CHF 34.00`; for a working day its guaranteed-minimum
/// top-up (`minimum CHF 150.00 − earned CHF 120.00 = top-up CHF 30.00`) and its deduction
/// (`deduction −CHF 30.00`), or that it has neither.
pub fn formula_terms(language: Language, line: &PayoutLine) -> Vec<String> {
    let locale = Locale::from(language);
    let chf = |amount| format_chf(language, amount);
    match line.kind {
        LineKind::Service => vec![td_string!(
            locale,
            owner.formula.commission,
            rate = format_percent(language, line.commission_bps),
            price = chf(line.price),
            commission = chf(line.commission)
        )
        .to_string()],
        LineKind::Day => {
            let mut terms = Vec::new();
            if line.guaranteed_minimum.0 > 0 {
                terms.push(
                    td_string!(
                        locale,
                        owner.formula.top_up,
                        minimum = chf(line.guaranteed_minimum),
                        earned = chf(line.day_earned),
                        top_up = chf(line.top_up)
                    )
                    .to_string(),
                );
            }
            if line.deduction.0 > 0 {
                terms.push(
                    td_string!(
                        locale,
                        owner.formula.deduction,
                        deduction = chf(line.deduction)
                    )
                    .to_string(),
                );
            }
            if terms.is_empty() {
                terms.push(td_string!(locale, owner.formula.nothing).to_string());
            }
            terms
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BasisPoints, PaymentMethod, Rappen};

    fn service_line(price: i64, bps: i64, tip: i64) -> PayoutLine {
        let commission = BasisPoints(bps).commission_on(Rappen(price));
        PayoutLine {
            kind: LineKind::Service,
            record_id: uuid::Uuid::nil(),
            on_date: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap_or_default(),
            service_name: Some("Cut".into()),
            payment_method: Some(PaymentMethod::Card),
            price: Rappen(price),
            commission_bps: BasisPoints(bps),
            commission,
            tip: Rappen(tip),
            deduction: Rappen::ZERO,
            guaranteed_minimum: Rappen::ZERO,
            day_earned: Rappen::ZERO,
            top_up: Rappen::ZERO,
            amount: Rappen(commission.0 + tip),
        }
    }

    #[test]
    fn a_service_term_shows_rate_price_and_commission() {
        assert_eq!(
            formula_terms(Language::En, &service_line(8_500, 4_000, 500)),
            ["40\u{a0}% of CHF\u{a0}85.00 = CHF\u{a0}34.00"]
        );
        assert_eq!(
            formula_terms(Language::De, &service_line(8_500, 4_000, 0)),
            ["40\u{a0}% von CHF\u{a0}85.00 = CHF\u{a0}34.00"]
        );
    }

    #[test]
    fn a_working_day_shows_its_top_up_and_deduction_or_that_it_has_neither() {
        let mut line = service_line(0, 0, 0);
        line.kind = LineKind::Day;
        assert_eq!(
            formula_terms(Language::En, &line),
            ["working day, nothing to add or deduct"]
        );
        line.guaranteed_minimum = Rappen(15_000);
        line.day_earned = Rappen(12_000);
        line.top_up = Rappen(3_000);
        line.deduction = Rappen(3_000);
        assert_eq!(
            formula_terms(Language::Fr, &line),
            [
                "minimum 150,00\u{a0}CHF − gagné 120,00\u{a0}CHF = complément 30,00\u{a0}CHF",
                "déduction −30,00\u{a0}CHF"
            ]
        );
    }
}
