//! `[[plans]]` and `[preflight]`: the targets a weekly review holds its week to, and when a
//! campaign's handoff note goes out; each mistake named by file, line and key.

use anyhow::Result;
use toml::Spanned;

use super::sections::Cx;
use super::sections::excerpt;
use crate::metrics::metric::Catalog;

/// `[[plans]]`: a known metric, a month, quarter or ISO week, a finite target; at most one
/// plan per metric and period.
pub(super) fn plans(
    cx: &Cx<'_>,
    raw: Vec<Spanned<crate::metrics::plan::RawPlan>>,
    catalog: &Catalog,
) -> Result<Vec<crate::metrics::plan::PlanTarget>> {
    let mut out: Vec<crate::metrics::plan::PlanTarget> = Vec::new();
    for (i, p) in raw.into_iter().enumerate() {
        let span = p.span();
        let p = p.into_inner();
        let at =
            |field: &str, msg: String| cx.at(span.clone(), &format!("plans[{i}].{field}"), msg);
        if catalog.get(&p.metric).is_none() {
            return Err(at(
                "metric",
                format!("unknown metric `{}`", excerpt(&p.metric)),
            ));
        }
        let (first, last) =
            crate::metrics::plan::parse_period(&p.period).map_err(|e| at("period", excerpt(&e)))?;
        if !p.target.is_finite() || p.target.abs() > crate::schema::MAX_NUMBER {
            return Err(at("target", format!("{} is not a usable number", p.target)));
        }
        if out
            .iter()
            .any(|o| o.metric == p.metric && o.first <= last && o.last >= first)
        {
            return Err(at(
                "period",
                format!("{} overlaps another plan of `{}`", p.period, p.metric),
            ));
        }
        out.push(crate::metrics::plan::PlanTarget {
            metric: p.metric,
            first,
            last,
            target: p.target,
        });
    }
    Ok(out)
}

/// `[preflight]`: a handoff's notice, 1 day to the forecast's reach.
pub(super) fn preflight(
    cx: &Cx<'_>,
    raw: Spanned<crate::metrics::preflight::PreflightSettings>,
) -> Result<crate::metrics::preflight::PreflightSettings> {
    use crate::metrics::preflight::MAX_NOTICE_DAYS;
    let span = raw.span();
    let p = raw.into_inner();
    if !(1..=MAX_NOTICE_DAYS).contains(&p.notice_days) {
        return Err(cx.at(
            span,
            "preflight.notice_days",
            format!("{} is not between 1 and {MAX_NOTICE_DAYS}", p.notice_days),
        ));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::super::ReportPeriod;
    use super::super::tests::{MINIMAL, parse};

    #[test]
    fn plans_preflight_and_a_weekly_report_are_read_and_mistakes_named() {
        let plan = |body: &str| format!("{MINIMAL}\n[[plans]]\n{body}\n");
        let c = parse(&plan(
            "metric = \"orders\"\nperiod = \"2026-W49\"\ntarget = 700",
        ))
        .unwrap();
        assert_eq!(c.plans[0].first.to_string(), "2026-11-30");
        assert_eq!(c.plans[0].last.to_string(), "2026-12-06");
        for (body, says) in [
            (
                "metric = \"nope\"\nperiod = \"2026-12\"\ntarget = 1",
                "`plans[0].metric`",
            ),
            (
                "metric = \"orders\"\nperiod = \"December\"\ntarget = 1",
                "`plans[0].period`",
            ),
            (
                "metric = \"orders\"\nperiod = \"2026-12\"\ntarget = nan",
                "`plans[0].target`",
            ),
            (
                "metric = \"orders\"\nperiod = \"2026-12\"\ntarget = 1\nweeks = 2",
                "weeks",
            ),
        ] {
            let err = format!("{:#}", parse(&plan(body)).unwrap_err());
            assert!(err.contains(says), "{body}: {err}");
            assert!(err.contains("test.toml:"), "{body}: {err}");
        }
        let twice = format!(
            "{}[[plans]]\nmetric = \"orders\"\nperiod = \"2026-W49\"\ntarget = 1\n",
            plan("metric = \"orders\"\nperiod = \"2026-12\"\ntarget = 1")
        );
        let err = format!("{:#}", parse(&twice).unwrap_err());
        assert!(
            err.contains("`plans[1].period`") && err.contains("overlaps"),
            "{err}"
        );

        assert_eq!(parse(MINIMAL).unwrap().preflight.notice_days, 14);
        let err = format!(
            "{:#}",
            parse(&format!("{MINIMAL}\n[preflight]\nnotice_days = 0\n")).unwrap_err()
        );
        assert!(err.contains("`preflight.notice_days`"), "{err}");

        let report = |period: &str| {
            format!(
                "{MINIMAL}\n[[teams]]\nname = \"a\"\nmembers = [{{ name = \"Jo\", email = \"jo@x.example\" }}]\n\
                 [[reports]]\nname = \"w\"\nperiod = \"{period}\"\nfrom = \"R <r@x.example>\"\n\
                 owner = \"r@x.example\"\nteams = [\"a\"]\n"
            )
        };
        let c = parse(&report("week")).unwrap();
        assert_eq!(c.reports[0].period, ReportPeriod::Week);
        // Any day's report date is its last full week's Sunday (weeks start on Monday).
        let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
        assert_eq!(c.reports[0].date_for(d("2026-12-03")), d("2026-11-29"));
        assert_eq!(c.reports[0].date_for(d("2026-12-06")), d("2026-12-06"));
        let err = format!("{:#}", parse(&report("month")).unwrap_err());
        assert!(err.contains("month") && err.contains("test.toml:"), "{err}");
    }
}
