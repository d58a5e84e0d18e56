"""The KSQL language: grammar, parser, syntax tree, SQL types, statement splitting."""
