//! Customer type from history: where a file gives none, an order is `new` when it is the
//! customer's first (not cancelled) order in the store, and `returning` otherwise. Guest
//! orders, with no customer, are neither: the rollup counts them apart.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use sqlx::{AnyConnection, AssertSqlSafe};

use super::values::{customer_id, text};
use crate::store::write::SqlValue;

/// An order is `returning` when the same customer has an order, not cancelled, placed
/// before it (or in the same second with a lower number).
const RETURNING: &str = "CASE WHEN EXISTS ( \
    SELECT 1 FROM orders e WHERE e.customer_id = orders.customer_id \
      AND e.status <> 'cancelled' \
      AND (e.placed_at, e.order_id) < (orders.placed_at, orders.order_id) \
  ) THEN 'returning' ELSE 'new' END";

/// Sets `derived_type` on the orders, of customers with an order on a day this import
/// changed, whose type the file left out. Only rows whose type changes are written, so the
/// rollup triggers mark only days whose new-customer count may differ.
///
/// The days this import changed are the days marked for a rollup rebuild: an earlier order
/// arriving late turns the customer's later orders to `returning`, and its day is marked.
pub(super) async fn derive_customer_types(conn: &mut AnyConnection) -> Result<u64> {
    // The type is worked out by the row it is written to, without a join back to the
    // table by key: the join read each order again, at random, and the derivation of a
    // million-line export took 1.8 s of SQLite's time against 0.95 s this way. The test is
    // in the WHERE as well as the SET, so an order whose type stands is not written. It
    // reads no column the UPDATE writes, so rows written before do not change it.
    let sql = format!(
        "UPDATE orders SET derived_type = {RETURNING} \
         WHERE customer_type IS NULL AND customer_id IN ( \
           SELECT c.customer_id FROM orders c \
           WHERE c.customer_id IS NOT NULL AND c.day IN (SELECT day FROM rollup_dirty)) \
         AND derived_type IS DISTINCT FROM {RETURNING}"
    );
    let started = std::time::Instant::now();
    let done = sqlx::query(AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
        .context("cannot derive customer types from order history")?;
    tracing::debug!(
        rewritten = done.rows_affected(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "customer types derived"
    );
    Ok(done.rows_affected())
}

/// Sets `derived_type` as [`derive_customer_types`] does, for these customers' orders only:
/// after a first load whose rows were written with [`Guesses`], when only the customers it
/// was unsure of can have an order whose type differs from the one written.
pub(super) async fn derive_types_of(conn: &mut AnyConnection, customers: &[String]) -> Result<u64> {
    let started = std::time::Instant::now();
    let mut rewritten = 0;
    for chunk in customers.chunks(500) {
        let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "UPDATE orders SET derived_type = {RETURNING} \
             WHERE customer_type IS NULL AND customer_id IN ({}) \
             AND derived_type IS DISTINCT FROM {RETURNING}",
            list.join(", ")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for c in chunk {
            q = q.bind(c.as_str());
        }
        let done = q
            .execute(&mut *conn)
            .await
            .context("cannot derive customer types from order history")?;
        rewritten += done.rows_affected();
    }
    tracing::debug!(
        customers = customers.len(),
        rewritten,
        ms = started.elapsed().as_secs_f64() * 1e3,
        "customer types derived for the customers a first load was unsure of"
    );
    Ok(rewritten)
}

/// The customer type guessed as a file is read, to be written with each new order, so that
/// [`derive_customer_types`] rewrites only the orders it got wrong (rewriting every order
/// of a million-line export took 2.8 s).
///
/// An order is guessed `returning` when an order of the same customer read before it, not
/// cancelled, was placed before it. Otherwise it is guessed `new`: right for a file in the
/// order its orders were placed, of customers new to the store. Past the first day of a
/// file read newest first (an order placed a day or more before the file's first), it is
/// guessed `returning` instead, which is wrong only for each customer's first orders, and
/// the customer is noted as unsure. A customer is noted too
/// where the file alone may not tell: an order not cancelled, placed no later than an
/// order guessed `new` (that guess may be wrong), or an order placed in the same second as
/// the customer's earliest (the order numbers, which would tell, are not kept).
///
/// A customer not noted has every guess right by the file's rows alone: a guess of
/// `returning` for one has its earlier order; a guess of `new` would be wrong only through
/// an order not cancelled placed before it, read before it (then the guess is `returning`,
/// or unsure in the same second) or after it (then the customer is noted).
#[derive(Debug, Default)]
pub(super) struct Guesses {
    /// Per customer (the hash its id is made of): the earliest order not cancelled, and
    /// the latest order guessed `new` (seconds since the epoch).
    seen: HashMap<u64, Seen>,
    unsure: HashSet<u64>,
    /// When the first order read was placed.
    first_at: Option<i64>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    /// `i64::MAX` until an order not cancelled is read.
    first: i64,
    /// `i64::MIN` until an order is guessed `new`.
    last_new: i64,
}

impl Guesses {
    /// The guess for an order of `customer` placed at `at`; a guest's is left empty, as
    /// [`derive_customer_types`] leaves it.
    pub(super) fn guess_type(
        &mut self,
        customer: Option<u64>,
        at: i64,
        cancelled: bool,
    ) -> SqlValue {
        // A file whose orders were placed a day or more before its first is read newest
        // first. Orders of one day come in any order, and the first day's tell nothing.
        let first_at = *self.first_at.get_or_insert(at);
        let newest_first = at.saturating_add(86_400) < first_at;
        let Some(c) = customer else {
            return SqlValue::Null;
        };
        let seen = self.seen.entry(c).or_insert(Seen {
            first: i64::MAX,
            last_new: i64::MIN,
        });
        if (!cancelled && at <= seen.last_new) || at == seen.first {
            self.unsure.insert(c);
        }
        let returning = seen.first < at;
        if !returning && newest_first {
            self.unsure.insert(c);
        } else if !returning {
            seen.last_new = seen.last_new.max(at);
        }
        if !cancelled {
            seen.first = seen.first.min(at);
        }
        text(if returning || newest_first {
            "returning"
        } else {
            "new"
        })
    }

    /// The customers a guess may be wrong for, by their ids in the store.
    pub(super) fn unsure(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.unsure.iter().map(|h| customer_id(*h)).collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600;
    const DAY: i64 = 24 * HOUR;

    /// An order for the tests: customer (None: a guest), placed at, number, cancelled.
    type Order = (Option<u64>, i64, String, bool);

    /// The type `derive_customer_types` gives, worked out the slow way: an order not
    /// cancelled of the same customer placed before it, or in the same second with a
    /// lower number.
    fn truth(orders: &[Order], o: &Order) -> Option<&'static str> {
        let (c, at, id, _) = o;
        let c = (*c)?;
        let earlier = orders
            .iter()
            .any(|(c2, at2, id2, cancelled)| *c2 == Some(c) && !cancelled && (at2, id2) < (at, id));
        Some(if earlier { "returning" } else { "new" })
    }

    /// Files in every order (as placed, reversed, shuffled), with orders of one customer in
    /// the same second and cancelled ones: every guess of a customer not noted as unsure is
    /// the derivation itself, and in a file in the order it was placed, without two orders
    /// of a customer in one second, no customer is unsure.
    #[test]
    fn a_customer_not_unsure_has_every_guess_right() {
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let (mut sure, mut checked) = (0, 0);
        for file in 0..60 {
            let mut orders: Vec<Order> = (0..200)
                .map(|i| {
                    let customer = (next(10) > 0).then(|| next(25));
                    // Three hours apart, or (a fifth of the files) the same few seconds.
                    let at = if file % 5 == 0 {
                        next(4) as i64
                    } else {
                        i * 3 * HOUR
                    };
                    (customer, at, format!("#{}", 1000 + i), next(8) == 0)
                })
                .collect();
            match file % 3 {
                0 => {}
                1 => orders.reverse(),
                _ => {
                    for i in (1..orders.len()).rev() {
                        orders.swap(i, next(i as u64 + 1) as usize);
                    }
                }
            }
            let mut g = Guesses::default();
            let guessed: Vec<SqlValue> = orders
                .iter()
                .map(|(c, at, _, cancelled)| g.guess_type(*c, *at, *cancelled))
                .collect();
            let unsure = g.unsure();
            let (mut wrong, mut new) = (0, 0);
            for (o, guess) in orders.iter().zip(&guessed) {
                let noted = o.0.is_some_and(|c| unsure.contains(&customer_id(c)));
                if !noted {
                    assert_eq!(guess.as_text(), truth(&orders, o), "file {file}: {o:?}");
                    checked += 1;
                }
                wrong += usize::from(guess.as_text() != truth(&orders, o));
                new += usize::from(truth(&orders, o) == Some("new"));
            }
            // Newest first, past its first day (nine orders), only orders whose type is
            // `new` (each customer's first, and cancelled ones before it) are guessed
            // wrong: those are rewritten, not the rest of the customers' history.
            if file % 3 == 1 && file % 5 != 0 {
                assert!(
                    wrong <= new + 9 && new < 40,
                    "file {file}: {wrong} wrong, {new} new"
                );
            }
            if file % 3 == 0 && file % 5 != 0 {
                assert!(unsure.is_empty(), "file {file}: {unsure:?}");
                sure += 1;
            }
        }
        assert_eq!(sure, 16);
        // Past the 3,200 orders of those 16 files, customers of the others are sure too.
        assert!(checked > 3200, "{checked}");
    }

    /// The cases each rule is there for: a file of orders (customer, placed at, cancelled),
    /// customer 7's guesses, and whether 7 is noted as unsure. Customer 1's orders set the
    /// file's direction.
    #[test]
    fn each_unsure_case_is_noted() {
        type Case = (
            &'static str,
            &'static [(u64, i64, bool)],
            &'static [&'static str],
            bool,
        );
        let ascending = &[(1, 1, false), (1, 2, false), (1, 3, false)];
        let cases: [Case; 6] = [
            (
                "in order",
                &[(7, 10, false), (7, 20, true), (7, 30, false)],
                &["new", "returning", "returning"],
                false,
            ),
            // A cancelled order in the same second as the earliest: only the order numbers,
            // not kept, tell which came first.
            (
                "same second",
                &[(7, 10, false), (7, 10, true)],
                &["new", "new"],
                true,
            ),
            // An order placed before one guessed `new`, read after it.
            (
                "late earlier",
                &[(7, 20, false), (1, 30, false), (7, 10, false)],
                &["new", "new"],
                true,
            ),
            // The same, cancelled: it changes no type.
            (
                "late cancelled",
                &[(7, 20, false), (1, 30, false), (7, 10, true)],
                &["new", "new"],
                false,
            ),
            // An order in the second of one guessed `new`, after a cancelled one.
            (
                "after cancelled",
                &[(7, 10, true), (7, 10, false)],
                &["new", "new"],
                true,
            ),
            // Newest first, past the first day: `returning` without an earlier order.
            (
                "newest first",
                &[
                    (1, 5 * DAY, false),
                    (1, 4 * DAY, false),
                    (7, 3 * DAY, false),
                    (7, 2 * DAY, false),
                ],
                &["returning", "returning"],
                true,
            ),
        ];
        for (name, orders, guesses, noted) in cases {
            let mut g = Guesses::default();
            let prefix = if name == "newest first" {
                &[][..]
            } else {
                &ascending[..]
            };
            let mut got = Vec::new();
            for (c, at, cancelled) in prefix.iter().chain(orders) {
                let guess = g.guess_type(Some(*c), *at, *cancelled);
                if *c == 7 {
                    got.push(guess.as_text().unwrap_or("").to_string());
                }
            }
            assert_eq!(got, guesses, "{name}");
            assert_eq!(g.unsure().contains(&customer_id(7)), noted, "{name}");
        }
        // A guest is never unsure: its type is never derived.
        let mut g = Guesses::default();
        assert_eq!(g.guess_type(None, 10, false), SqlValue::Null);
        assert_eq!(g.guess_type(None, 5, false), SqlValue::Null);
        assert!(g.unsure().is_empty());
    }
}
