//! Platform exports as a fault-injection probe (issue 24) bent them. Each either imports
//! with figures worked out by hand, or is refused with the file, the line and what is
//! wrong, leaving the store as it was; none panics.

use std::path::{Path, PathBuf};

use dawnpost::ingest::import_file;

use crate::presets::{close, count, empty, load, opts, preset, values};
use crate::support::{Backend, TestStore, both_backends};

both_backends!(
    a_header_cell_with_a_line_break_is_refused_not_a_panic,
    a_header_longer_than_the_first_glance_is_refused_not_a_panic,
    a_non_ascii_column_before_amount_spent_imports,
    a_row_wider_or_narrower_than_the_header_is_refused,
    a_campaign_named_total_is_a_campaign,
    a_column_name_given_twice_is_refused,
);

fn write(t: &TestStore, name: &str, text: &str) -> PathBuf {
    let p = t.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The import's error as text, after checking that the store did not change.
async fn refused(t: &TestStore, path: &Path) -> String {
    let before = t.fingerprint().await;
    let err = import_file(&t.store, None, path, &opts(t))
        .await
        .expect_err("the file must be refused");
    assert_eq!(t.fingerprint().await, before, "a refused file wrote rows");
    format!("{err:#}")
}

/// The WooCommerce header's last cell, `N. Revenue`, quoted with a line break in it: the
/// first line alone looks like the header, but the reader's header has `N. Revenue⏎x`.
async fn a_header_cell_with_a_line_break_is_refused_not_a_panic(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let text = std::fs::read_to_string(preset("woocommerce_orders.csv")).unwrap();
    let (header, rows) = text.split_once('\n').unwrap();
    let last = header.rfind(",N. Revenue").unwrap();
    let broken = format!("{},\"N. Revenue\nx\"", &header[..last]);
    assert!(broken.ends_with("Coupon(s),\"N. Revenue\nx\""), "{broken}");
    let p = write(&t, "woo_broken_header.csv", &format!("{broken}\n{rows}"));
    let err = refused(&t, &p).await;
    assert!(err.contains("woo_broken_header.csv:1:"), "{err}");
    assert!(err.contains("not a header dawnpost knows"), "{err}");
}

/// A Google Ads header over 64 KiB, cut by the first glance right after `Impr.`: the whole
/// header has `Impr. (Abs. Top) %` there, and no `Impr.` column at all.
async fn a_header_longer_than_the_first_glance_is_refused_not_a_panic(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let mut header = String::from("Day,Campaign,Cost,Clicks");
    while header.len() < 65_400 {
        header.push_str(",Conv. value");
    }
    // Pad the last filler cell with spaces (trimmed away) so that `Impr.` ends at 64 KiB.
    let pad = 65_536 - header.len() - ",Impr.".len();
    header.push_str(&" ".repeat(pad));
    header.push_str(",Impr.");
    assert_eq!(header.len(), 65_536);
    header.push_str(" (Abs. Top) %");
    let p = write(
        &t,
        "wide_ads.csv",
        &format!("{header}\n2024-03-01,Spring Sale,1.00,1\n"),
    );
    let err = refused(&t, &p).await;
    assert!(err.contains("wide_ads.csv:1:"), "{err}");
    assert!(err.contains("not a header dawnpost knows"), "{err}");
}

/// Meta's `Cost per result` in a French account is `Coût par résultat`, before `Amount spent
/// (USD)`: columns are found by name, so the file imports with the fixture's figures.
async fn a_non_ascii_column_before_amount_spent_imports(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let text = std::fs::read_to_string(preset("meta_ads.csv")).unwrap();
    let french = text.replacen("Cost per result", "Coût par résultat", 1);
    assert_ne!(french, text);
    let p = write(&t, "meta_fr.csv", &french);
    let s = load(&t, &p, &opts(&t)).await;
    assert_eq!(s.format, "meta-ads");
    // 1 Mar: 50.00 + 15.00; 2 Mar: 60.50.
    close(&values(&t, "2024-03-01", &["ad_spend"]).await, &[65.0]);
    close(&values(&t, "2024-03-02", &["ad_spend"]).await, &[60.5]);
}

/// An unquoted `12,50` price makes a Shopify row one field wider (69 against the header's
/// 68); a Google Ads download cut inside its 6th line leaves that row 6 fields of 10.
async fn a_row_wider_or_narrower_than_the_header_is_refused(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let text = std::fs::read_to_string(preset("shopify_orders.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[3].starts_with("#1002,"));
    let wide = lines[3].replacen(",Bravo Tee - M,20.00,", ",Bravo Tee - M,12,50,", 1);
    assert_ne!(wide, lines[3]);
    let mut out: Vec<&str> = lines.clone();
    out[3] = &wide;
    let p = write(&t, "shopify_price.csv", &(out.join("\n") + "\n"));
    let err = refused(&t, &p).await;
    assert!(err.contains("shopify_price.csv:4:"), "{err}");
    assert!(err.contains("69 fields") && err.contains("68"), "{err}");
    assert!(err.ends_with("nothing was imported"), "{err}");

    let text = std::fs::read_to_string(preset("google_ads.csv")).unwrap();
    let cut: Vec<&str> = text.lines().take(5).collect();
    let p = write(
        &t,
        "ads_cut.csv",
        &format!(
            "{}\n2024-03-02,Brand - Search,Enabled,Search,USD,99.00",
            cut.join("\n")
        ),
    );
    let err = refused(&t, &p).await;
    assert!(err.contains("ads_cut.csv:6:"), "{err}");
    assert!(err.contains("6 fields") && err.contains("10"), "{err}");
    assert_eq!(count(&t, "SELECT COUNT(*) FROM ad_spend").await, 0.0);
}

/// `Campaign` first: a campaign named `Total Brand Awareness` is a campaign; the
/// `Total: …` rows, with no day, are the report's sums.
async fn a_campaign_named_total_is_a_campaign(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let p = write(
        &t,
        "ads_campaign_first.csv",
        "Campaign report\n\
         \"March 1, 2024 - March 1, 2024\"\n\
         Campaign,Day,Campaign state,Campaign type,Currency code,Cost,Impr.,Clicks,Conversions,Conv. value\n\
         Total Brand Awareness,2024-03-01,Enabled,Display,USD,40.00,\"8,000\",20,0.00,0.00\n\
         Spring Sale,2024-03-01,Enabled,Performance Max,USD,100.25,\"3,000\",90,2.00,80.00\n\
         Total: Account,,,,USD,140.25,\"11,000\",110,2.00,80.00\n\
         Total: Display,,,,USD,40.00,\"8,000\",20,0.00,0.00\n",
    );
    load(&t, &p, &opts(&t)).await;
    // 40.00 + 100.25; the two Total: rows are not campaigns.
    close(&values(&t, "2024-03-01", &["ad_spend"]).await, &[140.25]);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM ad_spend").await, 2.0);
    assert_eq!(
        count(
            &t,
            "SELECT impressions FROM ad_spend WHERE campaign = 'Total Brand Awareness'"
        )
        .await,
        8000.0
    );
}

/// The Google Ads fixture with `Conv. value` renamed `cost`: the same name as `Cost` as
/// the preset reads names (any case), so which column is the cost cannot be told.
async fn a_column_name_given_twice_is_refused(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let text = std::fs::read_to_string(preset("google_ads.csv")).unwrap();
    let twice = text.replacen(",Conv. value", ",cost", 1);
    assert_ne!(twice, text);
    let p = write(&t, "ads_cost_twice.csv", &twice);
    let err = refused(&t, &p).await;
    assert!(err.contains("ads_cost_twice.csv:3:"), "{err}");
    assert!(
        err.contains("`Cost` is in the header twice, as columns 6 and 10"),
        "{err}"
    );
}
