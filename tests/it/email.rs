//! The morning email: the digest of the hand-made shop, its snapshots, the MIME message read
//! back with an independent parser, hostile text, and rendering in a real browser.

use std::path::Path;

use chrono::{NaiveDate, TimeZone};
use dawnpost::email::compose::{compose, write_preview};
use dawnpost::email::render::Templates;
use mail_parser::{MessageParser, MimeHeaders, PartType};

use crate::support::{Backend, TestStore, both_backends, composed, now};

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Snapshot assertions with the generation time filtered out.
fn with_filters(f: impl FnOnce()) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        r"Generated [^\n<]* by dawnpost",
        "Generated [time] by dawnpost",
    );
    settings.bind(f);
}

both_backends!(digest_of_the_small_shop);

async fn digest_of_the_small_shop(b: Backend) {
    let Some(t) = TestStore::small(b).await else {
        return;
    };
    let c = composed(&t).await;
    let d = &c.digest;

    // Headline: net revenue 90, 2 orders, 2 / 200 sessions, 90 / 2 (see metrics.rs).
    let values: Vec<&str> = d.headline.iter().map(|h| h.value.as_str()).collect();
    assert_eq!(values, ["$90", "2", "1.0%", "$45"]);
    assert_eq!(d.headline[0].changes[0].label, "vs last Fri");
    assert_eq!(d.headline[0].changes[0].change, "+500.0%");
    assert_eq!(d.headline[0].changes[0].tone, "good");

    // Key results on day 61 of 91: expected 67.0%. Conversion over 29 Feb - 1 Mar is
    // 4 / 350 = 1.142857%, 64.3% of the way from 0.5% to 1.5%: on track (>= 0.95 × 67.0%).
    // Time to ship 18 h is past the 24 h target: achieved. The objective: mean 94.6%, and
    // the status of its weakest key result.
    let o = &d.objectives[0];
    assert_eq!(
        (o.status.as_str(), o.progress.as_str()),
        ("On track", "94.6%")
    );
    assert_eq!(o.cycle, "1 Jan - 31 Mar · day 61 of 91");
    let k = &o.key_results[0];
    assert_eq!(k.title, "Increase conversion rate from 0.5% to 1.5%");
    assert_eq!(
        (k.current.as_str(), k.progress.as_str(), k.expected.as_str()),
        ("1.1%", "64.3%", "67.0%")
    );
    assert_eq!(k.status, "On track");
    let k = &o.key_results[1];
    assert_eq!(
        (k.title.as_str(), k.current.as_str(), k.progress.as_str()),
        ("Ship within a day", "18.0 h", "125.0%")
    );
    assert_eq!(k.status, "Achieved");

    // B 5 on hand, 3 sold in the 14 days: 23.3 days of cover, above its 21-day lead time;
    // C 12 on hand, 3 sold: 56 days. 2 orders of a capacity of 4. No alerts.
    assert!(d.alerts.is_empty(), "{:?}", d.alerts);
    assert_eq!(d.alerts_phrase, "no alerts");
    assert_eq!(d.out_of_stock, ["A Alpha Mug"]);
    let r = &d.top_returns[0];
    assert_eq!(
        (
            r.sku.as_str(),
            r.returned.as_str(),
            r.sold.as_str(),
            r.rate.as_str()
        ),
        ("B", "1", "2", "50.0%")
    );
    let themes: Vec<(&str, i64, i64)> = d
        .feedback
        .iter()
        .map(|t| (t.theme.as_str(), t.count, t.negative))
        .collect();
    // Most mentioned first; ties go to the theme with more negative comments.
    assert_eq!(
        themes,
        [
            ("delivery speed", 2, 2),
            ("sizing", 1, 1),
            ("product quality", 1, 0)
        ]
    );
    assert_eq!(d.feedback[0].example, "Late again, \"very\" annoyed");
    let funnel: Vec<(&str, &str)> = d
        .funnel
        .iter()
        .map(|s| (s.count.as_str(), s.of_sessions.as_str()))
        .collect();
    assert_eq!(
        funnel,
        [
            ("200", "100.0%"),
            ("30", "15.0%"),
            ("10", "5.0%"),
            ("2", "1.0%")
        ]
    );
    assert_eq!(d.stale_note, "");
    assert_eq!(
        c.rendered.subject,
        "Fri 1 Mar: revenue $90 +500% vs last Fri · no alerts"
    );

    // Both backends render the very same email.
    with_filters(|| {
        insta::assert_snapshot!("small_shop_text", c.rendered.text);
        insta::assert_snapshot!("small_shop_html", c.rendered.html);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eml_is_the_message_send_delivers() {
    let t = TestStore::small(Backend::Sqlite).await.unwrap();
    let c = composed(&t).await;
    let out = t.dir.path().join("preview");
    let files = write_preview(&c, &t.config, now(&t), &out).unwrap();
    let raw = std::fs::read(&files.eml).unwrap();
    let msg = MessageParser::default()
        .parse(&raw)
        .expect("a parsable message");

    assert_eq!(
        msg.subject(),
        Some("Fri 1 Mar: revenue $90 +500% vs last Fri · no alerts")
    );
    assert!(msg.date().is_some());
    let id = msg.message_id().expect("a Message-ID");
    assert!(
        id.starts_with("dawnpost.2024-03-01.") && id.ends_with("@small.example"),
        "{id}"
    );
    assert_eq!(
        msg.from().unwrap().first().unwrap().address(),
        Some("reports@small.example")
    );
    assert_eq!(
        msg.to().unwrap().first().unwrap().address(),
        Some("team@small.example")
    );
    // Out-of-office replies stay away; clients see a list with a way out, to the owner.
    let header = |name: &str| {
        msg.header_raw(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .trim()
            .to_string()
    };
    assert_eq!(header("Auto-Submitted"), "auto-generated");
    assert_eq!(header("X-Auto-Response-Suppress"), "OOF, AutoReply");
    let report = &t.config.reports[0];
    let domain = "small.example";
    assert_eq!(
        header("List-Id"),
        format!("{} report <{}.{domain}>", report.name, report.name)
    );
    assert_eq!(
        header("List-Unsubscribe"),
        format!(
            "<mailto:{}?subject=Unsubscribe%20team@small.example%20from%20the%20{}%20report>",
            report.owner.email, report.name
        )
    );

    // multipart/alternative [ text/plain, multipart/related [ text/html, image/png... ] ]
    let root = msg.root_part();
    let ct = |p: &mail_parser::MessagePart| {
        let c = p.content_type().unwrap();
        format!("{}/{}", c.ctype(), c.subtype().unwrap_or(""))
    };
    assert_eq!(ct(root), "multipart/alternative");
    let PartType::Multipart(children) = &root.body else {
        panic!("root is not multipart")
    };
    assert_eq!(children.len(), 2);
    let text_part = msg.part(children[0]).unwrap();
    assert_eq!(ct(text_part), "text/plain");
    let related = msg.part(children[1]).unwrap();
    assert_eq!(ct(related), "multipart/related");
    assert_eq!(
        related.content_type().unwrap().attribute("type"),
        Some("text/html"),
        "RFC 2387 names the root part"
    );
    let PartType::Multipart(related_children) = &related.body else {
        panic!("related is not multipart")
    };
    let html_part = msg.part(related_children[0]).unwrap();
    assert_eq!(ct(html_part), "text/html");
    let html = html_part.text_contents().unwrap();
    let text = text_part.text_contents().unwrap();

    let mut cids = Vec::new();
    for id in &related_children[1..] {
        let p = msg.part(*id).unwrap();
        assert_eq!(ct(p), "image/png");
        assert_eq!(&p.contents()[..8], b"\x89PNG\r\n\x1a\n");
        assert!(
            p.contents().len() <= 60 * 1024,
            "a chart is {} bytes",
            p.contents().len()
        );
        cids.push(p.content_id().unwrap().trim_matches(['<', '>']).to_string());
    }
    // Every cid the HTML refers to is an inline part, and every inline part is used.
    let referenced: Vec<&str> = html
        .split("src=\"cid:")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    // The small shop has 5 days of orders, under the 7 a chart of days needs: the key
    // results chart and a sparkline for each of the four headline tiles.
    assert_eq!(referenced.len(), 5);
    assert_eq!(
        referenced
            .iter()
            .filter(|r| r.starts_with("spark-"))
            .count(),
        4
    );
    for r in &referenced {
        assert!(
            cids.iter().any(|c| c == r),
            "cid {r} missing among {cids:?}"
        );
    }
    assert_eq!(cids.len(), referenced.len());
    // Content-IDs are `name.<hash>@domain`: distinct, and unique to this email (another
    // generation time gives others).
    let mut distinct = cids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), cids.len());
    let tag = cids[0].split_once('.').unwrap().1.to_string();
    assert!(
        tag.ends_with("@small.example") && tag.len() == 16 + 1 + 13,
        "{tag}"
    );
    for c in &cids {
        assert_eq!(c.split_once('.').unwrap().1, tag, "{c}");
    }
    let templates = Templates::load(None).unwrap();
    let later = compose(
        &t.store,
        &t.config,
        &templates,
        "2024-03-01".parse().unwrap(),
        now(&t) + chrono::Duration::seconds(1),
    )
    .await
    .unwrap();
    assert!(
        later.digest.charts.iter().all(|v| !v.src.contains(&tag)),
        "a later email has other Content-IDs"
    );

    // The text part is wrapped for mail clients: no line over 76 characters, URLs aside.
    for line in text.lines() {
        assert!(
            line.chars().count() <= 76 || line.contains("://"),
            "{} characters: {line:?}",
            line.chars().count()
        );
    }
    // The same headline numbers in both parts (worked out in metrics.rs).
    for n in ["$90", "1.0%", "$45", "+500.0%"] {
        assert!(
            text.contains(n) && html.contains(n),
            "{n} missing from a part"
        );
    }
    assert!(html.len() <= 60 * 1024, "HTML part is {} bytes", html.len());
    assert!(html.contains("@media (prefers-color-scheme: dark)"));
    assert!(
        !html.contains("<script")
            && !html.contains("<link")
            && !html.contains("http://")
            && !html.contains("https://")
    );
    // Layout and meaning are inlined (type once, on the container, for the rest to
    // inherit); the shared sheet stays once, for the clients that keep a stylesheet.
    assert!(
        html.contains("class=\"container\" style=\"max-width: 600px;margin: 0 auto;background-color: #ffffff;font-family: Helvetica, Arial, sans-serif;"),
        "layout not inlined"
    );
    assert_eq!(
        html.matches("<style data-css-inline=\"ignore\">").count(),
        1
    );
    assert!(
        html.matches("font-family").count() <= 3,
        "type is written once"
    );

    // The preview's own HTML points the cids at the chart files beside it.
    let page = std::fs::read_to_string(&files.html).unwrap();
    assert!(!page.contains("cid:"));
    for img in &files.images {
        let name = img.file_name().unwrap().to_str().unwrap();
        assert!(page.contains(&format!("src=\"{name}\"")), "{name}");
        assert!(img.exists());
    }
    // MIME text is CRLF-canonical; the preview file keeps the template's line ends.
    assert_eq!(
        std::fs::read_to_string(&files.text).unwrap(),
        text.replace("\r\n", "\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_are_escaped_in_html_and_intact_in_text() {
    let t = TestStore::small(Backend::Sqlite).await.unwrap();
    let long = "Ω".repeat(500);
    let name = format!("<script>alert('x')</script> & \"Quotes\" 🧣 شال صوفي {long}");
    let feedback = "<img src=x onerror=alert(1)> & 'single' \"double\" 👎 מגיע באיחור";
    let csv = |header: &str, row: Vec<&str>| {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(header.split(',')).unwrap();
        w.write_record(row).unwrap();
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    };
    let dir = t.dir.path();
    std::fs::write(
        dir.join("p.csv"),
        csv(
            "sku,name,category,unit_price,unit_cost,lead_time_days",
            vec!["B", &name, "Apparel", "25", "10", "60"],
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("f.csv"),
        csv(
            "feedback_id,day,channel,theme,sentiment,text",
            vec![
                "F9",
                "2024-03-01",
                "chat",
                "packaging",
                "negative",
                feedback,
            ],
        ),
    )
    .unwrap();
    let tz = t.config.shop.timezone;
    dawnpost::ingest::import_csv(&t.store, "products", &dir.join("p.csv"), tz)
        .await
        .unwrap();
    dawnpost::ingest::import_csv(&t.store, "feedback", &dir.join("f.csv"), tz)
        .await
        .unwrap();

    // B (promoted) now has a 60-day lead time and 23.3 days of cover: its name is in an alert.
    let c = composed(&t).await;
    assert_eq!(c.digest.alerts.len(), 1, "{:?}", c.digest.alerts);
    // 5 on hand, 3 sold over 14 days: 23.3 days of cover against a 60-day lead time.
    let a = &c.digest.alerts[0];
    assert!(
        a.title.ends_with(": 23.3 days of cover, lead time 60 days"),
        "{}",
        a.title
    );
    assert!(
        a.detail
            .starts_with("Promoted in Leap Sale (28 Feb - 5 Mar, running). On hand: 5."),
        "{}",
        a.detail
    );
    assert_eq!(a.tone, "critical");
    let (html, text) = (&c.rendered.html, &c.rendered.text);
    // Cut to 80 characters (79 and an ellipsis), but otherwise intact.
    let shown = format!("{}…", name.chars().take(79).collect::<String>());
    // The text part wraps at 76 characters: read it as words.
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = words(text);
    assert!(
        flat.contains(&words(&shown)),
        "product name not intact in the text"
    );
    assert!(!flat.contains(&words(&name)), "a 540-character name is cut");
    assert!(
        flat.contains(&words(feedback)),
        "feedback not intact in the text"
    );
    assert!(!html.contains("<script>") && !html.contains("<img src=x"));
    assert!(
        html.contains("&lt;script&gt;alert("),
        "product name not escaped"
    );
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt; &amp; "),
        "feedback not escaped"
    );
    assert!(html.contains("🧣 شال صوفي") && html.contains("👎 מגיע באיחור"));
    assert!(html.contains("ΩΩΩ…") && !html.contains(&long));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_override_is_used_and_undefined_variables_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("subject.txt.j2"),
        "{{ shop }} / {{ date_short }}",
    )
    .unwrap();
    let t = TestStore::small(Backend::Sqlite).await.unwrap();
    let templates = Templates::load(Some(dir.path())).unwrap();
    let c = compose(&t.store, &t.config, &templates, date("2024-03-01"), now(&t))
        .await
        .unwrap();
    assert_eq!(c.rendered.subject, "Small Test Shop / Fri 1 Mar");

    std::fs::write(
        dir.path().join("subject.txt.j2"),
        "{{ shop }} {{ no_such_value }}",
    )
    .unwrap();
    let templates = Templates::load(Some(dir.path())).unwrap();
    let err = compose(&t.store, &t.config, &templates, date("2024-03-01"), now(&t))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("subject.txt.j2"), "{err:#}");
}

/// `[email] view_url` links each day's email to its page in a browser, in both parts; a
/// URL that is not https is refused naming the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_url_links_the_day_in_both_parts() {
    let small = std::fs::read_to_string(crate::support::fixture("small/config.toml")).unwrap();
    let text = small.replacen(
        "[email]\n",
        "[email]\nview_url = \"https://reports.small.example/morning/{date}\"\n",
        1,
    );
    assert_ne!(text, small);
    let t = TestStore::new(Backend::Sqlite, &text)
        .await
        .unwrap()
        .with_small_data()
        .await;
    let c = composed(&t).await;
    let url = "https://reports.small.example/morning/2024-03-01";
    assert!(
        c.rendered.html.contains(&format!("<a href=\"{url}\"")),
        "{}",
        c.rendered.html
    );
    assert!(
        c.rendered.text.contains(&format!("View in browser: {url}")),
        "{}",
        c.rendered.text
    );
    // Without it, no link at all (the snapshots hold the rest).
    let plain = TestStore::small(Backend::Sqlite).await.unwrap();
    assert!(
        !composed(&plain)
            .await
            .rendered
            .html
            .contains("View in browser")
    );
    let bad = small.replacen(
        "[email]\n",
        "[email]\nview_url = \"ftp://reports/{date}\"\n",
        1,
    );
    let e = dawnpost::config::Config::parse(&dawnpost::config::ConfigSource {
        origin: "shop.toml".into(),
        text: &bad,
        base_dir: std::env::temp_dir(),
    })
    .unwrap_err();
    assert!(format!("{e:#}").contains("`email.view_url`"), "{e:#}");
}

/// A shop with orders only: its objective's key results (conversion, time to ship) have no
/// source yet, and the objective is still listed, each key result "no data yet", with no bar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_objective_without_data_is_listed_as_no_data_yet() {
    let text = std::fs::read_to_string(crate::support::fixture("small/config.toml")).unwrap();
    let t = TestStore::new(Backend::Sqlite, &text).await.unwrap();
    for table in ["products", "orders", "order_lines"] {
        let f = crate::support::fixture(&format!("small/{table}.csv"));
        dawnpost::ingest::import_csv(&t.store, table, &f, t.config.shop.timezone)
            .await
            .unwrap();
    }
    let c = composed(&t).await;
    let objective = &c.digest.objectives;
    assert_eq!(objective.len(), 1, "{objective:?}");
    assert_eq!(objective[0].title, "Grow the small shop");
    let krs = &objective[0].key_results;
    assert_eq!(krs.len(), 2);
    assert!(
        krs.iter()
            .all(|k| k.current == "no data yet" && k.status == "No data"),
        "{krs:?}"
    );
    let body = c
        .rendered
        .text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        body.contains("Grow the small shop") && body.contains("now no data yet"),
        "{body}"
    );
    // No bar is drawn for a key result without data: no key results chart at all here.
    assert!(
        !c.digest.chart.contains_key("key_results"),
        "{:?}",
        c.digest.chart.keys()
    );
}

/// Headless Chromium renders the preview: every image loads, nothing is wider than the
/// 600-pixel column, and a screenshot is left beside it for people to look at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_email_renders_in_chromium() {
    let Some(chromium) = chromium_or_skip("the browser rendering test") else {
        return;
    };
    let text = dawnpost::config::DEMO_CONFIG;
    let t = TestStore::new(Backend::Sqlite, text).await.unwrap();
    let d = date("2026-11-21");
    let opts = dawnpost::demo::DemoOptions {
        end: d,
        days: 400,
        seed: 7,
        scale: 0.5,
        shop: dawnpost::demo::DemoShop::Northwind,
    };
    dawnpost::demo::generate(&t.store, &opts, t.config.shop.timezone, false)
        .await
        .unwrap();
    let templates = Templates::load(None).unwrap();
    let now = t
        .config
        .shop
        .timezone
        .with_ymd_and_hms(2026, 11, 22, 6, 0, 0)
        .unwrap();
    let c = compose(&t.store, &t.config, &templates, d, now)
        .await
        .unwrap();
    let out = t.dir.path().join("preview");
    let files = write_preview(&c, &t.config, now, &out).unwrap();

    // At a small phone's width (320 px), a phone's and the column's: nothing wider than the
    // screen, no text under
    // 12 px, every image loaded, no image wider than its box, each shown at the size its
    // attributes give. Screenshots stay in target/email-screenshots for people to look at.
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/email-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    for width in [320, 375, 600] {
        let r = probe_in_chromium_at(&chromium, &files.html, PROBE, width);
        assert_eq!(r["vw"], width, "{r}");
        assert_eq!(r["broken"], serde_json::json!([]), "{r}");
        assert!(r["images"].as_u64().unwrap() >= 9, "{r}");
        assert!(r["scroll"].as_f64().unwrap() <= f64::from(width), "{r}");
        assert!(r["small"].as_f64().unwrap() >= 12.0, "{r}");
        assert_eq!(r["wide"], serde_json::json!([]), "{r}");
        // Charts are drawn for the 568 px column: narrower, they scale down with it.
        if width >= 600 {
            assert_eq!(r["resized"], serde_json::json!([]), "{r}");
        }
        assert_eq!(r["clipped"], 0, "{r}");
        // Every colour pair the page uses for text, computed, at least 4.5:1.
        assert_eq!(r["low"], serde_json::json!([]), "{r}");
        assert!(r["pairs"].as_u64().unwrap() >= 8, "{r}");
        assert_eq!(r["uncued"], serde_json::json!([]), "{r}");
        let shot = shots.join(format!("demo-{width}.png"));
        let frame = files.html.with_file_name(format!("frame-{width}.html"));
        std::fs::write(
            &frame,
            format!(
                "<!DOCTYPE html><html><body style=\"margin:0\"><iframe src=\"index.html\" \
                 style=\"width:{width}px;height:6000px;border:0\"></iframe></body></html>"
            ),
        )
        .unwrap();
        run_chromium(
            &chromium,
            &[
                &format!("--screenshot={}", shot.display()),
                &format!("--window-size={},6000", width.max(500)),
            ],
            &frame,
        );
        assert!(shot.exists());
    }
    // The page as a reader with deuteranopia sees it (Machado et al. 2009, severity 1, as
    // an SVG colour matrix), kept beside the others: good and bad must read by their ✓/✗.
    let matrix = "0.367322 0.860646 -0.227968 0 0 0.280085 0.672501 0.047413 0 0 -0.011820 0.042940 0.968881 0 0 0 0 0 1 0";
    let frame = files.html.with_file_name("frame-deuteranopia.html");
    std::fs::write(
        &frame,
        format!(
            "<!DOCTYPE html><html><body style=\"margin:0\"><svg width=\"0\" height=\"0\" style=\"position:absolute\">\
             <filter id=\"d\" color-interpolation-filters=\"linearRGB\"><feColorMatrix type=\"matrix\" values=\"{matrix}\"/></filter></svg>\
             <iframe src=\"index.html\" style=\"width:375px;height:6000px;border:0;filter:url(#d)\"></iframe></body></html>"
        ),
    )
    .unwrap();
    let shot = shots.join("demo-375-deuteranopia.png");
    run_chromium(
        &chromium,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=500,6000",
        ],
        &frame,
    );
    assert!(shot.exists());
}

/// Reports into the title what a reader's screen shows: its width, the page's, the
/// smallest text, and images that failed, overflow their box or are scaled.
const PROBE: &str = r#"<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src'));
  const wide = imgs.filter(i => i.getBoundingClientRect().width > i.parentElement.getBoundingClientRect().width + 0.5).map(i => i.getAttribute('src'));
  const resized = imgs.filter(i => Math.abs(i.clientWidth - Number(i.getAttribute('width'))) > 0.5).map(i => i.getAttribute('src') + ' ' + i.clientWidth);
  let small = 1000, where = '';
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const n = walk.currentNode, el = n.parentElement;
    if (!n.textContent.trim() || el.offsetParent === null || el.closest('script')) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < small) { small = size; where = n.textContent.trim().slice(0, 40); }
  }
  // WCAG contrast of each text's colour against the first opaque background behind it.
  const rgb = c => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = c => { const v = rgb(c).slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); }); return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const bg = el => { for (let e = el; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor; const a = rgb(c); if (a.length === 3 || (a.length === 4 && a[3] > 0)) return c; } return 'rgb(255, 255, 255)'; };
  const low = [];
  const seen = new Set();
  const walk2 = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk2.nextNode()) {
    const n = walk2.currentNode, el = n.parentElement;
    if (!n.textContent.trim() || el.offsetParent === null || el.closest('script')) continue;
    const fg = getComputedStyle(el).color, back = bg(el);
    const [a, b] = [lum(fg), lum(back)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const key = fg + ' on ' + back;
    if (ratio < 4.5 && !seen.has(key)) { seen.add(key); low.push(key + ' ' + ratio.toFixed(2) + ' "' + n.textContent.trim().slice(0, 30) + '"'); }
  }
  const pairs = new Set();
  const walk3 = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk3.nextNode()) { const el = walk3.currentNode.parentElement; if (walk3.currentNode.textContent.trim() && el.offsetParent !== null) pairs.add(getComputedStyle(el).color + ' on ' + bg(el)); }
  // Good and bad news carry a glyph or a word besides their colour.
  const uncued = [...document.querySelectorAll('.good, .bad')].filter(e => e.offsetParent !== null && e.textContent.trim() && !/[✓✗]/.test(e.textContent)).map(e => e.textContent.trim().slice(0, 30));
  const clipped = [...document.querySelectorAll('td, div, span, p')].filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflow === 'hidden' && e.textContent.trim() !== '' && e.offsetParent !== null).length;
  top.document.title = 'PROBE ' + JSON.stringify({vw: window.innerWidth, scroll: document.scrollingElement.scrollWidth, images: imgs.length, broken, wide, resized, small, where, clipped, low, pairs: pairs.size, uncued});
});
</script></body>"#;

/// [`probe_in_chromium`] with the page `width` pixels wide: in a frame of that width,
/// since headless Chromium keeps its window at least 500 pixels wide. The probe reports
/// into the top page's title.
pub(crate) fn probe_in_chromium_at(
    chromium: &str,
    page: &Path,
    probe: &str,
    width: u32,
) -> serde_json::Value {
    let host = page.with_file_name(format!("host-{width}.html"));
    std::fs::write(
        &host,
        format!(
            "<!DOCTYPE html><html><head><title>host</title></head><body style=\"margin:0\">\
             <iframe src=\"probe.html\" style=\"width:{width}px;height:1500px;border:0\"></iframe></body></html>"
        ),
    )
    .unwrap();
    probe_page(chromium, page, probe, &host)
}

/// Loads a copy of `page` with `probe` (a script that ends `</body>` and writes
/// `PROBE {json}` into the title) in Chromium, and returns the JSON.
pub(crate) fn probe_in_chromium(chromium: &str, page: &Path, probe: &str) -> serde_json::Value {
    probe_page(chromium, page, probe, &page.with_file_name("probe.html"))
}

/// Writes `page` with `probe` as probe.html beside it, loads `open` (probe.html or a page
/// that frames it), and reads the JSON the probe put in the title.
fn probe_page(chromium: &str, page: &Path, probe: &str, open: &Path) -> serde_json::Value {
    let html = std::fs::read_to_string(page)
        .unwrap()
        .replace("</body>", probe);
    let probe_path = page.with_file_name("probe.html");
    std::fs::write(&probe_path, html).unwrap();
    let dom = run_chromium(
        chromium,
        &["--dump-dom", "--virtual-time-budget=5000"],
        open,
    );
    let title = dom
        .split("<title>PROBE ")
        .nth(1)
        .and_then(|s| s.split("</title>").next())
        .unwrap_or_else(|| panic!("no probe result in {}", &dom[..dom.len().min(500)]));
    serde_json::from_str(&title.replace("&quot;", "\"")).unwrap()
}

/// Chromium's path; None (the test skips, saying so) where it is not installed, unless
/// `DAWNPOST_REQUIRE_CHROMIUM=1` (CI), where that is a failure.
pub(crate) fn chromium_or_skip(test: &str) -> Option<String> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|b| which(b));
    if found.is_none() {
        if std::env::var("DAWNPOST_REQUIRE_CHROMIUM").is_ok_and(|v| v == "1") {
            panic!("Chromium is required (DAWNPOST_REQUIRE_CHROMIUM=1) but not installed");
        }
        eprintln!("notice: Chromium is not installed; skipping {test}");
    }
    found
}

pub(crate) fn which(bin: &str) -> Option<String> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(bin))
            .find(|p| p.exists())
            .map(|p| p.display().to_string())
    })
}

pub(crate) fn run_chromium(bin: &str, extra: &[&str], page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--allow-file-access-from-files",
            "--window-size=700,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A shop with orders only, and traffic that stopped the day before: the banner names
/// traffic alone, once; the sources the shop never had are one quiet line at the foot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_banner_names_only_sources_that_stopped() {
    let text = std::fs::read_to_string(crate::support::fixture("small/config.toml")).unwrap();
    let t = TestStore::new(Backend::Sqlite, &text).await.unwrap();
    let tz = t.config.shop.timezone;
    for table in ["products", "orders", "order_lines"] {
        let f = crate::support::fixture(&format!("small/{table}.csv"));
        dawnpost::ingest::import_csv(&t.store, table, &f, tz)
            .await
            .unwrap();
    }
    let traffic = t.dir.path().join("traffic.csv");
    std::fs::write(
        &traffic,
        "day,channel,sessions,product_views,add_to_carts,checkouts\n2024-02-29,email,50,20,5,2\n",
    )
    .unwrap();
    dawnpost::ingest::import_csv(&t.store, "traffic", &traffic, tz)
        .await
        .unwrap();
    // Stock counted once, a month before: not expected daily, so not "incomplete".
    let stock = t.dir.path().join("inventory.csv");
    std::fs::write(&stock, "day,sku,on_hand,on_order\n2024-02-01,A,5,0\n").unwrap();
    dawnpost::ingest::import_csv(&t.store, "inventory", &stock, tz)
        .await
        .unwrap();
    let c = composed(&t).await;
    assert_eq!(
        c.digest.stale_note,
        "Incomplete data for 1 Mar: traffic (last: 29 Feb 2024)."
    );
    assert_eq!(
        c.digest.absent_note,
        "Not shown, no data imported yet: ad spend, shipping, returns, refunds, capacity, \
         feedback, daily values. No data in the 14 days before 1 Mar: stock. Not shown, no value in the \
         days this email reads: Sell-through of promoted SKUs, Days of cover (promoted)."
    );
    assert_eq!(c.rendered.html.matches("Incomplete data").count(), 1);
    assert_eq!(c.rendered.text.matches("Incomplete data").count(), 1);
    assert!(
        c.rendered
            .text
            .contains("Not shown, no data imported yet: ad spend")
    );
    assert!(
        c.rendered
            .html
            .contains("Not shown, no data imported yet: ad spend")
    );
    // Neither stock (a month old) nor capacity can be called fine.
    let none = "No alerts could be checked: there is no stock data and no capacity data.";
    assert!(c.digest.alerts.is_empty());
    assert!(c.rendered.text.contains(none) && c.rendered.html.contains(none));
    assert!(!c.rendered.text.contains("are fine"));
}

/// A product's return rate is listed only from `email.return_rate_min_units` units sold in
/// the month to date: at the boundary it is, one unit short it is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_rates_need_enough_units_sold() {
    let t = TestStore::small(Backend::Sqlite).await.unwrap();
    // B's units sold on 1 Mar (the month to date), by independent SQL.
    let sold = t
        .scalar(
            "SELECT SUM(l.quantity) FROM order_lines l JOIN orders o ON o.order_id = l.order_id \
             WHERE o.day = '2024-03-01' AND o.status <> 'cancelled' AND l.sku = 'B'",
        )
        .await
        .unwrap() as u32;
    assert!(sold > 0);
    let base = std::fs::read_to_string(crate::support::fixture("small/config.toml")).unwrap();
    for (min, listed) in [(sold, true), (sold + 1, false)] {
        let text = base.replace(
            "return_rate_min_units = 1",
            &format!("return_rate_min_units = {min}"),
        );
        let mut t2 = TestStore::new(Backend::Sqlite, &text).await.unwrap();
        t2 = t2.with_small_data().await;
        let c = composed(&t2).await;
        let skus: Vec<&str> = c
            .digest
            .top_returns
            .iter()
            .map(|r| r.sku.as_str())
            .collect();
        assert_eq!(
            skus.contains(&"B"),
            listed,
            "min {min}, {sold} sold: {skus:?}"
        );
    }
}
