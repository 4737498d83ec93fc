//! The data tables as every part sees them: columns, natural keys and references, and the
//! one registry ([`TABLES`]) that says which tables are dated, raw, rolled up or importable.
//! Writing rows is `store::write`'s; this file runs no SQL.

/// A column's type as the loaders parse it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColType {
    Text,
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// A whole number, at least `min`.
    Int {
        min: i64,
    },
    /// A decimal number, at least `min`.
    Float {
        min: f64,
    },
    /// A share from 0 to under 1: 0.2 is 20% (a planned discount).
    Share,
    /// A local calendar day, `YYYY-MM-DD`.
    Day,
    /// A moment: RFC 3339 with an offset, or a local `YYYY-MM-DD HH:MM[:SS]` in the store zone.
    /// Stored as UTC epoch seconds.
    Timestamp,
    /// Not in the file: the local day of the named timestamp column.
    DayOf(&'static str),
    /// A line's place in its order, from 1. A file may give it; where it does not, a row
    /// takes the next place among the file's rows of the same order.
    Position,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColType,
    /// A file must have the column and every row a value.
    pub required: bool,
    /// Written only when the row is new, never over an existing row's value: for a value a
    /// loader guesses ahead of a later step that works it out (see [`on_insert`]).
    pub on_insert: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    pub name: &'static str,
    pub columns: &'static [Column],
    /// The natural key: re-loading a row with the same key replaces it.
    pub key: &'static [&'static str],
    /// (column, referenced table, referenced column).
    pub refs: &'static [(&'static str, &'static str, &'static str)],
}

pub const fn col(name: &'static str, ty: ColType) -> Column {
    Column {
        name,
        ty,
        required: true,
        on_insert: false,
    }
}
pub const fn opt(name: &'static str, ty: ColType) -> Column {
    Column {
        name,
        ty,
        required: false,
        on_insert: false,
    }
}
/// An optional column an upsert writes only into a new row. A Shopify order's
/// `derived_type` is guessed from the file alone; `ingest::history` then works out the true
/// one from the store, and rewrites only rows where the guess was wrong. An existing row
/// keeps what that step gave it, so a re-import changes nothing the guess got wrong.
pub const fn on_insert(name: &'static str, ty: ColType) -> Column {
    Column {
        name,
        ty,
        required: false,
        on_insert: true,
    }
}
/// The largest magnitude a number in an import may have: a trillion. Past it a figure is a
/// mistake, and sums of such figures could overflow to infinity.
pub const MAX_NUMBER: f64 = 1e12;

const MONEY: ColType = ColType::Float { min: 0.0 };
const COUNT: ColType = ColType::Int { min: 0 };
const POSITIVE: ColType = ColType::Int { min: 1 };
/// A quantity that may be negative: exports write cancelled and refunded lines that way.
const QUANTITY: ColType = ColType::Int {
    min: -(MAX_NUMBER as i64),
};

pub const ORDER_STATUSES: &[&str] = &["placed", "shipped", "delivered", "cancelled", "returned"];
pub const CUSTOMER_TYPES: &[&str] = &["new", "returning"];
pub const SENTIMENTS: &[&str] = &["positive", "neutral", "negative"];

pub const PRODUCTS: TableSpec = TableSpec {
    name: "products",
    columns: &[
        col("sku", ColType::Text),
        col("name", ColType::Text),
        opt("category", ColType::Text),
        col("unit_price", MONEY),
        opt("unit_cost", MONEY),
        opt("lead_time_days", COUNT),
    ],
    key: &["sku"],
    refs: &[],
};
/// The columns of `orders`, then any a loader adds for itself (Shopify's guessed customer
/// type): one list for the table and for the preset that writes it with more.
macro_rules! order_columns {
    ($($extra:expr),* $(,)?) => {
        [
            $crate::schema::col("order_id", $crate::schema::ColType::Text),
            $crate::schema::col("placed_at", $crate::schema::ColType::Timestamp),
            $crate::schema::col("day", $crate::schema::ColType::DayOf("placed_at")),
            $crate::schema::col("channel", $crate::schema::ColType::Text),
            // A guest checkout has no customer.
            $crate::schema::opt("customer_id", $crate::schema::ColType::Text),
            // Where a file gives none, the importer derives it from the customer's history.
            $crate::schema::opt(
                "customer_type",
                $crate::schema::ColType::Enum($crate::schema::CUSTOMER_TYPES),
            ),
            $crate::schema::opt("discount", $crate::schema::ColType::Float { min: 0.0 }),
            $crate::schema::col(
                "status",
                $crate::schema::ColType::Enum($crate::schema::ORDER_STATUSES),
            ),
            $crate::schema::opt("country", $crate::schema::ColType::Text),
            $crate::schema::opt("region", $crate::schema::ColType::Text),
            $($extra),*
        ]
    };
}
pub(crate) use order_columns;

pub const ORDERS: TableSpec = TableSpec {
    name: "orders",
    columns: &order_columns!(),
    key: &["order_id"],
    refs: &[],
};
pub const ORDER_LINES: TableSpec = TableSpec {
    name: "order_lines",
    columns: &[
        col("order_id", ColType::Text),
        opt("line_no", ColType::Position),
        col("sku", ColType::Text),
        col("quantity", QUANTITY),
        col("unit_price", MONEY),
    ],
    key: &["order_id", "line_no"],
    refs: &[
        ("order_id", "orders", "order_id"),
        ("sku", "products", "sku"),
    ],
};
pub const TRAFFIC: TableSpec = TableSpec {
    name: "traffic",
    columns: &[
        col("day", ColType::Day),
        col("channel", ColType::Text),
        col("sessions", COUNT),
        opt("product_views", COUNT),
        opt("add_to_carts", COUNT),
        opt("checkouts", COUNT),
    ],
    key: &["day", "channel"],
    refs: &[],
};
pub const AD_SPEND: TableSpec = TableSpec {
    name: "ad_spend",
    columns: &[
        col("day", ColType::Day),
        col("channel", ColType::Text),
        col("campaign", ColType::Text),
        col("spend", MONEY),
        col("impressions", COUNT),
        col("clicks", COUNT),
    ],
    key: &["day", "channel", "campaign"],
    refs: &[],
};
pub const INVENTORY: TableSpec = TableSpec {
    name: "inventory",
    columns: &[
        col("day", ColType::Day),
        col("sku", ColType::Text),
        col("on_hand", COUNT),
        opt("on_order", COUNT),
    ],
    key: &["day", "sku"],
    refs: &[("sku", "products", "sku")],
};
/// The campaign calendar. Its file has a `skus` column (SKUs separated by `;`), which the
/// importer writes to [`CAMPAIGN_SKUS`].
pub const CAMPAIGNS: TableSpec = TableSpec {
    name: "campaigns",
    columns: &[
        col("campaign", ColType::Text),
        col("channel", ColType::Text),
        col("start_day", ColType::Day),
        col("end_day", ColType::Day),
        // What marketing expects: 0.3 for 30% more orders; without it the channel's past
        // campaigns say. Above -1: a campaign cannot take away every order.
        opt("expected_lift", ColType::Float { min: -0.99 }),
        // The planned discount, 0.2 for 20% off.
        opt("discount", ColType::Share),
    ],
    key: &["campaign"],
    refs: &[],
};
pub const CAMPAIGN_SKUS: TableSpec = TableSpec {
    name: "campaign_skus",
    columns: &[col("campaign", ColType::Text), col("sku", ColType::Text)],
    key: &["campaign", "sku"],
    refs: &[
        ("campaign", "campaigns", "campaign"),
        ("sku", "products", "sku"),
    ],
};
pub const FULFILMENT: TableSpec = TableSpec {
    name: "fulfilment",
    columns: &[
        col("order_id", ColType::Text),
        opt("carrier", ColType::Text),
        opt("shipped_at", ColType::Timestamp),
        opt("ship_day", ColType::DayOf("shipped_at")),
        opt("delivered_at", ColType::Timestamp),
        opt("delivery_day", ColType::DayOf("delivered_at")),
        opt("promised_day", ColType::Day),
    ],
    key: &["order_id"],
    refs: &[("order_id", "orders", "order_id")],
};
pub const RETURNS: TableSpec = TableSpec {
    name: "returns",
    columns: &[
        col("order_id", ColType::Text),
        col("sku", ColType::Text),
        col("day", ColType::Day),
        col("quantity", POSITIVE),
        col("reason", ColType::Text),
    ],
    key: &["order_id", "sku"],
    refs: &[
        ("order_id", "orders", "order_id"),
        ("sku", "products", "sku"),
    ],
};
/// Money given back to a customer, on the day it was given back. Its order need not be in
/// the store (an export of refunds holds refunds of older orders): no reference (0012).
pub const REFUNDS: TableSpec = TableSpec {
    name: "refunds",
    columns: &[
        col("order_id", ColType::Text),
        col("refund_id", ColType::Text),
        col("day", ColType::Day),
        col("amount", MONEY),
        opt("units", COUNT),
    ],
    key: &["order_id", "refund_id"],
    refs: &[],
};
pub const CAPACITY: TableSpec = TableSpec {
    name: "capacity",
    columns: &[col("day", ColType::Day), col("orders", COUNT)],
    key: &["day"],
    refs: &[],
};
pub const FEEDBACK: TableSpec = TableSpec {
    name: "feedback",
    columns: &[
        col("feedback_id", ColType::Text),
        col("day", ColType::Day),
        col("channel", ColType::Text),
        col("theme", ColType::Text),
        col("sentiment", ColType::Enum(SENTIMENTS)),
        col("text", ColType::Text),
    ],
    key: &["feedback_id"],
    refs: &[],
};
pub const DAILY_VALUES: TableSpec = TableSpec {
    name: "daily_values",
    columns: &[
        col("metric", ColType::Text),
        col("day", ColType::Day),
        col("value", ColType::Float { min: -MAX_NUMBER }),
    ],
    key: &["metric", "day"],
    refs: &[],
};

/// What the rest of the house needs to know of a data table besides its columns.
#[derive(Debug, Clone, Copy)]
pub struct TableInfo {
    pub spec: &'static TableSpec,
    /// The day columns that date its rows, the one that says how fresh it is first (a
    /// shipment is dated by the day it left); none for a table without days.
    pub days: &'static [&'static str],
    /// Its rows grow with the orders: no built-in metric reads it directly.
    pub raw: bool,
    /// The daily rollups (src/store/rollup.rs rebuilds them) that sum its rows: metrics read
    /// these instead of the tables that grow with the orders.
    pub rollups: &'static [&'static str],
    /// `dawnpost import` takes a file of it, by its name.
    pub importable: bool,
}

const fn table(spec: &'static TableSpec) -> TableInfo {
    TableInfo {
        spec,
        days: &[],
        raw: false,
        rollups: &[],
        importable: true,
    }
}
const fn dated(spec: &'static TableSpec) -> TableInfo {
    TableInfo {
        days: &["day"],
        ..table(spec)
    }
}

/// Every data table, in an order that satisfies foreign keys when filling: the one list of
/// tables, which every other is drawn from.
pub const TABLES: [TableInfo; 14] = [
    table(&PRODUCTS),
    TableInfo {
        raw: true,
        rollups: &["order_daily", "sales_daily", "channel_daily"],
        ..dated(&ORDERS)
    },
    TableInfo {
        raw: true,
        ..table(&ORDER_LINES)
    },
    dated(&TRAFFIC),
    dated(&AD_SPEND),
    dated(&INVENTORY),
    table(&CAMPAIGNS),
    // Written with its campaigns, from their file's `skus` column.
    TableInfo {
        importable: false,
        ..table(&CAMPAIGN_SKUS)
    },
    TableInfo {
        days: &["ship_day", "delivery_day"],
        raw: true,
        rollups: &["fulfilment_daily"],
        ..table(&FULFILMENT)
    },
    TableInfo {
        raw: true,
        rollups: &["returns_daily"],
        ..dated(&RETURNS)
    },
    TableInfo {
        raw: true,
        rollups: &["refunds_daily"],
        ..dated(&REFUNDS)
    },
    dated(&CAPACITY),
    TableInfo {
        raw: true,
        rollups: &["feedback_daily"],
        ..dated(&FEEDBACK)
    },
    dated(&DAILY_VALUES),
];

/// The name of every data table, in [`TABLES`] order.
pub fn data_tables() -> impl DoubleEndedIterator<Item = &'static str> {
    TABLES.iter().map(|t| t.spec.name)
}

/// The tables with a day column.
pub fn dated_tables() -> impl Iterator<Item = &'static str> {
    TABLES
        .iter()
        .filter(|t| !t.days.is_empty())
        .map(|t| t.spec.name)
}

/// A dated table's name and the day column that says how fresh it is.
pub fn freshness_columns() -> impl Iterator<Item = (&'static str, &'static str)> {
    TABLES
        .iter()
        .filter_map(|t| t.days.first().map(|d| (t.spec.name, *d)))
}

/// The tables whose rows grow with the orders.
pub fn raw_tables() -> impl Iterator<Item = &'static str> {
    TABLES.iter().filter(|t| t.raw).map(|t| t.spec.name)
}

/// Each daily rollup and the dated table whose rows it sums.
pub fn rollups() -> impl Iterator<Item = (&'static str, &'static str)> {
    TABLES
        .iter()
        .flat_map(|t| t.rollups.iter().map(|r| (*r, t.spec.name)))
}

/// The columns that date a rollup's rows, as (table, column): every day a rollup can hold
/// is a day of one of these.
pub fn rollup_day_sources() -> impl Iterator<Item = (&'static str, &'static str)> {
    TABLES
        .iter()
        .filter(|t| !t.rollups.is_empty())
        .flat_map(|t| t.days.iter().map(|d| (t.spec.name, *d)))
}

/// The tables `dawnpost import` accepts, by name.
pub fn importable() -> impl Iterator<Item = &'static TableSpec> {
    TABLES.iter().filter(|t| t.importable).map(|t| t.spec)
}

/// An importable table by its name.
pub fn spec(name: &str) -> Option<&'static TableSpec> {
    importable().find(|t| t.name == name)
}

pub fn column_index(spec: &TableSpec, name: &str) -> usize {
    spec.columns
        .iter()
        .position(|c| c.name == name)
        .unwrap_or_else(|| panic!("{} has no column {name}", spec.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_and_reference_names_a_column() {
        for spec in TABLES.iter().map(|t| t.spec) {
            for k in spec.key {
                column_index(spec, k);
            }
            for (c, _, _) in spec.refs {
                column_index(spec, c);
            }
        }
    }

    /// The lists drawn from the registry are the lists the house had before it.
    #[test]
    fn the_registry_gives_each_list_of_tables() {
        let v = |i: &mut dyn Iterator<Item = &'static str>| i.collect::<Vec<_>>();
        assert_eq!(
            v(&mut dated_tables()),
            [
                "orders",
                "traffic",
                "ad_spend",
                "inventory",
                "fulfilment",
                "returns",
                "refunds",
                "capacity",
                "feedback",
                "daily_values"
            ]
        );
        assert_eq!(
            v(&mut raw_tables()),
            [
                "orders",
                "order_lines",
                "fulfilment",
                "returns",
                "refunds",
                "feedback"
            ]
        );
        assert_eq!(
            rollups().collect::<Vec<_>>(),
            [
                ("order_daily", "orders"),
                ("sales_daily", "orders"),
                ("channel_daily", "orders"),
                ("fulfilment_daily", "fulfilment"),
                ("returns_daily", "returns"),
                ("refunds_daily", "refunds"),
                ("feedback_daily", "feedback"),
            ]
        );
        assert_eq!(
            rollup_day_sources().collect::<Vec<_>>(),
            [
                ("orders", "day"),
                ("fulfilment", "ship_day"),
                ("fulfilment", "delivery_day"),
                ("returns", "day"),
                ("refunds", "day"),
                ("feedback", "day"),
            ]
        );
        assert_eq!(importable().count(), 13);
        assert!(spec("campaign_skus").is_none() && spec("campaigns").is_some());
        assert_eq!(
            freshness_columns().find(|(t, _)| *t == "fulfilment"),
            Some(("fulfilment", "ship_day"))
        );
    }

    /// Every day column named is a column of its table.
    #[test]
    fn every_day_column_is_a_column() {
        for t in &TABLES {
            for d in t.days {
                column_index(t.spec, d);
            }
        }
    }
}
