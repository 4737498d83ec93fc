//! Number formatting for people: currency, thousands separators, percentages and changes.
//!
//! Pure; every rule comes from the config's `[format]` and the shop currency.

use crate::config::NumberFormat;
use crate::metrics::compare::{Comparison, Value, Verdict};
use crate::metrics::metric::Unit;

/// Formats numbers the way one shop writes them.
#[derive(Debug, Clone)]
pub struct Formatter {
    pub format: NumberFormat,
    pub currency_symbol: String,
}

impl Formatter {
    pub fn new(format: NumberFormat, currency_symbol: String) -> Formatter {
        Formatter {
            format,
            currency_symbol,
        }
    }

    /// `1234567.891` with 2 decimals -> `1,234,567.89`.
    pub fn number(&self, v: f64, decimals: usize) -> String {
        let s = format!("{:.*}", decimals, v.abs());
        let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
        let mut grouped = String::new();
        for (i, ch) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                grouped.push_str(&self.format.thousands_separator);
            }
            grouped.push(ch);
        }
        let negative = v < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0');
        let mut out = String::new();
        if negative {
            out.push('-');
        }
        out.push_str(&grouped);
        if !frac.is_empty() {
            out.push_str(&self.format.decimal_separator);
            out.push_str(frac);
        }
        out
    }

    /// A value in its unit: `£12,340`, `3.1%`, `4.20×`, `31.5 h`, `1,204`.
    pub fn value(&self, unit: Unit, v: Value) -> String {
        match v {
            Value::NoData => "no data".into(),
            Value::NotApplicable => "n/a".into(),
            Value::Unavailable => "unavailable".into(),
            Value::Value(x) => self.amount(unit, x),
        }
    }

    /// Like [`Formatter::amount`], with money to the penny (two decimals) whatever
    /// `money_decimals` says: for a correction of a figure people already read.
    pub fn exact(&self, unit: Unit, x: f64) -> String {
        match unit {
            Unit::Money => {
                let sign = if x < 0.0 { "-" } else { "" };
                format!("{sign}{}{}", self.currency_symbol, self.number(x.abs(), 2))
            }
            _ => self.amount(unit, x),
        }
    }

    /// Money in few characters, for a subject line: `£850`, `£3.2k`, `£32k`, `£1.4m`.
    pub fn compact_money(&self, x: f64) -> String {
        let sign = if x < 0.0 { "-" } else { "" };
        let a = x.abs();
        let (v, suffix) = if a >= 999_500.0 {
            (a / 1e6, "m")
        } else if a >= 999.5 {
            (a / 1e3, "k")
        } else {
            (a.round(), "")
        };
        let decimals = usize::from(!suffix.is_empty() && v < 9.95);
        format!(
            "{sign}{}{}{suffix}",
            self.currency_symbol,
            self.number(v, decimals)
        )
    }

    pub fn amount(&self, unit: Unit, x: f64) -> String {
        match unit {
            Unit::Money => {
                let sign = if x < 0.0 { "-" } else { "" };
                format!(
                    "{sign}{}{}",
                    self.currency_symbol,
                    self.number(x.abs(), self.format.money_decimals)
                )
            }
            Unit::Percent => format!("{}%", self.number(x * 100.0, self.format.percent_decimals)),
            Unit::Ratio => format!("{}×", self.number(x, 2)),
            Unit::Hours => format!("{} h", self.number(x, 1)),
            Unit::Days => format!("{} d", self.number(x, 1)),
            Unit::Count => {
                let decimals = if x.fract().abs() > 1e-9 && x.abs() < 100.0 {
                    1
                } else {
                    0
                };
                self.number(x, decimals)
            }
            Unit::Score => self.number(x, if x.fract().abs() > 1e-9 { 1 } else { 0 }),
        }
    }

    /// The change of a comparison: relative (`+8.2%`) for most units, points (`+0.4 pts`)
    /// for percentages, `n/a` when it cannot be computed.
    pub fn change(&self, unit: Unit, c: &Comparison) -> String {
        match unit {
            Unit::Percent | Unit::Score => match c.abs_change {
                Some(a) => {
                    let points = if unit == Unit::Percent { a * 100.0 } else { a };
                    let decimals = if unit == Unit::Percent {
                        self.format.percent_decimals
                    } else {
                        1
                    };
                    format!(
                        "{}{} pts",
                        sign(points),
                        self.number(points.abs(), decimals)
                    )
                }
                None => "n/a".into(),
            },
            _ => match (c.rel_change, c.abs_change) {
                (Some(r), _) => format!(
                    "{}{}%",
                    sign(r),
                    self.number((r * 100.0).abs(), self.format.percent_decimals)
                ),
                // From zero there is no relative change; say how much it moved instead.
                (None, Some(a)) => format!("{}{}", sign(a), self.amount(unit, a.abs())),
                (None, None) => "n/a".into(),
            },
        }
    }

    /// A one-character mark of a verdict, for plain text.
    pub fn mark(v: Verdict) -> &'static str {
        match v {
            Verdict::Good => "▲",
            Verdict::Bad => "▼",
            Verdict::Neutral => "·",
            Verdict::Unknown => " ",
        }
    }
}

fn sign(x: f64) -> &'static str {
    if x > 0.0 {
        "+"
    } else if x < 0.0 {
        "-"
    } else {
        "±"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f() -> Formatter {
        Formatter::new(NumberFormat::default(), "£".into())
    }

    #[test]
    fn compact_money_for_subjects() {
        let c = |x: f64| f().compact_money(x);
        assert_eq!(c(849.6), "£850");
        assert_eq!(c(999.6), "£1.0k");
        assert_eq!(c(3_249.0), "£3.2k");
        assert_eq!(c(9_960.0), "£10k");
        assert_eq!(c(32_307.0), "£32k");
        assert_eq!(c(1_440_000.0), "£1.4m");
        assert_eq!(c(-2_500.0), "-£2.5k");
    }

    #[test]
    fn money_and_thousands() {
        assert_eq!(f().amount(Unit::Money, 12_340.4), "£12,340");
        assert_eq!(f().amount(Unit::Money, -1_234_567.0), "-£1,234,567");
        assert_eq!(f().amount(Unit::Money, 999.6), "£1,000");
        assert_eq!(f().number(0.004, 2), "0.00");
        assert_eq!(f().number(-0.004, 2), "0.00");
    }

    #[test]
    fn european_separators() {
        let fmt = NumberFormat {
            thousands_separator: ".".into(),
            decimal_separator: ",".into(),
            percent_decimals: 2,
            money_decimals: 2,
        };
        let f = Formatter::new(fmt, "€".into());
        assert_eq!(f.amount(Unit::Money, 1234.5), "€1.234,50");
        assert_eq!(f.amount(Unit::Percent, 0.03126), "3,13%");
    }

    #[test]
    fn units() {
        assert_eq!(f().amount(Unit::Percent, 0.031), "3.1%");
        assert_eq!(f().amount(Unit::Ratio, 4.2), "4.20×");
        assert_eq!(f().amount(Unit::Hours, 31.46), "31.5 h");
        assert_eq!(f().amount(Unit::Count, 1204.0), "1,204");
        assert_eq!(f().amount(Unit::Count, 2.5), "2.5");
        assert_eq!(f().value(Unit::Count, Value::NoData), "no data");
        assert_eq!(f().value(Unit::Percent, Value::NotApplicable), "n/a");
    }
}
