//! The demo shop's catalogue: its products, and the comments its customers write.

use super::*;

pub(super) struct Product {
    pub(super) sku: String,
    pub(super) name: String,
    pub(super) category: &'static str,
    pub(super) price: f64,
    pub(super) cost: f64,
    pub(super) lead_time: u32,
    /// Relative popularity.
    pub(super) weight: f64,
    pub(super) return_rate: f64,
}

pub(super) fn catalog() -> Vec<Product> {
    // (prefix, category, names, price range, lead time range)
    type Group = (
        &'static str,
        &'static str,
        &'static [&'static str],
        (f64, f64),
        (u32, u32),
    );
    let groups: [Group; 5] = [
        (
            "OUT",
            "Outerwear",
            &[
                "Storm Parka",
                "Quilted Gilet",
                "Wool Overcoat",
                "Rain Shell",
                "Down Jacket",
                "Field Jacket",
                "Fleece Zip",
                "Borg Coat",
                "Trench Coat",
                "Puffer Vest",
            ],
            (59.0, 189.0),
            (28, 45),
        ),
        (
            "KNT",
            "Knitwear",
            &[
                "Merino Crew",
                "Cable Knit Jumper",
                "Lambswool Cardigan",
                "Chunky Roll Neck",
                "Cashmere Beanie",
                "Fair Isle Sweater",
                "Cotton Knit Polo",
                "Alpaca Scarf",
                "Ribbed Knit Dress",
                "Waffle Knit Hoodie",
            ],
            (29.0, 129.0),
            (21, 40),
        ),
        (
            "FTW",
            "Footwear",
            &[
                "Chelsea Boot",
                "Trail Runner Boot",
                "Canvas Sneaker",
                "Leather Loafer",
                "Wool Slipper",
                "Hiking Boot",
                "Desert Boot",
                "Rubber Wellington",
                "Suede Trainer",
                "Running Shoe",
            ],
            (45.0, 159.0),
            (30, 50),
        ),
        (
            "ACC",
            "Accessories",
            &[
                "Leather Gloves",
                "Wool Scarf",
                "Canvas Tote",
                "Leather Belt",
                "Bobble Hat",
                "Travel Wallet",
                "Weekend Holdall",
                "Silk Tie",
                "Thermal Socks 3-Pack",
                "Sunglasses",
            ],
            (12.0, 89.0),
            (14, 30),
        ),
        (
            "HOM",
            "Home",
            &[
                "Wool Throw",
                "Scented Candle",
                "Linen Cushion",
                "Ceramic Mug Set",
                "Knitted Pouffe",
                "Hot Water Bottle",
                "Table Runner",
                "Cotton Blanket",
                "Stoneware Bowl",
                "Enamel Lantern",
            ],
            (15.0, 99.0),
            (14, 35),
        ),
    ];
    let mut out = Vec::new();
    let mut rng = Rng(0xC0FFEE);
    for (prefix, category, names, (lo, hi), (lt_lo, lt_hi)) in groups {
        for (i, name) in names.iter().enumerate() {
            let price = ((lo + (hi - lo) * rng.f64()).floor() + 0.99).min(hi);
            let cost = (price * (0.38 + 0.17 * rng.f64()) * 100.0).round() / 100.0;
            let lead_time = lt_lo + (rng.f64() * f64::from(lt_hi - lt_lo)) as u32;
            out.push(Product {
                sku: format!("{prefix}-{:03}", i + 1),
                name: name.to_string(),
                category,
                price,
                cost,
                lead_time,
                weight: 0.4 + 1.6 * rng.f64() * if price > 100.0 { 0.6 } else { 1.0 },
                return_rate: 0.03 + 0.03 * rng.f64(),
            });
        }
    }
    out
}

pub(super) fn feedback_text(theme: &str, sentiment: &str, variant: usize) -> &'static str {
    match (theme, sentiment) {
        ("delivery speed", "negative") => [
            "Parcel is three days late and tracking has not moved.",
            "Still waiting for my order, the courier keeps rescheduling.",
            "Promised delivery date came and went.",
        ][variant],
        ("delivery speed", _) => [
            "Arrived the next day, brilliant.",
            "Delivery was quick and well packed.",
            "Came on the promised day.",
        ][variant],
        ("sizing", "negative") => [
            "The boots run a full size small.",
            "Had to return, sizing chart is off.",
            "Far too tight across the toes.",
        ][variant],
        ("sizing", _) => [
            "Fits true to size.",
            "Size guide was spot on.",
            "Good fit, ordered my usual size.",
        ][variant],
        ("product quality", "negative") => [
            "Seam came apart after two wears.",
            "Colour faded in the first wash.",
            "Zip broke within a week.",
        ][variant],
        ("product quality", _) => [
            "Lovely soft wool, really well made.",
            "Feels premium for the price.",
            "Great quality, will buy again.",
        ][variant],
        ("price", "negative") => [
            "Too expensive compared to last year.",
            "Shipping costs are steep.",
            "Discount code did not apply.",
        ][variant],
        ("price", _) => [
            "Great value in the sale.",
            "Fair price for the quality.",
            "The promotion was worth it.",
        ][variant],
        ("customer service", "negative") => [
            "No reply to my email after four days.",
            "Chat agent could not find my order.",
            "Refund is taking ages.",
        ][variant],
        ("customer service", _) => [
            "Support sorted my exchange quickly.",
            "Friendly and helpful on chat.",
            "Refund arrived in two days.",
        ][variant],
        (_, "negative") => [
            "Checkout kept failing on mobile.",
            "Search does not find anything.",
            "Site was very slow tonight.",
        ][variant],
        _ => [
            "Easy to find what I wanted.",
            "Checkout was smooth.",
            "Nice new website.",
        ][variant],
    }
}
