//! One order of the demo shop: its basket, customer and discount, when it ships and arrives,
//! which of its lines come back, and the rows all of that writes.

use super::generator::{Generator, plus, text};
use super::*;

/// When one order ships and arrives, had nothing stopped it.
struct Trip {
    carrier: &'static str,
    shipped_at: i64,
    delivered_at: i64,
    promised: NaiveDate,
}

impl Generator {
    /// One order; returns false when nothing was in stock to sell.
    pub(super) fn order(
        &mut self,
        d: NaiveDate,
        channel: usize,
        weights: &[f64],
        end_of_data: i64,
        low_cover: usize,
    ) -> Result<bool, RowError> {
        let lines = self.basket(weights, low_cover);
        if lines.is_empty() {
            return Ok(false);
        }
        self.order_seq += 1;
        let order_id = format!("SO-{:08}", self.order_seq);
        let placed_at = self.local_time(d);
        let (new_customer, customer) = self.customer(channel);
        let discount = self.discount(d, &lines);
        let cancelled = self.rng.chance(0.015);
        let trip = self.trip(d, placed_at);
        let shipped = !cancelled && trip.shipped_at < end_of_data;
        let delivered = shipped && trip.delivered_at < end_of_data;
        let returned_any = delivered && self.returns_of(&order_id, &lines, trip.delivered_at);
        let status = if cancelled {
            "cancelled"
        } else if returned_any {
            "returned"
        } else if delivered {
            "delivered"
        } else if shipped {
            "shipped"
        } else {
            "placed"
        };
        self.w.orders.queue(
            vec![
                text(&order_id),
                SqlValue::Int(placed_at),
                text(local_day(placed_at, self.tz).to_string()),
                text(CHANNELS[channel]),
                text(format!("C{customer:07}")),
                text(if new_customer { "new" } else { "returning" }),
                SqlValue::Float((discount * 100.0).round() / 100.0),
                text(status),
                SqlValue::Null,
                SqlValue::Null,
            ],
            0,
        )?;
        self.order_lines(d, &order_id, &lines, cancelled, low_cover)?;
        if !cancelled {
            *self.kept_per_day.entry(d).or_default() += 1.0;
            self.fulfilment_row(&order_id, &trip, (shipped, delivered))?;
        }
        Ok(true)
    }

    /// The SKUs and quantities of one basket: at most four lines, each SKU once, only what is
    /// in stock.
    fn basket(&mut self, weights: &[f64], low_cover: usize) -> Vec<(usize, i64)> {
        let n_lines = 1 + self.rng.weighted(&[0.55, 0.28, 0.12, 0.05]);
        let mut lines: Vec<(usize, i64)> = Vec::new();
        for _ in 0..n_lines {
            let i = self.rng.weighted(weights);
            if weights[i] <= 0.0 || lines.iter().any(|(j, _)| *j == i) {
                continue;
            }
            let qty = if self.rng.chance(0.85) { 1 } else { 2 };
            // The low-cover SKU's stock is derived from its sales afterwards, so it never runs dry here.
            if i != low_cover && self.on_hand[i] < qty {
                continue;
            }
            lines.push((i, qty));
        }
        lines
    }

    /// Whether the order's customer is new, and their number.
    fn customer(&mut self, channel: usize) -> (bool, u64) {
        let new_customer =
            self.customers == 0 || self.rng.chance(if channel == 2 { 0.78 } else { 0.58 });
        if new_customer {
            self.customers += 1;
            (true, self.customers)
        } else {
            (false, 1 + self.rng.below(self.customers as usize) as u64)
        }
    }

    /// The campaign discount on promoted lines, or now and then a 10% code on the order.
    fn discount(&mut self, d: NaiveDate, lines: &[(usize, i64)]) -> f64 {
        let promo: Vec<(usize, f64)> = self
            .active_campaigns(d)
            .flat_map(|c| c.skus.iter().map(move |&i| (i, c.discount)))
            .collect();
        let mut discount = 0.0;
        let mut gross = 0.0;
        for (i, qty) in lines {
            let value = self.products[*i].price * *qty as f64;
            gross += value;
            if let Some((_, rate)) = promo.iter().find(|(j, _)| j == i) {
                discount += value * rate;
            }
        }
        if discount == 0.0 && self.rng.chance(0.08) {
            discount = gross * 0.10;
        }
        discount
    }

    /// When the order would ship and arrive: the warehouse ships in about a day; the delayed
    /// carrier adds to both legs.
    fn trip(&mut self, d: NaiveDate, placed_at: i64) -> Trip {
        let delay_window = (self.o.end - d).num_days() < story::DELAY_DAYS as i64;
        let carrier = CARRIERS[self.rng.weighted(&[0.5, 0.33, 0.17])];
        let delayed = delay_window && carrier == story::DELAYED_CARRIER;
        let weekend = matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
        let mut ship_hours = self
            .rng
            .normal(if weekend { 26.0 } else { 19.0 }, 6.0)
            .clamp(2.0, 60.0);
        if delayed {
            ship_hours += self.rng.normal(22.0, 6.0).max(6.0);
        }
        let shipped_at = placed_at + (ship_hours * 3600.0) as i64;
        let mut transit_days = 1.0 + self.rng.weighted(&[0.55, 0.35, 0.10]) as f64;
        if delayed {
            transit_days += 2.0 + self.rng.below(2) as f64;
        }
        let delivered_at =
            shipped_at + (transit_days * 86_400.0 + self.rng.normal(0.0, 10_000.0)) as i64;
        Trip {
            carrier,
            shipped_at,
            delivered_at,
            promised: plus(d, 4),
        }
    }

    /// Draws which lines of a delivered order come back, and when, and keeps those that fall
    /// by the end for their day; returns whether any did.
    fn returns_of(&mut self, order_id: &str, lines: &[(usize, i64)], delivered_at: i64) -> bool {
        let delivery_day = local_day(delivered_at, self.tz);
        let mut returned_any = false;
        for (i, qty) in lines {
            let p = &self.products[*i];
            if !self.rng.chance(p.return_rate) {
                continue;
            }
            let day = plus(delivery_day, 2 + self.rng.below(12) as u64);
            if day > self.o.end {
                continue;
            }
            let reason = if p.sku == story::RETURNS_SKU {
                [
                    "too small",
                    "too small",
                    "too small",
                    "uncomfortable",
                    "not as described",
                ][self.rng.below(5)]
            } else {
                [
                    "changed mind",
                    "too small",
                    "too large",
                    "damaged",
                    "not as described",
                    "arrived late",
                ][self.rng.below(6)]
            };
            self.pending_returns.entry(day).or_default().push((
                order_id.to_string(),
                p.sku.clone(),
                *qty,
                reason,
            ));
            returned_any = true;
        }
        returned_any
    }

    /// The order's lines, and what they take from stock unless the order was cancelled.
    fn order_lines(
        &mut self,
        d: NaiveDate,
        order_id: &str,
        lines: &[(usize, i64)],
        cancelled: bool,
        low_cover: usize,
    ) -> Result<(), RowError> {
        for (n, (i, qty)) in lines.iter().enumerate() {
            self.w.lines.queue(
                vec![
                    text(order_id),
                    SqlValue::Int(n as i64 + 1),
                    text(&self.products[*i].sku),
                    SqlValue::Int(*qty),
                    SqlValue::Float(self.products[*i].price),
                ],
                0,
            )?;
            if !cancelled {
                if *i == low_cover {
                    *self.low_cover_sales.entry(d).or_default() += qty;
                } else {
                    self.on_hand[*i] -= qty;
                }
            }
        }
        Ok(())
    }

    /// The order's shipment, with only what has happened by the end of the data.
    fn fulfilment_row(
        &mut self,
        order_id: &str,
        trip: &Trip,
        (shipped, delivered): (bool, bool),
    ) -> Result<(), RowError> {
        let (ship_at, ship_day) = if shipped {
            (
                SqlValue::Int(trip.shipped_at),
                text(local_day(trip.shipped_at, self.tz).to_string()),
            )
        } else {
            (SqlValue::Null, SqlValue::Null)
        };
        let (del_at, del_day) = if delivered {
            (
                SqlValue::Int(trip.delivered_at),
                text(local_day(trip.delivered_at, self.tz).to_string()),
            )
        } else {
            (SqlValue::Null, SqlValue::Null)
        };
        self.w.fulfilment.queue(
            vec![
                text(order_id),
                text(trip.carrier),
                ship_at,
                ship_day,
                del_at,
                del_day,
                text(trip.promised.to_string()),
            ],
            0,
        )
    }
}
