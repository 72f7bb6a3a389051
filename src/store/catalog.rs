//! Catalog queries: items, inbox files, the reception register, purges.
