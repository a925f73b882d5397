"""SQL compilation: point-in-time joins and latest values, as sqlglot expressions per dialect."""
