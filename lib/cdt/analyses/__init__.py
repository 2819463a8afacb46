"""Analysis glue: library calls combined into the tables and numbers of one figure group (one module per notebook)."""
