"""The analytics marts: dbt on DuckDB over the compacted Delta tables, published for readers."""
