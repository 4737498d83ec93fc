//! Shopify (placeholder until its fixtures land).
