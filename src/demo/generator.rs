//! The generator: the shop day by day (traffic, orders, returns due, stock, ad spend,
//! feedback; each order itself is `order`'s), then what depends on the whole history
//! (capacity, the low-cover SKU).

use super::*;

pub(super) struct Campaign {
    pub(super) name: String,
    pub(super) channel: &'static str,
    pub(super) start: NaiveDate,
    pub(super) end: NaiveDate,
    pub(super) skus: Vec<usize>,
    /// Multiplies the campaign channel's sessions.
    pub(super) traffic_lift: f64,
    /// Multiplies demand for the promoted SKUs.
    pub(super) demand_lift: f64,
    /// Discount on promoted lines.
    pub(super) discount: f64,
}

pub(super) struct Generator {
    pub(super) o: DemoOptions,
    pub(super) tz: Tz,
    pub(super) rng: Rng,
    pub(super) products: Vec<Product>,
    pub(super) campaigns: Vec<Campaign>,
    pub(super) start: NaiveDate,
    pub(super) w: Writers,
    pub(super) order_seq: u64,
    pub(super) customers: u64,
    pub(super) feedback_seq: u64,
    pub(super) on_hand: Vec<i64>,
    /// Restocks in flight per SKU: (arrival day, quantity).
    pub(super) incoming: Vec<Vec<(NaiveDate, i64)>>,
    /// Units of the low-cover SKU sold per day; its stock is written last, backwards.
    pub(super) low_cover_sales: BTreeMap<NaiveDate, i64>,
    /// Orders per day, for the capacity plan written at the end.
    pub(super) orders_per_day: BTreeMap<NaiveDate, u64>,
    /// Orders per day that were not cancelled: what the forecast reads.
    pub(super) kept_per_day: BTreeMap<NaiveDate, f64>,
    /// Returns that fall on a later day: (day, order, sku, qty, reason).
    pub(super) pending_returns: BTreeMap<NaiveDate, Vec<(String, String, i64, &'static str)>>,
}

pub(super) struct Writers {
    pub(super) products: BatchWriter,
    pub(super) campaigns: BatchWriter,
    pub(super) campaign_skus: BatchWriter,
    pub(super) orders: BatchWriter,
    pub(super) lines: BatchWriter,
    pub(super) fulfilment: BatchWriter,
    pub(super) returns: BatchWriter,
    pub(super) traffic: BatchWriter,
    pub(super) ad_spend: BatchWriter,
    pub(super) inventory: BatchWriter,
    pub(super) capacity: BatchWriter,
    pub(super) feedback: BatchWriter,
    pub(super) daily: BatchWriter,
}

impl Writers {
    pub(super) fn new() -> Writers {
        let w = |spec| BatchWriter::new(spec, false);
        Writers {
            products: w(&schema::PRODUCTS),
            campaigns: w(&schema::CAMPAIGNS),
            campaign_skus: w(&schema::CAMPAIGN_SKUS),
            orders: w(&schema::ORDERS),
            lines: w(&schema::ORDER_LINES),
            fulfilment: w(&schema::FULFILMENT),
            returns: w(&schema::RETURNS),
            traffic: w(&schema::TRAFFIC),
            ad_spend: w(&schema::AD_SPEND),
            inventory: w(&schema::INVENTORY),
            capacity: w(&schema::CAPACITY),
            feedback: w(&schema::FEEDBACK),
            daily: w(&schema::DAILY_VALUES),
        }
    }

    /// All writers in foreign-key order.
    pub(super) fn all(&mut self) -> [&mut BatchWriter; 13] {
        [
            &mut self.products,
            &mut self.campaigns,
            &mut self.campaign_skus,
            &mut self.orders,
            &mut self.lines,
            &mut self.fulfilment,
            &mut self.returns,
            &mut self.traffic,
            &mut self.ad_spend,
            &mut self.inventory,
            &mut self.capacity,
            &mut self.feedback,
            &mut self.daily,
        ]
    }

    /// The writers' tables, in the order of [`Writers::all`].
    pub(super) fn specs(&mut self) -> Vec<&'static TableSpec> {
        self.all().iter().map(|w| w.spec()).collect()
    }

    /// Sends every queued row to be written, parents first.
    pub(super) async fn send(&mut self, pipeline: &Pipeline) -> Result<(), RowError> {
        for (i, w) in self.all().into_iter().enumerate() {
            pipeline.send(i, w).await?;
        }
        Ok(())
    }
}

pub(super) fn text(s: impl Into<String>) -> SqlValue {
    SqlValue::Text(s.into())
}

pub(super) fn plus(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_add_days(Days::new(n)).expect("dates in range")
}
pub(super) fn minus(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(n)).expect("dates in range")
}

/// The position of a story's SKU in the catalog: the story names only SKUs of the
/// built-in catalog, so it is always there.
fn catalog_index(products: &[Product], sku: &str) -> usize {
    products
        .iter()
        .position(|x| x.sku == sku)
        .expect("a story SKU is in the catalog")
}

/// The catalog as the story needs it, and the position of the low-cover SKU: that one with a
/// long lead time, the returns SKU returned often and sold more.
fn story_products() -> (Vec<Product>, usize) {
    let mut products = catalog();
    let low_cover = catalog_index(&products, story::LOW_COVER_SKU);
    products[low_cover].lead_time = 35;
    let returns = catalog_index(&products, story::RETURNS_SKU);
    products[returns].return_rate = 0.24;
    products[returns].weight = 1.8;
    (products, low_cover)
}

/// The running promotion, the one coming up, and the earlier ones that began on or after
/// `start`.
fn story_campaigns(
    products: &[Product],
    low_cover: usize,
    start: NaiveDate,
    end: NaiveDate,
) -> Vec<Campaign> {
    let idx = |sku: &str| catalog_index(products, sku);
    let mut campaigns = vec![Campaign {
        name: story::PROMO_CAMPAIGN.into(),
        channel: "paid_social",
        start: minus(end, 4),
        end: plus(end, 5),
        skus: vec![idx("KNT-001"), idx("KNT-002"), low_cover, idx("OUT-005")],
        traffic_lift: 2.3,
        demand_lift: 3.0,
        discount: 0.15,
    }];
    campaigns.push(Campaign {
        name: story::UPCOMING_CAMPAIGN.into(),
        channel: story::UPCOMING_CHANNEL,
        start: plus(end, story::UPCOMING_STARTS_IN),
        end: plus(end, story::UPCOMING_STARTS_IN + 6),
        skus: story::UPCOMING_SKUS.iter().map(|k| idx(k)).collect(),
        traffic_lift: 1.8,
        demand_lift: 2.5,
        discount: 0.2,
    });
    campaigns.extend(earlier_campaigns(products, start, end));
    campaigns
}

/// Earlier campaigns, including last year's winter one, so comparisons have history: those
/// that began on or after `start`.
fn earlier_campaigns(products: &[Product], start: NaiveDate, end: NaiveDate) -> Vec<Campaign> {
    let mut campaigns = Vec::new();
    for (name, channel, days_before, len, skus) in [
        (
            "Summer Sale",
            "email",
            150u64,
            12u64,
            ["ACC-010", "HOM-002", "FTW-003"],
        ),
        (
            "Spring Refresh",
            "paid_search",
            230,
            10,
            ["OUT-004", "FTW-010", "HOM-003"],
        ),
        (
            "Winter Warmers 2025",
            "paid_social",
            368,
            10,
            ["KNT-001", "KNT-005", "OUT-005"],
        ),
    ] {
        let s = minus(end, days_before);
        if s >= start {
            campaigns.push(Campaign {
                name: name.into(),
                channel,
                start: s,
                end: plus(s, len - 1),
                skus: skus.iter().map(|k| catalog_index(products, k)).collect(),
                traffic_lift: 1.8,
                demand_lift: 2.5,
                discount: 0.2,
            });
        }
    }
    campaigns
}

impl Generator {
    pub(super) fn new(o: &DemoOptions, tz: Tz) -> Generator {
        let (products, low_cover) = story_products();
        let start = minus(o.end, u64::from(o.days) - 1);
        let campaigns = story_campaigns(&products, low_cover, start, o.end);
        let n = products.len();
        Generator {
            o: *o,
            tz,
            rng: Rng(o.seed ^ 0xDA3E_9057),
            products,
            campaigns,
            start,
            w: Writers::new(),
            order_seq: 0,
            customers: 0,
            feedback_seq: 0,
            on_hand: vec![0; n],
            incoming: vec![Vec::new(); n],
            low_cover_sales: BTreeMap::new(),
            orders_per_day: BTreeMap::new(),
            kept_per_day: BTreeMap::new(),
            pending_returns: BTreeMap::new(),
        }
    }

    /// Expected sessions on `d` before campaigns and noise.
    pub(super) fn base_sessions(&self, d: NaiveDate) -> f64 {
        let weekday = match d.weekday() {
            Weekday::Mon => 0.97,
            Weekday::Tue => 0.93,
            Weekday::Wed => 0.95,
            Weekday::Thu => 1.0,
            Weekday::Fri => 1.04,
            Weekday::Sat => 1.12,
            Weekday::Sun => 1.10,
        };
        // Peaks in mid-December, lowest in mid-June.
        let doy = f64::from(d.ordinal());
        let season = 1.0 + 0.22 * (2.0 * PI * (doy - 350.0) / 365.25).cos();
        // 18% growth a year.
        let years_back = (self.o.end - d).num_days() as f64 / 365.25;
        let trend = 1.18f64.powf(-years_back);
        4200.0 * self.o.scale * weekday * season * trend
    }

    pub(super) fn active_campaigns(&self, d: NaiveDate) -> impl Iterator<Item = &Campaign> {
        self.campaigns
            .iter()
            .filter(move |c| c.start <= d && d <= c.end)
    }

    pub(super) fn demand_weights(&self, d: NaiveDate) -> Vec<f64> {
        let mut w: Vec<f64> = self.products.iter().map(|p| p.weight).collect();
        for c in self.active_campaigns(d) {
            for &i in &c.skus {
                w[i] *= c.demand_lift;
            }
        }
        for (i, stock) in self.on_hand.iter().enumerate() {
            if *stock <= 0 {
                w[i] = 0.0;
            }
        }
        w
    }

    pub(super) fn local_time(&mut self, d: NaiveDate) -> i64 {
        // Evening-heavy shopping: pick an hour by weight, then a minute.
        const HOURS: [f64; 24] = [
            0.6, 0.3, 0.2, 0.15, 0.15, 0.3, 0.8, 1.5, 2.2, 2.6, 2.8, 3.0, 3.3, 3.1, 2.9, 2.9, 3.0,
            3.3, 3.9, 4.6, 5.0, 4.7, 3.2, 1.6,
        ];
        let h = self.rng.weighted(&HOURS) as u32;
        let m = self.rng.below(60) as u32;
        let s = self.rng.below(60) as u32;
        let t = NaiveTime::from_hms_opt(h, m, s).expect("valid time");
        let naive = d.and_time(t);
        local_epoch(self.tz, naive)
    }

    pub(super) fn end_of_data(&self) -> i64 {
        // The end date's midnight at its close: nothing after it has happened yet.
        local_epoch(
            self.tz,
            plus(self.o.end, 1).and_hms_opt(0, 0, 0).expect("midnight"),
        )
    }

    /// Makes the shop day by day and sends each day's rows to `pipeline`.
    pub(super) async fn write(
        &mut self,
        pipeline: &Pipeline,
        progress: &Progress,
    ) -> Result<(), RowError> {
        for p in &self.products {
            self.w.products.queue(
                vec![
                    text(&p.sku),
                    text(&p.name),
                    text(p.category),
                    SqlValue::Float(p.price),
                    SqlValue::Float(p.cost),
                    SqlValue::Int(i64::from(p.lead_time)),
                ],
                0,
            )?;
        }
        for c in &self.campaigns {
            self.w.campaigns.queue(
                vec![
                    text(&c.name),
                    text(c.channel),
                    text(c.start.to_string()),
                    text(c.end.to_string()),
                    // The demo's campaigns state no lift nor discount: the past says.
                    SqlValue::Null,
                    SqlValue::Null,
                ],
                0,
            )?;
            for &i in &c.skus {
                self.w
                    .campaign_skus
                    .queue(vec![text(&c.name), text(&self.products[i].sku)], 0)?;
            }
        }
        // Opening stock: about 60 days of typical demand.
        let total_weight: f64 = self.products.iter().map(|p| p.weight).sum();
        let daily_units = self.base_sessions(self.start) * 0.029 * 1.6;
        for (i, p) in self.products.iter().enumerate() {
            self.on_hand[i] = (daily_units * p.weight / total_weight * 60.0).ceil() as i64 + 20;
        }
        let end_of_data = self.end_of_data();
        let mut d = self.start;
        while d <= self.o.end {
            self.day(d, end_of_data)?;
            self.w.send(pipeline).await?;
            progress.set((d - self.start).num_days().unsigned_abs() + 1);
            d = plus(d, 1);
        }
        self.finish()?;
        self.w.send(pipeline).await
    }

    /// One day of the shop. The order of the random draws is the shop: a change that draws in
    /// another order makes another shop, and the storylines' tests say whether it still tells them.
    pub(super) fn day(&mut self, d: NaiveDate, end_of_data: i64) -> Result<(), RowError> {
        let days_to_end = (self.o.end - d).num_days() as u64;
        let low_cover = catalog_index(&self.products, story::LOW_COVER_SKU);
        let stockout = catalog_index(&self.products, story::STOCKOUT_SKU);
        self.stock_up_for_campaigns(d, low_cover);
        self.receive_restocks(d);
        let (sessions, conversion) = self.sessions(d);
        let weights = self.demand_weights(d);
        let mut orders_today = 0u64;
        for c in 0..CHANNELS.len() {
            let n = self.rng.poisson(sessions[c] as f64 * conversion[c]);
            for _ in 0..n {
                if self.order(d, c, &weights, end_of_data, low_cover)? {
                    orders_today += 1;
                }
            }
            self.traffic_row(d, c, sessions[c], n)?;
        }
        self.orders_per_day.insert(d, orders_today);
        self.ad_spend(d, &sessions)?;
        self.returns_due(d)?;
        self.restock_and_count(d, &weights, days_to_end, (low_cover, stockout))?;
        self.feedback(d, days_to_end)?;
        Ok(())
    }

    /// Merchandising stocks up two days before a campaign: enough for the campaign's lifted
    /// demand plus a lead time of normal sales. The low-cover SKU's delivery is the one that
    /// did not come.
    fn stock_up_for_campaigns(&mut self, d: NaiveDate, low_cover: usize) {
        let units_per_day_now = self.base_sessions(d) * 0.03 * 1.6;
        let total_weight_all: f64 = self.products.iter().map(|p| p.weight).sum();
        let stocking: Vec<(usize, f64, i64)> = self
            .campaigns
            .iter()
            .filter(|c| minus(c.start, 2) == d)
            .flat_map(|c| {
                c.skus
                    .iter()
                    .map(move |&i| (i, c.demand_lift, (c.end - c.start).num_days() + 1))
            })
            .collect();
        for (i, lift, days) in stocking {
            if i == low_cover {
                continue;
            }
            let demand = units_per_day_now * self.products[i].weight / total_weight_all;
            self.on_hand[i] += (demand
                * (lift * days as f64 * 1.5 + f64::from(self.products[i].lead_time)))
            .ceil() as i64;
        }
    }

    fn receive_restocks(&mut self, d: NaiveDate) {
        for i in 0..self.products.len() {
            let arrived: i64 = self.incoming[i]
                .iter()
                .filter(|(day, _)| *day == d)
                .map(|(_, q)| q)
                .sum();
            self.incoming[i].retain(|(day, _)| *day != d);
            self.on_hand[i] += arrived;
        }
    }

    /// Each channel's sessions and conversion rate for the day.
    fn sessions(&mut self, d: NaiveDate) -> ([u64; 5], [f64; 5]) {
        let base = self.base_sessions(d);
        let noise = self.rng.normal(1.0, 0.04);
        let mut sessions = [0u64; 5];
        let mut conversion = CHANNEL_CONVERSION;
        for (c, ch) in CHANNELS.iter().enumerate() {
            let mut s = base * CHANNEL_SHARE[c] * noise * self.rng.normal(1.0, 0.05);
            for camp in self.active_campaigns(d) {
                // The campaign's own channel spikes; a promotion also lifts email and direct.
                let day_in = (d - camp.start).num_days() as f64;
                if camp.channel == *ch {
                    s *= camp.traffic_lift + 0.08 * day_in;
                    conversion[c] *= 1.15;
                } else if *ch == "email" || *ch == "direct" {
                    s *= 1.25;
                }
            }
            sessions[c] = s.max(0.0).round() as u64;
        }
        (sessions, conversion)
    }

    /// A channel's funnel for the day, around the `orders` it placed.
    fn traffic_row(
        &mut self,
        d: NaiveDate,
        c: usize,
        sessions: u64,
        orders: u64,
    ) -> Result<(), RowError> {
        let atc = (sessions as f64 * self.rng.normal(0.092, 0.004)).round() as u64;
        let carts = atc.max(orders + orders / 3);
        let checkouts = ((carts as f64) * self.rng.normal(0.56, 0.02)).round() as u64;
        self.w.traffic.queue(
            vec![
                text(d.to_string()),
                text(CHANNELS[c]),
                SqlValue::Int(sessions as i64),
                SqlValue::Int((sessions as f64 * self.rng.normal(3.3, 0.1)).round() as i64),
                SqlValue::Int(carts as i64),
                SqlValue::Int(checkouts.max(orders) as i64),
            ],
            0,
        )
    }

    /// Ad spend: always-on search and social, plus the campaign budgets.
    fn ad_spend(&mut self, d: NaiveDate, sessions: &[u64; 5]) -> Result<(), RowError> {
        for (c, ch, cpc, campaign) in [
            (1usize, "paid_search", 1.45, "Always-on search"),
            (2, "paid_social", 1.05, "Prospecting"),
        ] {
            let mut paid = sessions[c] as f64;
            let campaign_name = self
                .active_campaigns(d)
                .find(|x| x.channel == ch)
                .map(|c| c.name.clone());
            if let Some(name) = campaign_name {
                let share = 0.55;
                self.spend_row(d, ch, &name, paid * share, cpc * 1.2)?;
                paid *= 1.0 - share;
            }
            self.spend_row(d, ch, campaign, paid, cpc)?;
        }
        Ok(())
    }

    fn returns_due(&mut self, d: NaiveDate) -> Result<(), RowError> {
        let Some(due) = self.pending_returns.remove(&d) else {
            return Ok(());
        };
        for (order, sku, qty, reason) in due {
            self.w.returns.queue(
                vec![
                    text(order),
                    text(sku),
                    text(d.to_string()),
                    SqlValue::Int(qty),
                    text(reason),
                ],
                0,
            )?;
        }
        Ok(())
    }

    /// Stock: reorder when cover falls under lead time plus two weeks, then the day's count.
    /// The stock-out SKU's supplier fails it 39 days before the end.
    fn restock_and_count(
        &mut self,
        d: NaiveDate,
        weights: &[f64],
        days_to_end: u64,
        (low_cover, stockout): (usize, usize),
    ) -> Result<(), RowError> {
        let total_weight: f64 = weights.iter().sum::<f64>().max(1.0);
        let units_per_day = self.base_sessions(d) * 0.03 * 1.6;
        for i in 0..self.products.len() {
            let demand = units_per_day * self.products[i].weight / total_weight;
            let lead = self.products[i].lead_time;
            let pipeline: i64 = self.incoming[i].iter().map(|(_, q)| q).sum();
            let late_supplier = i == stockout && days_to_end < 40;
            if !late_supplier
                && ((self.on_hand[i] + pipeline) as f64) < demand * f64::from(lead + 14)
            {
                let qty = (demand * 45.0).ceil() as i64 + 10;
                self.incoming[i].push((plus(d, u64::from(lead)), qty));
            }
            if i == stockout && days_to_end == 39 {
                // The supplier confirmed an order that will not arrive in time.
                self.incoming[i].clear();
                self.incoming[i].push((plus(self.o.end, 12), 180));
                self.on_hand[i] = self.on_hand[i].min((demand * 30.0) as i64);
            }
            if i == low_cover {
                continue;
            }
            let on_order: i64 = self.incoming[i].iter().map(|(_, q)| q).sum();
            self.w.inventory.queue(
                vec![
                    text(d.to_string()),
                    text(&self.products[i].sku),
                    SqlValue::Int(self.on_hand[i].max(0)),
                    SqlValue::Int(on_order),
                ],
                0,
            )?;
        }
        Ok(())
    }

    pub(super) fn spend_row(
        &mut self,
        d: NaiveDate,
        ch: &str,
        campaign: &str,
        clicks: f64,
        cpc: f64,
    ) -> Result<(), RowError> {
        let clicks = clicks.round().max(0.0);
        let spend = (clicks * cpc * self.rng.normal(1.0, 0.05) * 100.0).round() / 100.0;
        self.w.ad_spend.queue(
            vec![
                text(d.to_string()),
                text(ch),
                text(campaign),
                SqlValue::Float(spend.max(0.0)),
                SqlValue::Int((clicks * self.rng.normal(38.0, 2.0)).round() as i64),
                SqlValue::Int(clicks as i64),
            ],
            0,
        )
    }

    pub(super) fn feedback(&mut self, d: NaiveDate, days_to_end: u64) -> Result<(), RowError> {
        let delay = days_to_end < story::DELAY_DAYS;
        let n = 5 + self.rng.below(6) + if delay { 6 } else { 0 };
        // (theme, weight, weight during the delay, share negative)
        let themes: [(&str, f64, f64, f64); 6] = [
            ("delivery speed", 1.0, 5.0, 0.35),
            ("sizing", 1.2, 1.2, 0.6),
            ("product quality", 1.5, 1.0, 0.2),
            ("price", 0.8, 0.6, 0.4),
            ("customer service", 0.9, 1.4, 0.3),
            ("website", 0.6, 0.4, 0.3),
        ];
        let weights: Vec<f64> = themes
            .iter()
            .map(|t| if delay { t.2 } else { t.1 })
            .collect();
        for _ in 0..n {
            let t = self.rng.weighted(&weights);
            let (theme, _, _, neg) = themes[t];
            let neg = if delay && theme == "delivery speed" {
                0.85
            } else {
                neg
            };
            let sentiment = if self.rng.chance(neg) {
                "negative"
            } else if self.rng.chance(0.3) {
                "neutral"
            } else {
                "positive"
            };
            let line = feedback_text(theme, sentiment, self.rng.below(3));
            self.feedback_seq += 1;
            let channel = ["survey", "review", "email", "chat"][self.rng.below(4)];
            self.w.feedback.queue(
                vec![
                    text(format!("FB-{:07}", self.feedback_seq)),
                    text(d.to_string()),
                    text(channel),
                    text(theme),
                    text(sentiment),
                    text(line),
                ],
                0,
            )?;
        }
        let csat = (if delay {
            self.rng.normal(0.80, 0.012)
        } else {
            self.rng.normal(0.885, 0.012)
        })
        .clamp(0.5, 0.99);
        let nps = (if delay {
            self.rng.normal(31.0, 3.0)
        } else {
            self.rng.normal(44.0, 3.0)
        })
        .round();
        for (metric, v) in [("csat", (csat * 1000.0).round() / 1000.0), ("nps", nps)] {
            self.w.daily.queue(
                vec![text(metric), text(d.to_string()), SqlValue::Float(v)],
                0,
            )?;
        }
        Ok(())
    }

    /// Rows that depend on the whole history: capacity and the low-cover SKU's stock.
    pub(super) fn finish(&mut self) -> Result<(), RowError> {
        // The warehouse is planned so that the busiest recent day runs at about 96%.
        let recent_peak = self
            .orders_per_day
            .range(minus(self.o.end, 6)..=self.o.end)
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(1);
        let capacity = ((recent_peak as f64) / 0.96).ceil().max(1.0) as i64;
        let days: Vec<NaiveDate> = self.orders_per_day.keys().copied().collect();
        for d in &days {
            let weeks_back = (self.o.end - *d).num_days() / 91;
            // Capacity was raised each quarter as the shop grew.
            let cap = (capacity as f64 * 0.93f64.powi(weeks_back as i32)).round() as i64;
            self.w
                .capacity
                .queue(vec![text(d.to_string()), SqlValue::Int(cap)], 0)?;
        }
        if let Some(planned) = self.capacity_ahead() {
            for k in 1..=story::PLANNED_DAYS {
                self.w.capacity.queue(
                    vec![
                        text(plus(self.o.end, k).to_string()),
                        SqlValue::Int(planned),
                    ],
                    0,
                )?;
            }
        }
        // Low-cover SKU: on the end date about 4 days of cover remain and a restock is on
        // order; walk backwards adding sales back, with a delivery whenever stock would pile up.
        let i = self
            .products
            .iter()
            .position(|p| p.sku == story::LOW_COVER_SKU)
            .expect("exists");
        let recent: i64 = self
            .low_cover_sales
            .range(minus(self.o.end, 13)..=self.o.end)
            .map(|(_, n)| *n)
            .sum();
        let mean = (recent as f64 / 14.0).max(1.0);
        let mut stock = (mean * 4.0).round() as i64;
        let on_order = (mean * 60.0).round() as i64;
        let mut d = self.o.end;
        let sku = self.products[i].sku.clone();
        let mut rows = HashMap::new();
        loop {
            rows.insert(d, stock);
            if d == self.start {
                break;
            }
            let sold = self.low_cover_sales.get(&d).copied().unwrap_or(0);
            stock += sold;
            if stock > 260 && (self.o.end - d).num_days() > 40 {
                stock -= 200;
            }
            d = minus(d, 1);
        }
        let mut ds: Vec<_> = rows.into_iter().collect();
        ds.sort();
        for (d, s) in ds {
            let pending = if (self.o.end - d).num_days() < 30 {
                on_order
            } else {
                0
            };
            self.w.inventory.queue(
                vec![
                    text(d.to_string()),
                    text(&sku),
                    SqlValue::Int(s),
                    SqlValue::Int(pending),
                ],
                0,
            )?;
        }
        Ok(())
    }
}

impl Generator {
    /// The capacity planned for the days ahead: the warehouse staffs for the busiest day
    /// it expects, except the upcoming campaign's busiest day. So, at the top of the
    /// forecast's range, exactly that day runs above 90%; where the two are too close for
    /// a whole number between them, the campaign's day is above 90% and so may the other be.
    pub(super) fn capacity_ahead(&self) -> Option<i64> {
        use crate::metrics::forecast::{self, CampaignSpan, History};
        let threshold = crate::metrics::alert::AlertSettings::default().capacity_threshold;
        let spans = self
            .campaigns
            .iter()
            .map(|c| CampaignSpan {
                name: c.name.clone(),
                channel: c.channel.to_string(),
                start: c.start,
                end: c.end,
                stated: None,
            })
            .collect();
        let h = History::new(
            self.kept_per_day.clone(),
            spans,
            crate::metrics::calendar::Calendar::default(),
        );
        let ahead = forecast::forecast(&h, self.o.end, 7);
        let story = ahead
            .iter()
            .filter(|f| {
                f.campaigns
                    .iter()
                    .any(|c| c.name == story::UPCOMING_CAMPAIGN)
            })
            .max_by(|a, b| a.high.total_cmp(&b.high))?;
        let others = ahead
            .iter()
            .filter(|f| f.day != story.day)
            .map(|f| f.high)
            .fold(0.0, f64::max);
        let between = ((others + story.high) / 2.0 / threshold).round();
        let planned = if threshold * between >= others && story.high > threshold * between {
            between
        } else {
            ((story.high - 0.01) / threshold).floor()
        };
        Some(planned.max(1.0) as i64)
    }
}

/// Epoch seconds of a local time; a time skipped by a DST change moves an hour later.
pub(super) fn local_epoch(tz: Tz, naive: chrono::NaiveDateTime) -> i64 {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(x) | LocalResult::Ambiguous(x, _) => x.timestamp(),
        LocalResult::None => local_epoch(tz, naive + chrono::Duration::hours(1)),
    }
}
